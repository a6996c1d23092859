import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { ensureTopics, withAdmin } from '../../../src/adapters/kafka/client.js';
import { kafkaPaths } from '../../../src/adapters/stack/kafka-node.js';
import { credentialsPath, readStackCredentials, writePrivateFile } from '../../../src/config/stack-credentials.js';
import { runCli } from '../../support/cli.js';
import { cleanupTopicsAfter, testConfig } from '../../support/int.js';

/**
 * The local stack's Kafka is secured by default (stack/kafka-node.ts): SASL/SCRAM-SHA-256 on the
 * client listener with a generated user, the StandardAuthorizer, credentials 0600 in the state
 * dir, picked up by every command without any Kafka setting.
 */
const config = testConfig();
const creds = readStackCredentials(config.stateDir)?.kafka;

/** A bare kafkajs admin (no project code in between): resolves, or rejects with what kafkajs says. */
const tryAdmin = async (sasl?: SASLOptions, brokers = config.kafkaBrokers): Promise<string> => {
  const admin = new Kafka({
    brokers: [...brokers],
    sasl,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return 'listed';
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
};

describe('the local Kafka is secured by default', () => {
  it('has generated SCRAM credentials that every resolved config picks up', () => {
    expect(creds?.mechanism).toBe('scram-sha-256');
    expect(creds?.password.length).toBeGreaterThanOrEqual(32);
    expect(config.kafkaSaslMechanism).toBe('scram-sha-256');
    expect(config.kafkaSaslUsername).toBe(creds?.user);
    expect(config.kafkaSaslPassword).toBe(creds?.password);
  });

  it('refuses an unauthenticated client, a wrong password, and PLAIN as the SCRAM user', async () => {
    // No SASL: the broker closes the connection at the first request past ApiVersions.
    expect(await tryAdmin()).toMatch(/KafkaJSConnection(Closed)?Error/);
    const user = creds!.user;
    expect(await tryAdmin({ mechanism: 'scram-sha-256', username: user, password: 'not-the-password-1234' })).toMatch(
      /KafkaJSSASLAuthenticationError/,
    );
    expect(await tryAdmin({ mechanism: 'scram-sha-512', username: user, password: creds!.password })).toMatch(
      /does not support the requested SASL mechanism/,
    );
    // PLAIN exists for the broker's internal user only; the client password does not work with it.
    expect(await tryAdmin({ mechanism: 'plain', username: user, password: creds!.password })).toMatch(
      /KafkaJSSASLAuthenticationError/,
    );
    // The right one works (the same bare client).
    expect(await tryAdmin({ mechanism: 'scram-sha-256', username: user, password: creds!.password })).toBe('listed');
  });

  it('an explicit `none` wins over the stack credentials, and is refused with one clear error', async () => {
    const anon = testConfig({ kafkaSaslMechanism: 'none' });
    expect(anon.kafkaSaslMechanism).toBe('none');
    await expect(withAdmin(anon, (a) => a.listTopics())).rejects.toMatchObject({
      code: 'BROKER_UNREACHABLE',
      message: expect.stringMatching(/closed the connection/),
      hint: expect.stringMatching(/requires authentication/),
    });
  });

  it('the CLI with no Kafka settings produces and reads back; no password in --debug output', async () => {
    const c = testConfig();
    cleanupTopicsAfter(c);
    await withAdmin(c, (admin) => ensureTopics(admin, c.topicPrefix));
    const env = { CRYPTOLAMBDA_TOPIC_PREFIX: c.topicPrefix, CRYPTOLAMBDA_DEBUG: '1' };
    const produced = await runCli(
      ['produce', 'prices', '--source', 'synthetic', '--count', '30', '--rate', '0', '--json', '--debug'],
      env,
    );
    expect(produced.code, produced.stderr).toBe(0);
    expect(JSON.parse(produced.stdout).produced).toBe(30);
    const listed = await runCli(['topics', 'list', '--json', '--debug'], env);
    expect(listed.code, listed.stderr).toBe(0);
    const prices = JSON.parse(listed.stdout).topics.find(
      (t: { name: string }) => t.name === `${c.topicPrefix}raw.prices`,
    );
    expect(prices.records).toBe(30);
    const shown = await runCli(['config', 'show', '--json'], env);
    expect(shown.code, shown.stderr).toBe(0);
    const show = JSON.parse(shown.stdout);
    expect(show.settings.kafkaSaslMechanism).toBe('scram-sha-256');
    expect(show.settings.kafkaSaslPassword).toBe('****');
    expect(show.sources.kafkaSaslPassword).toMatch(/^stack credentials \(.*stack\.json\)$/);
    for (const out of [produced, listed, shown]) {
      expect(out.stdout + out.stderr).not.toContain(creds!.password);
      expect(out.stdout + out.stderr).not.toContain(creds!.controllerPassword);
    }
  });

  it('a wrong explicit password is one clear line that shows neither password, even with --debug', async () => {
    const wrong = 'wrong-Pa55word-for-the-stack';
    const r = await runCli(['topics', 'list', '--debug'], {
      CRYPTOLAMBDA_KAFKA_SASL_MECHANISM: 'scram-sha-256',
      CRYPTOLAMBDA_KAFKA_SASL_USERNAME: creds!.user,
      CRYPTOLAMBDA_KAFKA_SASL_PASSWORD: wrong,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`refused SASL scram-sha-256 for user "${creds!.user}"`);
    expect(r.stdout + r.stderr).not.toContain(wrong);
    expect(r.stdout + r.stderr).not.toContain(creds!.password);
  });

  it('keeps its credentials and the broker config private (0600 files under a 0700 dir)', () => {
    const p = kafkaPaths(config);
    for (const f of [credentialsPath(config.stateDir), p.clientPropsFile, p.propsFile])
      expect((statSync(f).mode & 0o777).toString(8), f).toBe('600');
    expect((statSync(path.dirname(credentialsPath(config.stateDir))).mode & 0o777).toString(8)).toBe('700');
    // The client properties file is what Kafka's shell tools and JVM clients take (--command-config).
    const props = readFileSync(p.clientPropsFile, 'utf8');
    expect(props).toContain('security.protocol=SASL_PLAINTEXT');
    expect(props).toContain('sasl.mechanism=SCRAM-SHA-256');
    expect(props).toContain(`bootstrap.servers=${config.kafkaBrokers[0]}`);
  });

  it('rotation: new credentials reach an already-formatted broker on the next `stack up`; the old ones are refused', async () => {
    // A second stack of its own (ports 1-3 above this checkout's controller, as secured.int.test.ts).
    const base = Number(process.env.CRYPTOLAMBDA_KAFKA_CONTROLLER_PORT ?? 19093);
    const stateDir = mkdtempSync(path.join(tmpdir(), 'cl-rotate-'));
    const broker = `127.0.0.1:${base + 1}`;
    const env = {
      CRYPTOLAMBDA_STATE_DIR: stateDir,
      CRYPTOLAMBDA_KAFKA_BROKERS: broker,
      CRYPTOLAMBDA_KAFKA_CONTROLLER_PORT: String(base + 2),
      CRYPTOLAMBDA_REDIS_URL: `redis://127.0.0.1:${base + 3}/0`,
    };
    try {
      const up = await runCli(['stack', 'up'], env, 150_000);
      expect(up.code, up.stderr).toBe(0);
      const before = readStackCredentials(stateDir)!;
      // Rotate while it runs: drop the Kafka part of the file (what the runbook says to do).
      writePrivateFile(credentialsPath(stateDir), `${JSON.stringify({ redis: before.redis })}\n`);
      const again = await runCli(['stack', 'up'], env, 150_000);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout + again.stderr).toMatch(/refuses the stack credentials; restarting it/);
      expect(again.stdout + again.stderr).toMatch(/creating the SCRAM user "cryptolambda"/);
      const after = readStackCredentials(stateDir)!;
      expect(after.redis).toEqual(before.redis);
      expect(after.kafka!.password).not.toBe(before.kafka!.password);
      const scram = (password: string): SASLOptions => ({
        mechanism: 'scram-sha-256',
        username: 'cryptolambda',
        password,
      });
      expect(await tryAdmin(scram(before.kafka!.password), [broker])).toMatch(/KafkaJSSASLAuthenticationError/);
      expect(await tryAdmin(scram(after.kafka!.password), [broker])).toBe('listed');
      // The topics of the first `up` survived the restart (same data dir).
      const status = await runCli(['stack', 'status', '--json'], env);
      expect(status.code, status.stdout).toBe(0);
      expect(JSON.parse(status.stdout).topics.every((t: { present: boolean }) => t.present)).toBe(true);
      for (const out of [up, again, status]) expect(out.stdout + out.stderr).not.toContain(after.kafka!.password);
    } finally {
      await runCli(['stack', 'down'], env, 90_000);
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 300_000);
});
