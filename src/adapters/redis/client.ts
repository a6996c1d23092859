import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { type Config, redactUrl } from '../../config/config.js';
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
    // rediss:// turns TLS on in ioredis; a private CA is added here (a missing file fails below).
    ...(config.redisTlsCa ? { tls: { ca: [readCa(config.redisTlsCa)] } } : {}),
  });
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

export const redisVersion = async (redis: Redis): Promise<string> => {
  const info = await redis.info('server');
  return /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
};
