import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { CryptolambdaError } from '../../src/core/errors.js';

const cwd = '/srv/app';

describe('resolveConfig', () => {
  it('defaults point at the local stack on its own ports', () => {
    const c = resolveConfig({}, { HOME: '/home/x' }, cwd);
    expect(c.kafkaBrokers).toEqual(['127.0.0.1:19092']);
    expect(c.redisUrl).toBe('redis://127.0.0.1:16379/0');
    expect(c.stateDir).toBe(path.join(cwd, '.cryptolambda'));
    expect(c.lakeDir).toBe(path.join(cwd, 'lake'));
    expect(c.topicPrefix).toBe('');
    expect(c.kafkaControllerPort).toBe(19093);
  });

  it('env overrides defaults and flags override env', () => {
    const env = { CRYPTOLAMBDA_KAFKA_BROKERS: 'k1:9092, k2:9092', CRYPTOLAMBDA_REDIS_URL: 'redis://r:6380/2' };
    const fromEnv = resolveConfig({}, env, cwd);
    expect(fromEnv.kafkaBrokers).toEqual(['k1:9092', 'k2:9092']);
    expect(fromEnv.redisUrl).toBe('redis://r:6380/2');
    const fromFlag = resolveConfig({ kafkaBrokers: 'flag:1234' }, env, cwd);
    expect(fromFlag.kafkaBrokers).toEqual(['flag:1234']);
    expect(fromFlag.redisUrl).toBe('redis://r:6380/2');
  });

  it('an empty env value falls back to the default instead of erroring', () => {
    expect(resolveConfig({}, { CRYPTOLAMBDA_TOPIC_PREFIX: '' }, cwd).topicPrefix).toBe('');
  });

  it('resolves relative directories against cwd', () => {
    expect(resolveConfig({ stateDir: 'st' }, {}, cwd).stateDir).toBe('/srv/app/st');
  });

  it.each([
    [{ kafkaBrokers: 'nohostport' }, {}, '--kafka-brokers: expected host:port (got "nohostport")'],
    [{}, { CRYPTOLAMBDA_KAFKA_BROKERS: 'h:70000' }, 'CRYPTOLAMBDA_KAFKA_BROKERS: port must be 1-65535 (got "h:70000")'],
    [
      {},
      { CRYPTOLAMBDA_REDIS_URL: 'http://x' },
      'CRYPTOLAMBDA_REDIS_URL: expected redis://host:port[/db] (got "http://x")',
    ],
    [{ topicPrefix: 'a b' }, {}, '--topic-prefix: letters, digits, dot, underscore and dash only (got "a b")'],
  ])('rejects %j %j with a message naming the source', (flags, env, message) => {
    try {
      resolveConfig(flags, env, cwd);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CryptolambdaError);
      expect((e as CryptolambdaError).code).toBe('INVALID_CONFIG');
      expect((e as CryptolambdaError).message).toBe(message);
    }
  });
});
