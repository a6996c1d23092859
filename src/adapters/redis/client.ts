import { type ChainableCommander, Cluster, Redis } from 'ioredis';
import { type Config, redisNodes } from '../../config/config.js';
import { CryptolambdaError } from '../../core/errors.js';

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
          ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
        },
      },
    );
  } else {
    redis = new Redis(config.redisUrl, {
      ...common,
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: opts.retry ? (times) => Math.min(times * 200, 2000) : () => null,
    });
  }
  // Without a listener ioredis prints unhandled 'error' events to stderr.
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new CryptolambdaError(
      'REDIS_UNREACHABLE',
      `cannot reach Redis at ${config.redisUrl}`,
      'start the local stack with `cryptolambda stack up`, or set CRYPTOLAMBDA_REDIS_URL',
      { cause: err },
    );
  }
  return redis;
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
