import { readFileSync } from 'node:fs';
import { type ChainableCommander, Cluster, Redis } from 'ioredis';
import { type Config, redactUrl, redisNodes } from '../../config/config.js';
import { CryptolambdaError } from '../../core/errors.js';
import { maskSecrets } from '../../core/redact.js';

/** A connection to a single Redis or to a Redis Cluster (the same commands; keys carry hash tags). */
export type RedisConn = Redis | Cluster;

/**
 * A Redis connection that fails fast with one clear error instead of ioredis's default of
 * retrying forever with an offline queue (which makes a CLI hang when Redis is down). A URL list
 * (`redis://a:7001,redis://b:7002,...`) connects to a Redis Cluster through those seed nodes.
 */
export const connectRedis = async (
  config: Config,
  opts: { name?: string; retry?: boolean } = {},
): Promise<RedisConn> => {
  const nodes = redisNodes(config);
  const common = {
    connectionName: opts.name ?? config.clientId,
    maxRetriesPerRequest: opts.retry ? 20 : 1,
    connectTimeout: 3000,
  };
  // rediss:// turns TLS on; a private CA is added here (a missing file fails before connecting).
  const ca = config.redisTlsCa ? [readCa(config.redisTlsCa)] : undefined;
  let redis: RedisConn;
  if (nodes.length > 1) {
    const first = new URL(nodes[0]!);
    redis = new Cluster(
      nodes.map((u) => {
        const url = new URL(u);
        return { host: url.hostname, port: Number(url.port || 6379) };
      }),
      {
        lazyConnect: true,
        enableOfflineQueue: false,
        clusterRetryStrategy: opts.retry ? (times) => Math.min(times * 200, 2000) : () => null,
        redisOptions: {
          ...common,
          ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
          ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
          ...(first.protocol === 'rediss:' ? { tls: ca ? { ca } : {} } : {}),
        },
      },
    );
  } else {
    redis = new Redis(config.redisUrl, {
      ...common,
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: opts.retry ? (times) => Math.min(times * 200, 2000) : () => null,
      ...(ca ? { tls: { ca } } : {}),
    });
  }
  // Without a listener ioredis prints unhandled 'error' events to stderr. The last one is kept:
  // a refused AUTH arrives here (WRONGPASS) while connect() only rejects "Connection is closed".
  let lastError: unknown;
  redis.on('error', (e) => {
    lastError = e;
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new CryptolambdaError(
      'REDIS_UNREACHABLE',
      maskSecrets(`cannot reach Redis at ${redactUrl(config.redisUrl)}${authFailure(lastError ?? err)}`),
      'start the local stack with `cryptolambda stack up`, or set CRYPTOLAMBDA_REDIS_URL',
      { cause: err },
    );
  }
  return redis;
};

const readCa = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CryptolambdaError(
      'INVALID_CONFIG',
      `CRYPTOLAMBDA_REDIS_TLS_CA: cannot read ${file}`,
      'point it at a PEM file',
      {
        cause: err,
      },
    );
  }
};

/** Say why when Redis answered but refused the credentials (ACL user, AUTH password). */
const authFailure = (err: unknown): string => {
  const msg = String((err as { message?: string }).message ?? '');
  return /WRONGPASS|NOAUTH|invalid password|invalid username/i.test(msg) ? ': the user or password was refused' : '';
};

/**
 * Every key matching a pattern: SCAN on a single Redis, SCAN on every master of a cluster (a
 * cluster's SCAN covers only the node it is sent to).
 */
export const scanKeys = async (
  redis: RedisConn,
  pattern: string,
  onBatch: (keys: string[]) => Promise<void>,
): Promise<void> => {
  const nodes: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await onBatch(keys);
    } while (cursor !== '0');
  }
};

/** SCAN pattern of every key under a prefix (built from the validated topic prefix; glob characters escaped anyway). */
export const prefixPattern = (prefix: string): string => `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;

/** Some key under `prefix`, or undefined: an emptiness check that stops at the first hit. */
export const firstKey = async (redis: RedisConn, prefix: string): Promise<string | undefined> => {
  const pattern = prefixPattern(prefix);
  const nodes: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) return keys[0];
      cursor = next;
    } while (cursor !== '0');
  }
  return undefined;
};

export const redisVersion = async (redis: RedisConn): Promise<string> => {
  const info = await (redis instanceof Cluster ? redis.nodes('master')[0]! : redis).info('server');
  return /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
};

/**
 * A pipeline for reads that span partitions (hash tags): a real pipeline on a single Redis (one round
 * trip); on a cluster, where one pipeline must stay on one node, the same queued commands sent in
 * parallel, with the pipeline's `[error, value]` results in queue order.
 */
export const crossSlotPipeline = (redis: RedisConn): ChainableCommander => {
  if (!(redis instanceof Cluster)) return redis.pipeline();
  const calls: [string, unknown[]][] = [];
  const target = redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const proxy: ChainableCommander = new Proxy({} as ChainableCommander, {
    get: (_t, prop: string) =>
      prop === 'exec'
        ? () =>
            Promise.all(
              calls.map(([m, args]) =>
                target[m]!.apply(redis, args).then(
                  (v) => [null, v],
                  (e: unknown) => [e, null],
                ),
              ),
            )
        : (...args: unknown[]) => {
            calls.push([prop, args]);
            return proxy;
          },
  });
  return proxy;
};
