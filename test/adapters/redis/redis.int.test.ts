import { describe, expect, it, onTestFinished } from 'vitest';
import { connectRedis, redisVersion } from '../../../src/adapters/redis/client.js';
import { CryptolambdaError } from '../../../src/core/errors.js';
import { randomId, testConfig } from '../../support/int.js';

describe('redis adapter on the real server', () => {
  it('round-trips exact decimal strings and commits a MULTI/EXEC atomically', async () => {
    const redis = await connectRedis(testConfig());
    const ns = `test:${randomId()}`;
    onTestFinished(async () => {
      const keys = await redis.keys(`${ns}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    });
    const qty = '0.123456789012345678';
    await redis.set(`${ns}:qty`, qty);
    expect(await redis.get(`${ns}:qty`)).toBe(qty);
    const res = await redis
      .multi()
      .hset(`${ns}:pos`, { quantity: qty, cost: '100.000000000000' })
      .hset(`${ns}:offsets`, { '0': '42' })
      .exec();
    expect(res?.every(([err]) => err === null)).toBe(true);
    expect(await redis.hgetall(`${ns}:pos`)).toEqual({ quantity: qty, cost: '100.000000000000' });
    expect(await redis.hget(`${ns}:offsets`, '0')).toBe('42');
    expect(await redisVersion(redis)).toMatch(/^\d+\.\d+\.\d+$/);
    expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
  });

  it('fails fast with REDIS_UNREACHABLE instead of retrying forever', async () => {
    const t0 = Date.now();
    const err = await connectRedis(testConfig({ redisUrl: 'redis://127.0.0.1:1/0' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CryptolambdaError);
    expect((err as CryptolambdaError).code).toBe('REDIS_UNREACHABLE');
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
