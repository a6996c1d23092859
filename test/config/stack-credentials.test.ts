import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { javaClientProperties } from '../../src/adapters/kafka/client.js';
import { resolveConfig } from '../../src/config/config.js';
import {
  credentialsPath,
  ensureKafkaStackCredentials,
  ensureStackCredentials,
  readStackCredentials,
} from '../../src/config/stack-credentials.js';
import { maskSecrets } from '../../src/core/redact.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the local stack credentials', () => {
  it('are generated once, stored 0600 under a 0700 dir, and picked up by every resolved config', () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'cl-creds-'));
    dirs.push(stateDir);
    const env = { CRYPTOLAMBDA_STATE_DIR: stateDir, CRYPTOLAMBDA_REDIS_URL: 'redis://127.0.0.1:26379/0' };
    expect(resolveConfig({}, env).redisUrl).toBe('redis://127.0.0.1:26379/0');
    const c = ensureStackCredentials(stateDir, '127.0.0.1', 26379);
    expect(c.redis.user).toBe('cryptolambda');
    expect(c.redis.password.length).toBeGreaterThanOrEqual(32);
    expect(ensureStackCredentials(stateDir, '127.0.0.1', 26379)).toEqual(c);
    expect(statSync(credentialsPath(stateDir)).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(credentialsPath(stateDir))).mode & 0o777).toBe(0o700);

    const url = resolveConfig({}, env).redisUrl;
    expect(url).toBe(`redis://cryptolambda:${c.redis.password}@127.0.0.1:26379/0`);
    // ... and never shown: the registered password is masked anywhere, in or out of a URL.
    expect(maskSecrets(`at ${url}; pw ${c.redis.password}`)).toBe(
      'at redis://cryptolambda:***@127.0.0.1:26379/0; pw ***',
    );
  });

  it('are not added to a URL with its own credentials or pointing at another Redis', () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'cl-creds-'));
    dirs.push(stateDir);
    ensureStackCredentials(stateDir, '127.0.0.1', 26379);
    const own = 'redis://app:theirs-password@127.0.0.1:26379/0';
    expect(resolveConfig({}, { CRYPTOLAMBDA_STATE_DIR: stateDir, CRYPTOLAMBDA_REDIS_URL: own }).redisUrl).toBe(own);
    const other = 'redis://10.0.0.5:6379/0';
    expect(resolveConfig({}, { CRYPTOLAMBDA_STATE_DIR: stateDir, CRYPTOLAMBDA_REDIS_URL: other }).redisUrl).toBe(other);
  });

  it('Kafka: generated once beside the Redis part, and used only for the stack broker without SASL/TLS settings', () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'cl-creds-'));
    dirs.push(stateDir);
    // A state dir from before Kafka was secured: only the Redis part exists.
    const redis = ensureStackCredentials(stateDir, '127.0.0.1', 26379).redis;
    const env = { CRYPTOLAMBDA_STATE_DIR: stateDir, CRYPTOLAMBDA_KAFKA_BROKERS: '127.0.0.1:29092' };
    expect(resolveConfig({}, env).kafkaSaslMechanism).toBe('none');
    const k = ensureKafkaStackCredentials(stateDir, '127.0.0.1', 29092);
    expect(ensureKafkaStackCredentials(stateDir, '127.0.0.1', 29092)).toEqual(k);
    expect(k.password).not.toBe(k.controllerPassword);
    expect(k.password.length).toBeGreaterThanOrEqual(32);
    // The Redis part is kept, and Redis regenerating for a new port keeps the Kafka part.
    expect(readStackCredentials(stateDir)?.redis).toEqual(redis);
    ensureStackCredentials(stateDir, '127.0.0.1', 26380);
    expect(readStackCredentials(stateDir)?.kafka).toEqual(k);
    expect(statSync(credentialsPath(stateDir)).mode & 0o777).toBe(0o600);

    const c = resolveConfig({}, env);
    expect([c.kafkaSaslMechanism, c.kafkaSaslUsername, c.kafkaSaslPassword]).toEqual([
      'scram-sha-256',
      'cryptolambda',
      k.password,
    ]);
    expect(maskSecrets(`auth ${k.password} / ${k.controllerPassword}`)).toBe('auth *** / ***');
    // Explicit settings win: a mechanism (even none), TLS, another broker, several brokers.
    const not = (extra: Record<string, string>) => resolveConfig({}, { ...env, ...extra }).kafkaSaslPassword;
    expect(not({ CRYPTOLAMBDA_KAFKA_SASL_MECHANISM: 'none' })).toBe('');
    expect(not({ CRYPTOLAMBDA_KAFKA_SSL: 'true' })).toBe('');
    expect(not({ CRYPTOLAMBDA_KAFKA_BROKERS: '127.0.0.1:29093' })).toBe('');
    expect(not({ CRYPTOLAMBDA_KAFKA_BROKERS: '127.0.0.1:29092,127.0.0.1:29094' })).toBe('');
    const own = {
      CRYPTOLAMBDA_KAFKA_SASL_MECHANISM: 'plain',
      CRYPTOLAMBDA_KAFKA_SASL_USERNAME: 'app',
      CRYPTOLAMBDA_KAFKA_SASL_PASSWORD: 'their-own-password',
    };
    expect(not(own)).toBe('their-own-password');
    // A new broker port gets new credentials (`stack up` upserts the SCRAM user on the broker).
    expect(ensureKafkaStackCredentials(stateDir, '127.0.0.1', 29095).password).not.toBe(k.password);
  });

  it('Java client properties carry the same security, JAAS values quoted and escaped', () => {
    const base = resolveConfig({}, { CRYPTOLAMBDA_KAFKA_BROKERS: '127.0.0.1:9', CRYPTOLAMBDA_STATE_DIR: tmpdir() });
    expect(javaClientProperties(base)).toContain('security.protocol=PLAINTEXT\n');
    const props = javaClientProperties({
      ...base,
      kafkaSsl: true,
      kafkaSslCa: '/etc/ca.pem',
      kafkaSaslMechanism: 'scram-sha-512',
      kafkaSaslUsername: 'a"b',
      kafkaSaslPassword: 'p\\w"x',
    });
    expect(props).toContain('security.protocol=SASL_SSL\n');
    expect(props).toContain('ssl.truststore.type=PEM\nssl.truststore.location=/etc/ca.pem\n');
    expect(props).toContain('sasl.mechanism=SCRAM-SHA-512\n');
    // JAAS escapes \\ and \" ; java.util.Properties then needs every backslash doubled again.
    expect(props).toContain(
      'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="a\\\\"b" password="p\\\\\\\\w\\\\"x";',
    );
  });
});
