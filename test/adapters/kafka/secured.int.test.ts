import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rangesToEnd, readRanges } from '../../../src/adapters/kafka/bounded-reader.js';
import { ensureTopics, withAdmin } from '../../../src/adapters/kafka/client.js';
import { BatchingProducer } from '../../../src/adapters/kafka/producer.js';
import { resolveConfig } from '../../../src/config/config.js';
import { runCli } from '../../support/cli.js';
import { randomId } from '../../support/int.js';
import { type SecuredBroker, startSecuredBroker } from '../../support/secured.js';

// Own ports, 2 above this checkout's stack (CRYPTOLAMBDA_KAFKA_CONTROLLER_PORT + 1..3).
const base = Number(process.env.CRYPTOLAMBDA_KAFKA_CONTROLLER_PORT ?? 19093);
const ports: [number, number, number] = [base + 1, base + 2, base + 3];
let broker: SecuredBroker;
let dir: string;

const securedEnv = (mechanism: string, user: string, password: string): Record<string, string> => ({
  CRYPTOLAMBDA_KAFKA_BROKERS: `127.0.0.1:${ports[0]}`,
  CRYPTOLAMBDA_KAFKA_SSL: 'true',
  CRYPTOLAMBDA_KAFKA_SSL_CA: broker.ca,
  CRYPTOLAMBDA_KAFKA_SASL_MECHANISM: mechanism,
  CRYPTOLAMBDA_KAFKA_SASL_USERNAME: user,
  CRYPTOLAMBDA_KAFKA_SASL_PASSWORD: password,
  CRYPTOLAMBDA_TOPIC_PREFIX: `s${randomId()}.`,
});

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cl-sasl-'));
  broker = await startSecuredBroker(resolveConfig({}, process.env), dir, ports);
}, 120_000);

afterAll(async () => {
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Kafka over SASL_SSL with a private CA', () => {
  it.each([
    ['scram-sha-512', () => broker.users.scram],
    ['plain', () => broker.users.plain],
  ])('%s: creates topics, produces idempotently and reads back', async (mechanism, user) => {
    const [name, password] = user();
    const config = resolveConfig({}, securedEnv(mechanism, name, password));
    const topic = `${config.topicPrefix}secured`;
    await withAdmin(config, (admin) =>
      ensureTopics(admin, config.topicPrefix, [{ name: 'secured', partitions: 2, key: 'k', description: 'test' }]),
    );
    const producer = await BatchingProducer.connect(config);
    await producer.push(topic, [
      { key: 'a', value: Buffer.from('one') },
      { key: 'b', value: Buffer.from('two') },
    ]);
    await producer.disconnect();
    const seen: string[] = [];
    const ranges = await rangesToEnd(config, [topic], () => undefined);
    await readRanges(config, `g-${randomId()}`, ranges, async (records) => {
      for (const r of records) seen.push(String(r.value));
    });
    expect(seen.sort()).toEqual(['one', 'two']);
  });

  it('a wrong password is one clear line that never shows the password, even with --debug', async () => {
    const wrong = 'not-the-Pa55word';
    const r = await runCli(['stack', 'check', '--debug'], securedEnv('scram-sha-512', 'alice', wrong), 60_000);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('refused SASL scram-sha-512 for user "alice"');
    expect(r.stdout + r.stderr).not.toContain(wrong);
    expect(r.stdout + r.stderr).not.toContain(broker.users.scram[1]);
  });

  it('refuses the broker when the CA is not trusted (no silent downgrade)', async () => {
    const { CRYPTOLAMBDA_KAFKA_SSL_CA: _ca, ...env } = securedEnv('scram-sha-512', ...broker.users.scram);
    const config = resolveConfig({}, env);
    await expect(withAdmin(config, (a) => a.describeCluster())).rejects.toThrow(/cannot reach Kafka/);
  });
});
