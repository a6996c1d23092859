import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ensureTopics, withAdmin } from '../../../src/adapters/kafka/client.js';
import { TOPICS } from '../../../src/core/topics.js';
import { runCli } from '../../support/cli.js';
import { cleanupTopicsAfter, testConfig } from '../../support/int.js';

describe('pipeline step (built CLI, real Kafka)', () => {
  it('refuses a step whose dependency has not succeeded (exit 7); a failed sensor is in the shared ledger', async () => {
    const lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-step-'));
    onTestFinished(() => rmSync(lakeDir, { recursive: true, force: true }));
    const config = testConfig({ lakeDir });
    cleanupTopicsAfter(config);
    await withAdmin(config, (a) =>
      ensureTopics(a, config.topicPrefix, [TOPICS.prices, TOPICS.transactions, TOPICS.rewards, TOPICS.deadLetter]),
    );
    const env = { CRYPTOLAMBDA_LAKE_DIR: lakeDir, CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix };
    const early = await runCli(['pipeline', 'step', 'batch', '--date', '2026-01-10'], env);
    expect(early.code).toBe(7);
    expect(early.stderr).toContain('pipeline 2026-01-10: batch blocked by ingest (not succeeded yet)');

    // The sensor on an empty speed layer times out: recorded failed in the shared ledger, exit 7.
    const sensor = await runCli(
      ['pipeline', 'step', 'sensor', '--date', '2026-01-10', '--sensor-timeout', '1s', '--json'],
      env,
    );
    expect(sensor.code).toBe(7);
    expect(JSON.parse(sensor.stdout)).toMatchObject({
      status: 'failed',
      run: { steps: [{ name: 'sensor', status: 'failed' }] },
    });
    const status = await runCli(['pipeline', 'status', '--json'], env);
    expect(status.stdout).toContain('"sensor"');
    const ingest = await runCli(['pipeline', 'step', 'ingest', '--date', '2026-01-10'], env);
    expect(ingest.code).toBe(7);
    expect(ingest.stderr).toContain('ingest blocked by sensor');

    const bad = await runCli(['pipeline', 'step', 'compile', '--date', '2026-01-10'], env);
    expect(bad.code).toBe(2);
  });
});
