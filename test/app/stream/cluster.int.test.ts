import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connectRedis, type RedisConn, scanKeys } from '../../../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../../src/adapters/redis/speed-keys.js';
import { RedisTickerSource } from '../../../src/adapters/redis/ticker-source.js';
import { runIngestRaw } from '../../../src/app/batch/ingest-raw.js';
import { runBatch } from '../../../src/app/batch/run-batch.js';
import { openServing } from '../../../src/app/serving/context.js';
import { getPortfolio } from '../../../src/app/serving/portfolio.js';
import { reconcile } from '../../../src/app/serving/reconcile.js';
import type { Config } from '../../../src/config/config.js';
import { userPartition } from '../../../src/core/partitioning.js';
import { BIN } from '../../support/cli.js';
import { datasetProducer, datasetSize, makeDataset, produceDataset, sliceDataset } from '../../support/events.js';
import { startCluster, stopCluster } from '../../support/redis-cluster.js';
import { dumpKeyspace, RUN_SPECIFIC, storedOffsets } from '../../support/redis-dump.js';
import { runStreamToIdle, streamTestConfig } from '../../support/stream.js';

/**
 * The speed layer on a real 3-master Redis Cluster (Debian's redis-server in cluster mode, started
 * by scripts/redis-cluster.sh on this agent's own ports): every checkpoint is one fenced atomic
 * script on one slot per partition, readers find users by the producer's murmur2 partitioning.
 */
let url = '';
beforeAll(() => {
  url = startCluster();
}, 60_000);
afterAll(() => stopCluster());

const START = Date.UTC(2026, 10, 24, 10, 0);

/** A test namespace (topics + keyspace, removed afterwards) on the cluster. */
const setup = (extra: Record<string, string> = {}): Promise<Config> => streamTestConfig({ redisUrl: url, ...extra });

/** Every key of the keyspace grouped by hash tag: each group is one slot; the groups span every master. */
const slotLayout = async (redis: RedisConn, keyspace: string) => {
  const cluster = redis as Cluster;
  const slots = new Map<string, Set<number>>();
  const nodes = new Set<string>();
  for (const node of cluster.nodes('master')) {
    await scanKeys(node, `${keyspace}*`, async (keys) => {
      for (const key of keys) {
        const tag = /\{(p\d\d)\}/.exec(key)?.[1] ?? 'untagged';
        const slot = (await node.cluster('KEYSLOT', key)) as number;
        slots.set(tag, (slots.get(tag) ?? new Set()).add(slot));
        nodes.add(`${node.options.port}`);
      }
    });
  }
  return { slots, nodes };
};

describe('speed layer on a real Redis Cluster (3 masters)', () => {
  it('kill -9 mid-stream on the cluster and restart: the state equals an uninterrupted run; one slot per partition', async () => {
    const d = makeDataset({ seed: 11, start: START, minutes: 20, users: 40 });
    const total = datasetSize(d);
    const clean = await setup();
    const crashed = await setup();
    await produceDataset(clean, d);
    await runStreamToIdle(clean);
    expect(clean.redisUrl.split(',')).toHaveLength(3);

    const redis = await connectRedis(crashed);
    onTestFinished(() => redis.disconnect());
    expect(redis).toBeInstanceOf(Cluster);
    const ks = keyspaceFor(crashed.topicPrefix);
    const checkpointed = async () => Object.values(await storedOffsets(redis, ks)).reduce((a, v) => a + Number(v), 0);
    const producer = await datasetProducer(crashed);
    const SLICES = 20;
    let slice = 0;
    let atKill = 0;
    try {
      const child = spawn(process.execPath, [BIN, 'stream', '--checkpoint-ms', '100', '--session-timeout', '6000'], {
        env: {
          ...process.env,
          CRYPTOLAMBDA_TOPIC_PREFIX: crashed.topicPrefix,
          CRYPTOLAMBDA_REDIS_URL: url,
          NO_COLOR: '1',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString('utf8');
      });
      const exited = new Promise((r) => child.once('exit', (code, signal) => r(signal ?? code)));
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const done = await checkpointed();
        if (done >= total / 2) break;
        if (slice < SLICES && done >= Math.round((total * (slice - 1)) / SLICES)) {
          await producer.produce(sliceDataset(d, slice / SLICES, (slice + 1) / SLICES));
          slice++;
        } else await new Promise((r) => setTimeout(r, 20));
      }
      child.kill('SIGKILL');
      expect({ exit: await exited, stderr }).toEqual({ exit: 'SIGKILL', stderr: expect.any(String) });
      atKill = await checkpointed();
      expect(atKill).toBeGreaterThanOrEqual(total / 2);
      expect(atKill).toBeLessThan(total);
      await producer.produce(sliceDataset(d, slice / SLICES, 1));
    } finally {
      await producer.close();
    }
    const resumed = await runStreamToIdle(crashed);
    expect(resumed.records).toBe(total - atKill);

    const skip = [...RUN_SPECIFIC, /^stream:offsets:/];
    const a = await dumpKeyspace(redis, keyspaceFor(clean.topicPrefix), skip);
    const b = await dumpKeyspace(redis, ks, skip);
    expect(Object.keys(a).length).toBeGreaterThan(100);
    expect(b).toEqual(a);

    const layout = await slotLayout(redis, ks);
    expect(layout.nodes.size).toBe(3);
    for (const [tag, slots] of layout.slots) if (tag !== 'untagged') expect(slots.size, tag).toBe(1);
    // The only untagged key is the workers' status hash (not written by a checkpoint).
    expect(layout.slots.get('untagged')?.size ?? 0).toBeLessThanOrEqual(1);
  }, 180_000);

  it('reconcile is clean on the cluster and portfolio finds a user by its murmur2 partition', async () => {
    const lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-cluster-'));
    onTestFinished(() => rmSync(lakeDir, { recursive: true, force: true }));
    const config = await setup({ lakeDir });
    const D = '2026-11-24';
    const data = makeDataset({ seed: 5, start: START, minutes: 20, users: 15 });
    await produceDataset(config, data);
    await runStreamToIdle(config);
    await runIngestRaw(config);
    await runBatch(config, { date: D });
    const ctx = await openServing(config);
    try {
      const r = await reconcile(ctx, D);
      expect(r.summary).toMatchObject({ fieldsMismatched: 0, missingInBatch: 0, missingInSpeed: 0, clean: true });
      expect(r.summary.users).toBe(new Set([...data.transactions, ...data.rewards].map((e) => e.userId)).size);
      const user = data.transactions[0]!.userId;
      const k = speedKeys(keyspaceFor(config.topicPrefix));
      expect(k.positions(user)).toContain(`{p0${userPartition(user)}}`);
      const p = await getPortfolio(ctx, user);
      expect(p.lines.length).toBeGreaterThan(0);
      expect(p.tier).not.toBeNull();
      // The ticker reads across every partition's tag: all symbols, and a live (price) watermark.
      const ticker = new RedisTickerSource(ctx.speed!.redis, { keyspace: keyspaceFor(config.topicPrefix), user });
      const snap = await ticker.snapshot();
      expect(snap.symbols).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
      expect(snap.watermarks.length).toBeGreaterThan(0);
      expect(snap.user?.positions.length).toBe(p.lines.length);
    } finally {
      ctx.close();
    }
  }, 180_000);
});
