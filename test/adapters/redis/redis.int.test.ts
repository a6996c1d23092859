import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connectRedis, redisVersion } from '../../../src/adapters/redis/client.js';
import { CryptolambdaError } from '../../../src/core/errors.js';
import { runCli } from '../../support/cli.js';
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

  it('the local stack is secured: no anonymous access, and the ACL user cannot reconfigure or wipe Redis', async () => {
    // A state dir without the stack's credentials: the URL has no user or password.
    const anon = testConfig({ stateDir: mkdtempSync(path.join(tmpdir(), 'cl-anon-')) });
    expect(new URL(anon.redisUrl).password).toBe('');
    await expect(connectRedis(anon)).rejects.toMatchObject({ code: 'REDIS_UNREACHABLE' });
    const config = testConfig();
    expect(new URL(config.redisUrl).username).toBe('cryptolambda');
    const redis = await connectRedis(config);
    onTestFinished(() => redis.disconnect());
    await expect(redis.config('SET', 'requirepass', 'x')).rejects.toThrow(/NOPERM/);
    await expect(redis.flushall()).rejects.toThrow(/NOPERM/);
    // State, data and logs of the stack are private to its user.
    for (const d of [config.stateDir, path.join(config.stateDir, 'redis'), path.join(config.stateDir, 'logs')])
      expect((statSync(d).mode & 0o777).toString(8)).toBe('700');
    const creds = path.join(config.stateDir, 'credentials', 'stack.json');
    expect((statSync(creds).mode & 0o777).toString(8)).toBe('600');
  });

  it('never prints a password from the URL, not even with --debug', async () => {
    const r = await runCli(['stream', 'status', '--debug', '--redis-url', 'redis://app:s3cret-Pa55word@127.0.0.1:1/0']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('cannot reach Redis at redis://app:***@127.0.0.1:1/0');
    expect(r.stderr + r.stdout).not.toContain('s3cret-Pa55word');
  });
});
