import { type RedisConn as Redis, scanKeys } from '../../src/adapters/redis/client.js';

/**
 * Every key under a keyspace with its value in a canonical form (hash fields, set members and zset
 * entries sorted), so two runs' Redis states can be compared with one deep equality.
 */
export const dumpKeyspace = async (
  redis: Redis,
  keyspace: string,
  exclude: RegExp[] = [],
): Promise<Record<string, unknown>> => {
  const out: Record<string, unknown> = {};
  const keys: string[] = [];
  await scanKeys(redis, `${keyspace}*`, async (batch) => {
    keys.push(...batch);
  });
  for (const key of keys.sort()) {
    const rel = key.slice(keyspace.length);
    if (exclude.some((re) => re.test(rel))) continue;
    const type = await redis.type(key);
    if (type === 'string') out[rel] = await redis.get(key);
    else if (type === 'hash') out[rel] = Object.fromEntries(Object.entries(await redis.hgetall(key)).sort());
    else if (type === 'set') out[rel] = (await redis.smembers(key)).sort();
    else if (type === 'zset') out[rel] = await redis.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'list') out[rel] = await redis.lrange(key, 0, -1);
  }
  return out;
};

/** Worker-specific bookkeeping that legitimately differs between runs (ids, epochs, metrics). */
export const RUN_SPECIFIC = [/^stream:status$/, /^stream:epoch:/, /^stream:outbox:/];

/** The runtime's stored next offsets (topic|n -> offset) of every partition, merged. */
export const storedOffsets = async (redis: Redis, keyspace: string): Promise<Record<string, string>> => {
  const out: Record<string, string> = {};
  const keys: string[] = [];
  await scanKeys(redis, `${keyspace}stream:offsets:*`, async (batch) => {
    keys.push(...batch);
  });
  for (const key of keys) Object.assign(out, await redis.hgetall(key));
  return out;
};
