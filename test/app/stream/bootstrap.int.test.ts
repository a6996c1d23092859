import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { readManifest } from '../../../src/adapters/lake/manifest.js';
import { connectRedis } from '../../../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../../src/adapters/redis/speed-keys.js';
import { runIngestRaw } from '../../../src/app/batch/ingest-raw.js';
import { runBatch } from '../../../src/app/batch/run-batch.js';
import { deleteKeyspace } from '../../../src/app/stream/run-stream.js';
import type { Config } from '../../../src/config/config.js';
import { topicName } from '../../../src/core/topics.js';
import { bootstrapComparableState } from '../../support/bootstrap-state.js';
import { runCli } from '../../support/cli.js';
import { datasetSize, makeDataset, produceDataset, sliceDataset } from '../../support/events.js';
import { deleteRecordsBefore, testConfig } from '../../support/int.js';
import { servingSetup, streamToIdle } from '../../support/serving-stack.js';
import { streamTestConfig } from '../../support/stream.js';

const DAY1 = '2026-11-23';
const DAY2 = '2026-11-24';

const cliEnv = (config: Config) => ({
  CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix,
  CRYPTOLAMBDA_LAKE_DIR: config.lakeDir,
});

const speedState = (config: Config) => bootstrapComparableState(config, DAY1);

describe('stream --bootstrap-from-batch (rebuild the speed layer once Kafka expired the history)', () => {
  it('Redis wiped after retention: seeded from the batch of day 1, it equals a speed layer that never lost anything, and reconcile of day 2 is clean', async () => {
    const config = await servingSetup('cl-bootstrap-');
    const d = makeDataset({ seed: 31, start: Date.UTC(2026, 10, 23, 23, 30), minutes: 60, users: 40 });
    const head = sliceDataset(d, 0, 0.7);
    const tail = sliceDataset(d, 0.7, 1);
    await produceDataset(config, head);
    // The batch lands day 1 and part of day 2 in the lake, and builds day 1.
    const ingested = await runIngestRaw(config);
    expect(ingested.records).toBe(datasetSize(head));
    await runBatch(config, { date: DAY1 });
    await produceDataset(config, tail);

    // The reference: a speed layer over the whole log, never lost.
    await streamToIdle(config);
    const reference = await speedState(config);
    expect(Object.keys(reference).filter((k) => k.startsWith('pos:')).length).toBe(40);

    // Retention deletes everything the raw zone covered; then Redis is lost.
    const m = await readManifest(config.lakeDir);
    for (const t of ['prices', 'transactions', 'rewards'] as const) {
      const topic = topicName(config.topicPrefix, t);
      const covered = new Map(Object.entries(m.offsets[topic] ?? {}).map(([p, o]) => [Number(p), BigInt(o)]));
      expect(covered.size).toBeGreaterThan(0);
      await deleteRecordsBefore(config, topic, covered);
    }
    const redis = await connectRedis(config);
    await deleteKeyspace(redis, keyspaceFor(config.topicPrefix));
    redis.disconnect();
    // What the runbook used to say is no repair any more: the logs no longer hold day 1.
    const fromLogs = await runCli(['stream', '--exit-when-idle', '1s'], cliEnv(config), 60_000);
    expect(fromLogs.code).toBe(10);
    const r2 = await connectRedis(config);
    await deleteKeyspace(r2, keyspaceFor(config.topicPrefix));
    r2.disconnect();

    const boot = await runCli(
      ['stream', '--bootstrap-from-batch', '--exit-when-idle', '1s', '--json'],
      cliEnv(config),
      180_000,
    );
    expect(boot.code, boot.stderr).toBe(0);
    const out = JSON.parse(boot.stdout) as {
      bootstrap: { date: string; users: number; userEvents: number; prices: number; partitions: unknown[] };
      stoppedBy: string;
    };
    expect(out.bootstrap).toMatchObject({ date: DAY1 });
    expect(out.bootstrap.partitions).toHaveLength(6);
    const day1Users = new Set(
      [...d.transactions, ...d.rewards].filter((e) => e.eventTime < Date.UTC(2026, 10, 24)).map((e) => e.userId),
    ).size;
    expect(out.bootstrap.users).toBe(day1Users);
    // The raw zone's day-2 events were replayed; the rest came from Kafka.
    const headDay2 = [...head.transactions, ...head.rewards].filter((e) => e.eventTime >= Date.UTC(2026, 10, 24));
    expect(out.bootstrap.userEvents).toBe(headDay2.length);
    expect(out.bootstrap.prices).toBe(head.prices.length);

    expect(await speedState(config)).toEqual(reference);

    // A second bootstrap onto the rebuilt keyspace is refused (one line, exit 6) unless --force.
    const again = await runCli(['stream', '--bootstrap-from-batch'], cliEnv(config));
    expect(again.code).toBe(6);
    expect(again.stderr).toMatch(/keyspace .* is not empty/);

    // The batch builds day 2 from the rest of the log; the rebuilt speed layer reconciles clean.
    await runIngestRaw(config);
    await runBatch(config, { date: DAY2 });
    const rec = await runCli(['reconcile', '--date', DAY2, '--json'], cliEnv(config));
    expect(rec.code, rec.stdout + rec.stderr).toBe(0);
    const report = JSON.parse(rec.stdout) as { summary: { clean: boolean; users: number; fieldsMismatched: number } };
    expect(report.summary).toMatchObject({ clean: true, fieldsMismatched: 0, missingInBatch: 0, missingInSpeed: 0 });
    expect(report.summary.users).toBeGreaterThan(30);
  }, 300_000);

  it('a bootstrap that died half way leaves its marker: stream refuses to start on the partial state', async () => {
    const config = await streamTestConfig();
    const redis = await connectRedis(config);
    await redis.set(
      speedKeys(keyspaceFor(config.topicPrefix)).bootstrapMarker(),
      JSON.stringify({ date: DAY1, startedAt: '2026-11-24T01:00:00.000Z', pid: 1 }),
    );
    redis.disconnect();
    const r = await runCli(['stream', '--exit-when-idle', '1s'], cliEnv(config));
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/a bootstrap from the batch did not finish .*: the speed layer's state is partial/);
  });

  it('refuses without a build, with exit 5 and one line', async () => {
    const config = testConfig({ lakeDir: mkdtempSync(path.join(tmpdir(), 'cl-bootstrap-empty-')) });
    onTestFinished(() => rmSync(config.lakeDir, { recursive: true, force: true }));
    const r = await runCli(['stream', '--bootstrap-from-batch'], cliEnv(config));
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/no warehouse build to bootstrap the speed layer from/);
  });
});
