import { describe, expect, it } from 'vitest';
import { ensureTopics, withAdmin } from '../../../src/adapters/kafka/client.js';
import { readManifest } from '../../../src/adapters/lake/manifest.js';
import type { Config } from '../../../src/config/config.js';
import { partitionFor } from '../../../src/core/partitioning.js';
import { ALL_TOPICS, TOPICS, topicName } from '../../../src/core/topics.js';
import { bootstrapComparableState } from '../../support/bootstrap-state.js';
import { runCli } from '../../support/cli.js';
import { datasetSize, makeDataset, produceDataset, sliceDataset } from '../../support/events.js';
import { lakeTestConfig } from '../../support/serving-stack.js';

/**
 * docs/runbook.md "Repartitioning", followed step by step through the CLI on the real stack. The
 * incident of issue 15: the user topics were created with 2 partitions and later grown to 6 (what
 * `stack up` used to do), so every user's events before the growth sit on murmur2 % 2 and after it
 * on murmur2 % 6: the speed layer's partitions miss part of their users' history. The procedure
 * (stop, ingest, `topics recreate`, batch the last complete day, bootstrap, resume) must end with a
 * speed layer equal to that of a deployment that had 6 partitions from the start, `reconcile`
 * clean for the day after the cutoff, and the same portfolios.
 */
const DAY1 = '2026-11-23';
const DAY2 = '2026-11-24';
const USER_TOPICS = ['transactions', 'rewards'] as const;

const lakeConfig = (tag: string): Config => lakeTestConfig(`cl-repart-${tag}-`);

const cli = (config: Config) => {
  const env = { CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix, CRYPTOLAMBDA_LAKE_DIR: config.lakeDir };
  return async (args: string[], expectCode = 0) => {
    const r = await runCli(args, env, 240_000);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(expectCode);
    return r;
  };
};

/** What `portfolio --json` serves for a user, without the fields that say when it was asked or built. */
const servedPortfolio = async (run: ReturnType<typeof cli>, user: string) => {
  const out = JSON.parse((await run(['portfolio', user, '--json'])).stdout) as {
    freshness?: Record<string, unknown>;
  };
  const { now: _n, priceAgeMs: _p, batchBuiltAt: _b, ...freshness } = out.freshness ?? {};
  return { ...out, freshness };
};

describe('repartitioning (docs/runbook.md), step by step through the CLI', () => {
  it('user topics grown from 2 to 6 partitions: after the procedure the speed layer equals one that always had 6, reconcile of the next day is clean, portfolios are the same', async () => {
    const d = makeDataset({ seed: 53, start: Date.UTC(2026, 10, 23, 23, 0), minutes: 90, users: 40 });
    const early = sliceDataset(d, 0, 0.45); // on the 2-partition topics (day 1 and a little of day 2)
    const grown = sliceDataset(d, 0.45, 0.7); // after the growth to 6 partitions
    const after = sliceDataset(d, 0.7, 1); // produced once the procedure is done

    // The reference: 6 partitions from the start, the same events, the same commands. It shares
    // nothing with the broken deployment below, so it is built meanwhile (awaited before comparing).
    const ref = lakeConfig('ref');
    const refCli = cli(ref);
    const reference = (async () => {
      await withAdmin(ref, (a) => ensureTopics(a, ref.topicPrefix));
      await produceDataset(ref, early);
      await produceDataset(ref, grown);
      await refCli(['ingest']);
      await refCli(['batch', '--date', DAY1, '--shards', '2']);
      await produceDataset(ref, after);
      await refCli(['stream', '--exit-when-idle', '1s']);
    })();
    // Reported where it is awaited, not as an unhandled rejection if the steps below fail first.
    reference.catch(() => undefined);

    // The broken deployment: user topics pre-created with 2 partitions, grown to 6 later.
    const cfg = lakeConfig('broken');
    const run = cli(cfg);
    await withAdmin(cfg, (a) =>
      a.createTopics({
        topics: ALL_TOPICS.map((s) => ({
          topic: `${cfg.topicPrefix}${s.name}`,
          numPartitions: s === TOPICS.transactions || s === TOPICS.rewards ? 2 : s.partitions,
          replicationFactor: 1,
        })),
      }),
    );
    await produceDataset(cfg, early);
    await withAdmin(cfg, (a) =>
      a.createPartitions({
        topicPartitions: USER_TOPICS.map((t) => ({ topic: topicName(cfg.topicPrefix, t), count: 6 })),
      }),
    );
    await produceDataset(cfg, grown);
    // The count matches the contract now, but users' history is split over the wrong partitions.
    const misplaced = early.transactions.filter((e) => partitionFor(e.userId, 2) !== partitionFor(e.userId, 6));
    expect(misplaced.length).toBeGreaterThan(0);
    await run(['stream', '--exit-when-idle', '1s']);

    // Step 1: producers and stream workers are stopped (the stream above exited).
    // Recreating before the raw zone holds everything is refused, with nothing deleted.
    const early2 = await run(['topics', 'recreate', '--yes'], 6);
    expect(early2.stderr).toMatch(
      /the raw zone lacks records the topics hold: .*raw\.\w+\[\d\] \d+ \(offsets 0\.\.\d+\)/,
    );
    expect(early2.stderr).toMatch(/Hint: stop the producers, run `cryptolambda ingest`/);
    // Step 2: the raw zone takes everything the topics hold.
    await run(['ingest']);
    // Step 3: delete and recreate the user topics from the contract; check first, then --yes.
    const check = await run(['topics', 'recreate', '--json']);
    expect(JSON.parse(check.stdout)).toMatchObject({ dryRun: true });
    const rec = await run(['topics', 'recreate', '--yes', '--json']);
    const recreated = JSON.parse(rec.stdout) as { topics: { topic: string; partitions: number; records: number }[] };
    expect(recreated.topics.map((t) => t.partitions)).toEqual([6, 6, 6]);
    expect(recreated.topics.reduce((a, t) => a + t.records, 0)).toBe(datasetSize(early) + datasetSize(grown));
    const m = await readManifest(cfg.lakeDir);
    for (const t of ['prices', 'transactions', 'rewards'] as const)
      expect(Object.values(m.offsets[topicName(cfg.topicPrefix, t)] ?? {})).toEqual(['0', '0', '0', '0', '0', '0']);
    expect(m.recreated?.map((r) => r.previousPartitions)).toEqual([6, 6, 6]);
    // Step 4: the batch builds the last complete day (sharded: the old topics' rows are kept by user).
    await run(['batch', '--date', DAY1, '--shards', '2']);
    // Step 5: rebuild the speed layer from the batch under the new partitioning (wipes the keyspace).
    await run(['stream', '--bootstrap-from-batch', '--force', '--exit-when-idle', '1s']);
    // Step 6: restart the producers; the workers stream the new topics from offset 0.
    await produceDataset(cfg, after);
    await run(['stream', '--exit-when-idle', '1s']);

    // The speed layer equals the one that always had 6 partitions (offsets aside: other topics).
    await reference;
    const skip = (s: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(s).filter(([k]) => !k.startsWith('stream:offsets:')));
    const [a, b] = [await bootstrapComparableState(ref, DAY1), await bootstrapComparableState(cfg, DAY1)];
    expect(Object.keys(a).filter((k) => k.startsWith('pos:')).length).toBe(40);
    expect(skip(b)).toEqual(skip(a));

    // The same users get the same portfolios: the batch of day 1 plus the speed layer after it...
    // (The two deployments share nothing: each user's two reads run side by side.)
    const users = [...new Set(d.transactions.map((e) => e.userId))].slice(0, 4);
    const bothServe = async () => {
      const out = [];
      for (const u of users) out.push(await Promise.all([servedPortfolio(run, u), servedPortfolio(refCli, u)]));
      return out;
    };
    for (const [i, [served, want]] of (await bothServe()).entries()) {
      expect((served.freshness as { speedEvents: number }).speedEvents, users[i]).toBeGreaterThan(0);
      expect(served, users[i]).toEqual(want);
    }

    // Step 7: the next day reconciles clean, and the portfolios stay the same once it is built.
    await Promise.all(
      [refCli, run].map(async (c) => {
        await c(['ingest']);
        await c(['batch', '--date', DAY2, '--shards', '2']);
      }),
    );
    const recon = JSON.parse((await run(['reconcile', '--date', DAY2, '--json'])).stdout) as {
      summary: Record<string, unknown>;
    };
    expect(recon.summary).toMatchObject({ clean: true, fieldsMismatched: 0, missingInBatch: 0, missingInSpeed: 0 });
    for (const [i, [served, want]] of (await bothServe()).entries()) expect(served, users[i]).toEqual(want);
  }, 600_000);
});
