import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { readManifest } from '../../../src/adapters/lake/manifest.js';
import { connectRedis, scanKeys } from '../../../src/adapters/redis/client.js';
import { keyspaceFor } from '../../../src/adapters/redis/speed-keys.js';
import { runIngestRaw } from '../../../src/app/batch/ingest-raw.js';
import { runBatch } from '../../../src/app/batch/run-batch.js';
import { deleteKeyspace } from '../../../src/app/stream/run-stream.js';
import { topicName } from '../../../src/core/topics.js';
import { bootstrapComparableState } from '../../support/bootstrap-state.js';
import { runCli } from '../../support/cli.js';
import { datasetSize, makeDataset, produceDataset, sliceDataset } from '../../support/events.js';
import { deleteRecordsBefore } from '../../support/int.js';
import { startCluster, stopCluster } from '../../support/redis-cluster.js';
import { servingSetup } from '../../support/serving-stack.js';
import { runStreamToIdle } from '../../support/stream.js';

/**
 * `stream --bootstrap-from-batch` into a real 3-master Redis Cluster (scripts/redis-cluster.sh),
 * seeding partitions concurrently: each partition's fenced commits go to its own {pNN} slot, so
 * concurrent partitions write to different masters without cross-slot scripts. Mirrors
 * bootstrap.int.test.ts (Kafka's records of the raw zone deleted, the keyspace wiped) on the cluster.
 */
let url = '';
beforeAll(() => {
  url = startCluster();
}, 60_000);
afterAll(() => stopCluster());

const DAY1 = '2026-11-23';
const DAY2 = '2026-11-24';

describe('stream --bootstrap-from-batch on a real Redis Cluster (3 masters), partitions in parallel', () => {
  it('seeded 3 partitions at a time into the cluster, it equals a speed layer that never lost anything; one slot per partition; reconcile of day 2 clean', async () => {
    const config = await servingSetup('cl-boot-cluster-', { redisUrl: url });
    const env = {
      CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix,
      CRYPTOLAMBDA_LAKE_DIR: config.lakeDir,
      CRYPTOLAMBDA_REDIS_URL: url,
    };
    const d = makeDataset({ seed: 47, start: Date.UTC(2026, 10, 23, 23, 30), minutes: 60, users: 48 });
    const head = sliceDataset(d, 0, 0.7);
    const tail = sliceDataset(d, 0.7, 1);
    await produceDataset(config, head);
    expect((await runIngestRaw(config)).records).toBe(datasetSize(head));
    await runBatch(config, { date: DAY1 });
    await produceDataset(config, tail);

    // The reference: a speed layer over the whole log on the same cluster, never lost.
    await runStreamToIdle(config, { exitWhenIdleMs: 2000, speed: { userIdleMs: 800 } });
    const reference = await bootstrapComparableState(config, DAY1);
    expect(Object.keys(reference).filter((k) => k.startsWith('pos:')).length).toBe(48);

    // Retention deletes what the raw zone covered; the cluster's keyspace is lost.
    const m = await readManifest(config.lakeDir);
    for (const t of ['prices', 'transactions', 'rewards'] as const) {
      const topic = topicName(config.topicPrefix, t);
      await deleteRecordsBefore(
        config,
        topic,
        new Map(Object.entries(m.offsets[topic] ?? {}).map(([p, o]) => [Number(p), BigInt(o)])),
      );
    }
    const redis = await connectRedis(config);
    onTestFinished(() => redis.disconnect());
    expect(redis).toBeInstanceOf(Cluster);
    await deleteKeyspace(redis, keyspaceFor(config.topicPrefix));

    const boot = await runCli(
      ['stream', '--bootstrap-from-batch', '--bootstrap-concurrency', '3', '--exit-when-idle', '1s', '--json'],
      env,
      180_000,
    );
    expect(boot.code, boot.stderr).toBe(0);
    const out = JSON.parse(boot.stdout) as {
      bootstrap: { date: string; users: number; partitions: { partition: number }[] };
    };
    expect(out.bootstrap.date).toBe(DAY1);
    // Results in partition order whatever order the concurrent partitions finished in.
    expect(out.bootstrap.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3, 4, 5]);

    expect(await bootstrapComparableState(config, DAY1)).toEqual(reference);

    // Every {pNN} tag is one slot, and the partitions' slots live on all three masters.
    const tags = new Map<string, Set<number>>();
    const masters = new Set<number>();
    for (const node of (redis as Cluster).nodes('master'))
      await scanKeys(node, `${keyspaceFor(config.topicPrefix)}*`, async (keys) => {
        for (const key of keys) {
          const tag = /\{(p\d\d)\}/.exec(key)?.[1];
          if (tag === undefined) continue;
          tags.set(tag, (tags.get(tag) ?? new Set()).add((await node.cluster('KEYSLOT', key)) as number));
          masters.add(node.options.port!);
        }
      });
    expect([...tags.keys()].sort()).toEqual(['p00', 'p01', 'p02', 'p03', 'p04', 'p05']);
    for (const [tag, slots] of tags) expect(slots.size, tag).toBe(1);
    expect(masters.size).toBe(3);

    // The batch builds day 2 from the rest of the log; the rebuilt speed layer reconciles clean.
    await runIngestRaw(config);
    await runBatch(config, { date: DAY2 });
    const rec = await runCli(['reconcile', '--date', DAY2, '--json'], env);
    expect(rec.code, rec.stdout + rec.stderr).toBe(0);
    const report = JSON.parse(rec.stdout) as { summary: Record<string, unknown> };
    expect(report.summary).toMatchObject({ clean: true, fieldsMismatched: 0, missingInBatch: 0, missingInSpeed: 0 });
    expect(report.summary.users).toBeGreaterThan(30);
  }, 300_000);
});
