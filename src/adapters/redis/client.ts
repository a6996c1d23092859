import { Redis } from 'ioredis';
import type { Config } from '../../config/config.js';
import { CryptolambdaError } from '../../core/errors.js';
import { maskSecrets } from '../../core/redact.js';

/**
 * A Redis connection that fails fast with one clear error instead of ioredis's default of
 * retrying forever with an offline queue (which makes a CLI hang when Redis is down).
 */
export const connectRedis = async (config: Config, opts: { name?: string; retry?: boolean } = {}): Promise<Redis> => {
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    connectionName: opts.name ?? config.clientId,
    enableOfflineQueue: false,
    maxRetriesPerRequest: opts.retry ? 20 : 1,
    connectTimeout: 3000,
    retryStrategy: opts.retry ? (times) => Math.min(times * 200, 2000) : () => null,
  });
  // Without a listener ioredis prints unhandled 'error' events to stderr.
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new CryptolambdaError(
      'REDIS_UNREACHABLE',
      maskSecrets(`cannot reach Redis at ${config.redisUrl}`),
      'start the local stack with `cryptolambda stack up`, or set CRYPTOLAMBDA_REDIS_URL',
      { cause: err },
    );
  }
  return redis;
};

export const redisVersion = async (redis: Redis): Promise<string> => {
  const info = await redis.info('server');
  return /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
};
