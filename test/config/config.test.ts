import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { redactUrl, resolveConfig } from '../../src/config/config.js';
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
      'CRYPTOLAMBDA_REDIS_URL: expected redis://host:port[/db] (or a comma-separated list of cluster nodes) (got "http://x")',
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

describe('secured connections', () => {
  it('TLS and SASL come from flags or CRYPTOLAMBDA_* and default to plaintext without auth', () => {
    const d = resolveConfig({}, {}, cwd);
    expect([d.kafkaSsl, d.kafkaSslCa, d.kafkaSaslMechanism, d.redisTlsCa]).toEqual([false, '', 'none', '']);
    const env = {
      CRYPTOLAMBDA_KAFKA_SSL: 'true',
      CRYPTOLAMBDA_KAFKA_SSL_CA: 'certs/ca.pem',
      CRYPTOLAMBDA_KAFKA_SASL_MECHANISM: 'scram-sha-512',
      CRYPTOLAMBDA_KAFKA_SASL_USERNAME: 'svc',
      CRYPTOLAMBDA_KAFKA_SASL_PASSWORD: 's3cret',
    };
    const c = resolveConfig({}, env, cwd);
    expect(c).toMatchObject({
      kafkaSsl: true,
      kafkaSslCa: '/srv/app/certs/ca.pem',
      kafkaSaslMechanism: 'scram-sha-512',
      kafkaSaslUsername: 'svc',
      kafkaSaslPassword: 's3cret',
    });
    expect(resolveConfig({ kafkaSsl: false, kafkaSaslMechanism: 'plain' }, env, cwd)).toMatchObject({
      kafkaSsl: false,
      kafkaSaslMechanism: 'plain',
    });
  });

  it('a mechanism without credentials is one INVALID_CONFIG line', () => {
    expect(() => resolveConfig({ kafkaSaslMechanism: 'plain' }, {}, cwd)).toThrow(
      '--kafka-sasl-mechanism: SASL plain needs a username and a password',
    );
    expect(() => resolveConfig({ kafkaSaslMechanism: 'gssapi' }, {}, cwd)).toThrow(
      '--kafka-sasl-mechanism: expected none, plain, scram-sha-256 or scram-sha-512 (got "gssapi")',
    );
  });

  it('never echoes a password back in an error', () => {
    const bad = (): unknown => {
      try {
        resolveConfig({}, { CRYPTOLAMBDA_REDIS_URL: 'redis://app:hunter2@h:6379/0 x' }, cwd);
      } catch (e) {
        return e;
      }
    };
    const err = bad() as CryptolambdaError;
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).not.toContain('hunter2');
    expect(err.message).toContain('***');
  });

  it('redactUrl hides the password of a Redis URL and keeps the user', () => {
    expect(redactUrl('rediss://app:hunter2@r.example:6380/1')).toBe('rediss://app:***@r.example:6380/1');
    expect(redactUrl('redis://127.0.0.1:6379/0')).toBe('redis://127.0.0.1:6379/0');
  });
});
