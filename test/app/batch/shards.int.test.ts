import { existsSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Duck, literal } from '../../../src/adapters/duckdb/db.js';
import { commitManifest, type LakeFile, type Manifest, readManifest } from '../../../src/adapters/lake/manifest.js';
import {
  type SnapshotFile,
  shardPlan,
  streamShardUsers,
  userTopicPartitions,
} from '../../../src/adapters/lake/raw-zone-reader.js';
import { readShardBuilds } from '../../../src/adapters/lake/shard-store.js';
import { WarehouseReader } from '../../../src/adapters/lake/warehouse-reader.js';
import { readLedger } from '../../../src/adapters/lake/warehouse-store.js';
import { runIngestRaw } from '../../../src/app/batch/ingest-raw.js';
import { shardLockPath } from '../../../src/app/batch/lake-lock.js';
import { runBatch } from '../../../src/app/batch/run-batch.js';
import { compactRawZone } from '../../../src/app/ingest.js';
import { acquireLock } from '../../../src/app/pipeline/lock.js';
import type { DomainEvent } from '../../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../../../src/core/money/decimal.js';
import { type UserStateJson, WINDOW_PART } from '../../../src/core/speed/user-ledger.js';
import { WAREHOUSE_TABLES } from '../../../src/core/warehouse/schema.js';
import { partitionOf, type ShardSpec, shardOfPartition } from '../../../src/core/warehouse/shard.js';
import { runCli } from '../../support/cli.js';
import { makeDataset } from '../../support/events.js';
import { batchSetup, dumpTable, produceEvents, withWarehouse } from './support.js';

const D1 = '2026-01-10';
const D2 = '2026-01-11';

/** Every warehouse table as sorted text rows (shards write rows in other files and orders). */
const dumpSorted = (lakeDir: string) =>
  withWarehouse(lakeDir, async (duck) => {
    const out: Record<string, string[]> = {};
    for (const t of WAREHOUSE_TABLES) {
      if (t.name === 'fact_reconciliation') continue;
      out[t.name] = (await dumpTable(duck, t.name).catch(() => [])).map((r) => JSON.stringify(r)).sort();
    }
    return out;
  });

/** The raw files a shard's reader opens (what it passes to read_parquet), for dates up to `upTo`. */
const filesOpened = async (lakeDir: string, m: Manifest, shard: ShardSpec, upTo = D1): Promise<string[]> => {
  const duck = await Duck.open();
  let opened: string[] = [];
  try {
    await streamShardUsers(
      duck,
      lakeDir,
      m,
      {
        snapshotFiles: [],
        eventDates: upTo === D1 ? (dt) => dt <= D1 : (dt) => dt === upTo,
        date: upTo,
        shard,
        latenessMs: 86_400_000,
        onRawFiles: (f) => {
          opened = f.map((x) => x.path);
        },
      },
      // Stop at the first user: only the files the read opened matter here.
      { begin: () => false, event: () => undefined, invalid: () => undefined, end: () => undefined },
    );
    return opened;
  } finally {
    duck.close();
  }
};

/** The per-user tables a shard reads of the previous date. */
const PREVIOUS = ['snapshot_user_state', 'fact_lot_daily', 'snapshot_user_window'];

/**
 * What a shard reads of D1's build for D2 (events of `eventDates`): the previous files it opens and
 * every user it is handed with what it starts from (state, open lots, window parts).
 */
const previousRead = async (
  lakeDir: string,
  m: Manifest,
  files: readonly (SnapshotFile & { table: string })[],
  shard: ShardSpec,
  eventDates: (dt: string) => boolean,
): Promise<{ opened: number; users: string[] }> => {
  const duck = await Duck.open();
  let opened = -1;
  const users: string[] = [];
  try {
    await streamShardUsers(
      duck,
      lakeDir,
      m,
      {
        snapshotFiles: files.filter((f) => f.table === 'snapshot_user_state'),
        lotFiles: files.filter((f) => f.table === 'fact_lot_daily'),
        windowFiles: files.filter((f) => f.table === 'snapshot_user_window'),
        eventDates,
        date: D2,
        shard,
        latenessMs: 86_400_000,
        onPreviousFiles: (n) => {
          opened = n;
        },
      },
      {
        begin: (userId, stateJson, lots, window) => {
          const row = [userId, stateJson, lots === undefined ? null : [...lots], window ?? null];
          users.push(JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
          return true;
        },
        event: () => undefined,
        invalid: () => undefined,
        end: () => undefined,
      },
    );
    return { opened, users };
  } finally {
    duck.close();
  }
};

/** Rewrite the user-topic files as an older ingest did: one file per (table, dt), no partition index. */
const unindexUserFiles = async (lakeDir: string): Promise<void> => {
  const m = await readManifest(lakeDir);
  const duck = await Duck.open();
  try {
    const groups = new Map<string, LakeFile[]>();
    for (const f of m.files.filter((x) => x.table !== 'prices'))
      groups.set(`${f.table}|${f.dt}`, [...(groups.get(`${f.table}|${f.dt}`) ?? []), f]);
    const legacy: LakeFile[] = [];
    for (const g of groups.values()) {
      const rel = `raw/${g[0]!.table}/dt=${g[0]!.dt}/part-legacy.parquet`;
      const list = g.map((f) => literal(path.join(lakeDir, f.path))).join(', ');
      await duck.run(
        `COPY (SELECT * FROM read_parquet([${list}])) TO ${literal(path.join(lakeDir, rel))} (FORMAT parquet)`,
      );
      const { partition: _p, ...first } = g[0]!;
      legacy.push({
        ...first,
        path: rel,
        rows: g.reduce((a, f) => a + f.rows, 0),
        commit: Math.max(...g.map((f) => f.commit)),
        minEventTime: Math.min(...g.map((f) => f.minEventTime)),
        maxEventTime: Math.max(...g.map((f) => f.maxEventTime)),
      });
    }
    await commitManifest(lakeDir, { ...m, files: [...m.files.filter((f) => f.table === 'prices'), ...legacy] });
  } finally {
    duck.close();
  }
};

const shuffled = <T>(xs: readonly T[], seed: number): T[] => {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

/**
 * A heavy user: more event ids and card spends in its windows than one stored part (WINDOW_PART),
 * so its snapshot keeps them apart as snapshot_user_window parts, in every shard layout.
 */
const heavyUser = (): DomainEvent[] => {
  const out: DomainEvent[] = [];
  const start = Date.UTC(2026, 0, 10, 23, 0, 2);
  const times = [
    ...Array.from({ length: 1300 }, (_, i) => start + i * 2500),
    ...Array.from({ length: 120 }, (_, i) => Date.UTC(2026, 0, 11, 0, 0, 1) + i * 1000),
  ];
  for (const [i, eventTime] of times.entries())
    out.push({
      kind: 'transaction',
      eventId: `heavy-${i}`,
      userId: 'u-heavy',
      type: i % 2 === 0 ? 'buy' : 'card_spend',
      asset: 'BTC',
      quantity: Decimal.parse(i % 2 === 0 ? '0.01' : '0.004', QTY_SCALE),
      price: Decimal.parse('43000', PRICE_SCALE),
      fee: Decimal.parse('0.5', USD_SCALE),
      feeAsset: 'USD',
      eventTime,
    });
  return out;
};

describe('batch shards by user (issue 16)', { timeout: 600_000 }, () => {
  it('every fact table equals the one-shard build, for random shard counts, in-process or as N processes + publish', async () => {
    const config = await batchSetup();
    const data = makeDataset({ seed: 16, start: Date.UTC(2026, 0, 10, 23, 0), minutes: 90, users: 60 });
    // Arrival order differs from event order: the producer sends a shuffled stream.
    const events: DomainEvent[] = shuffled([...data.prices, ...data.transactions, ...data.rewards, ...heavyUser()], 16);
    await produceEvents(config, events);
    const ingest = await runIngestRaw(config);
    expect(ingest.dates).toEqual([D1, D2]);
    const m0 = await readManifest(config.lakeDir);
    const partitions = userTopicPartitions(m0);
    expect(partitions).toBeGreaterThan(1);
    // User-topic files hold one Kafka partition each, indexed in the manifest and named for it.
    const userFiles = m0.files.filter((f) => f.table !== 'prices');
    expect(userFiles.length).toBeGreaterThan(partitions);
    for (const f of userFiles)
      expect(f.path).toMatch(new RegExp(`^raw/${f.table}/dt=${f.dt}/part-\\d+-p${f.partition}-`));
    expect(new Set(userFiles.map((f) => f.partition)).size).toBe(partitions);
    // A shard's reader is handed only its partitions' files: N shards open disjoint sets covering all.
    for (const n of [2, 3]) {
      const opened: string[][] = [];
      for (let i = 0; i < n; i++) opened.push(await filesOpened(config.lakeDir, m0, { index: i, of: n }));
      // By the plan balanced on the partitions' events (every shard derives the same one).
      const plan = shardPlan(m0, (dt) => dt <= D1, n);
      expect(new Set(plan).size).toBe(n);
      for (const [i, list] of opened.entries())
        for (const p of list) expect(shardOfPartition(m0.files.find((f) => f.path === p)!.partition!, n, plan)).toBe(i);
      expect(opened.flat().sort()).toEqual(
        userFiles
          .filter((f) => f.dt <= D1)
          .map((f) => f.path)
          .sort(),
      );
    }

    const one1 = await runBatch(config, { date: D1, shards: 1 });
    expect(one1.shards).toBe(1);
    const base1 = await dumpSorted(config.lakeDir);
    const one2 = await runBatch(config, { date: D2, shards: 1 });
    const base2 = await dumpSorted(config.lakeDir);
    expect(one2.fromHistory).toBe(false);
    expect(base2.fact_portfolio_daily!.length).toBeGreaterThan(50);
    // The heavy user's windows are stored apart on both dates (parts of both kinds), nobody else's.
    for (const [rows, d] of [
      [base1, D1],
      [base2, D2],
    ] as const) {
      const parts = rows
        .snapshot_user_window!.map((r) => JSON.parse(r) as Record<string, string>)
        .filter((r) => r.date === d);
      expect(new Set(parts.map((r) => r.user_id))).toEqual(new Set(['u-heavy']));
      expect(new Set(parts.map((r) => r.kind))).toEqual(new Set(['recent', 'spends']));
      expect(parts.length).toBeGreaterThan(2);
    }
    // Readers put the parts back inline: a lookup and the streamed states give the whole state.
    const stored = base2
      .snapshot_user_state!.map((r) => JSON.parse(r) as Record<string, string>)
      .find((r) => r.date === D2 && r.user_id === 'u-heavy')!;
    const apart = (JSON.parse(stored.state_json!) as UserStateJson).windowApart!;
    expect(apart.recent).toBeGreaterThan(WINDOW_PART / 2);
    const reader = await WarehouseReader.open(config.lakeDir);
    try {
      const got = (await reader.snapshot('u-heavy', D2))!;
      expect(got.windowApart).toBeUndefined();
      expect(got.recent).toHaveLength(apart.recent);
      expect(got.tier.spends).toHaveLength(apart.spends);
      expect(new Set(got.recent.map(([id]) => id)).size).toBe(apart.recent);
      const streamed: UserStateJson[] = [];
      for await (const x of reader.snapshotStates(D2, (u) => u === 'u-heavy')) streamed.push(x.state);
      expect(streamed).toEqual([got]);
    } finally {
      reader.close();
    }

    // Any shard count, D1 from history and D2 from D1's (sharded) snapshot with another count; a
    // shard writes its staged rows as one part per table or as many parts (a few users each).
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 2, max: 6 }),
        fc.constantFrom(undefined, 4096),
        async (n1, n2, partBytes) => {
          const r1 = await runBatch(config, { date: D1, shards: n1, inline: true, partBytes });
          expect(r1.shards).toBe(Math.min(n1, userTopicPartitions(await readManifest(config.lakeDir))));
          expect(r1.users).toBe(one1.users);
          const r2 = await runBatch(config, { date: D2, shards: n2, inline: true, partBytes });
          expect(r2.fromHistory).toBe(false);
          expect(await dumpSorted(config.lakeDir)).toEqual(base2);
          // Small parts: each shard wrote several files of a table, all of them published.
          if (partBytes !== undefined) {
            const parts = (await readLedger(config.lakeDir)).builds[D2]!.files.filter(
              (f) => f.table === 'snapshot_user_state',
            );
            expect(parts.length).toBeGreaterThan(n2);
          }
        },
      ),
      // Two random runs plus one that always writes small parts (the suite's time budget).
      { numRuns: 2, examples: [[3, 2, 4096]] },
    );
    // D1 again after D2: not the newest build, dims untouched, facts as the one-shard D1.
    await runBatch(config, { date: D1, shards: 3, inline: true });
    const again = await dumpSorted(config.lakeDir);
    for (const t of ['fact_portfolio_daily', 'fact_reward_daily', 'snapshot_user_state', 'batch_rejects'])
      expect(again[t]!.filter((r) => r.includes(D1))).toEqual(base1[t]!.filter((r) => r.includes(D1)));

    // A sharded build's per-user files say whose rows they hold (its partitions of the user topics),
    // and a next-date shard opens only those that can hold its users: it is handed the same users,
    // states, lots and window parts as when it reads every file.
    const d1Files = (await readLedger(config.lakeDir)).builds[D1]!.files.filter((f) => PREVIOUS.includes(f.table));
    expect(new Set(d1Files.map((f) => f.table))).toEqual(new Set(PREVIOUS));
    const m2 = await readManifest(config.lakeDir);
    const plan1 = shardPlan(m2, (dt) => dt <= D1, 3);
    await withWarehouse(config.lakeDir, async (duck) => {
      for (const f of d1Files) {
        expect(f.users?.of).toBe(partitions);
        // Every user of the file is of the file's partitions, which are one shard's of D1's plan.
        const ids = await duck.rows<{ u: string }>(
          `SELECT DISTINCT user_id AS u FROM read_parquet(${literal(path.join(config.lakeDir, f.path))})`,
        );
        for (const { u } of ids) expect(f.users!.partitions).toContain(partitionOf(u, partitions));
        expect(new Set(f.users!.partitions.map((p) => plan1[p])).size).toBe(1);
      }
    });
    const unmarked = d1Files.map(({ users: _u, ...f }) => f);
    for (const [n, dates] of [
      [3, (dt: string) => dt <= D1],
      [2, (dt: string) => dt === D2],
    ] as const) {
      let opened = 0;
      for (let i = 0; i < n; i++) {
        const shard = { index: i, of: n };
        const skip = await previousRead(config.lakeDir, m2, d1Files, shard, dates);
        const all = await previousRead(config.lakeDir, m2, unmarked, shard, dates);
        expect(all.opened).toBe(d1Files.length);
        expect(skip.users).toEqual(all.users);
        expect(skip.users.length).toBeGreaterThan(0);
        opened += skip.opened;
      }
      // With D1's own plan, each shard opens exactly its own files of D1: together, each file once.
      if (n === 3) expect(opened).toBe(d1Files.length);
    }

    // An older lake (user files holding several partitions, no index) still shards correctly, and
    // `ingest --compact` splits its files per partition.
    await unindexUserFiles(config.lakeDir);
    expect(await filesOpened(config.lakeDir, await readManifest(config.lakeDir), { index: 0, of: 2 })).toHaveLength(
      (await readManifest(config.lakeDir)).files.filter((f) => f.table !== 'prices' && f.dt <= D1).length,
    );
    await runBatch(config, { date: D1, shards: 2, inline: true });
    await runBatch(config, { date: D2, shards: 3, inline: true });
    expect(await dumpSorted(config.lakeDir)).toEqual(base2);
    const compacted = await compactRawZone(config);
    expect(compacted.partitions).toBeGreaterThan(0);
    const m1 = await readManifest(config.lakeDir);
    for (const f of m1.files.filter((x) => x.table !== 'prices')) expect(f.partition).toBeTypeOf('number');
    expect(m1.files.filter((f) => f.table !== 'prices').reduce((a, f) => a + f.rows, 0)).toBe(
      userFiles.reduce((a, f) => a + f.rows, 0),
    );
    await runBatch(config, { date: D2, shards: 2, inline: true });
    expect(await dumpSorted(config.lakeDir)).toEqual(base2);

    // The many-machines contract through the built CLI: shard processes, then one publish.
    const env = { CRYPTOLAMBDA_LAKE_DIR: config.lakeDir };
    const s0 = await runCli(['batch', '--date', D2, '--shard', '0/3', '--json'], env);
    expect(s0.code).toBe(0);
    expect(JSON.parse(s0.stdout).shard.shard).toEqual({ index: 0, of: 3 });
    expect(JSON.parse(s0.stdout).shard.rawFiles).toBe(
      (await filesOpened(config.lakeDir, await readManifest(config.lakeDir), { index: 0, of: 3 }, D2)).length,
    );
    const built = (await readLedger(config.lakeDir)).builds[D1]!.files.filter((f) => PREVIOUS.includes(f.table));
    expect(JSON.parse(s0.stdout).shard.previousFiles).toBeGreaterThan(0);
    expect(JSON.parse(s0.stdout).shard.previousFiles).toBeLessThanOrEqual(built.length);
    const missing = await runCli(['batch', 'publish', '--date', D2], env);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`Error: cannot publish ${D2}: shards 1/3, 2/3 missing`);
    const [s1, s2] = await Promise.all([
      runCli(['batch', '--date', D2, '--shard', '1/3'], env),
      runCli(['batch', '--date', D2, '--shard', '2/3'], env),
    ]);
    expect([s1.code, s2.code]).toEqual([0, 0]);
    expect(s1.stdout).toMatch(new RegExp(`^${D2} shard 1/3: \\d+ users`));
    // Re-running a shard replaces it.
    expect((await runCli(['batch', '--date', D2, '--shard', '1/3'], env)).code).toBe(0);
    const pub = await runCli(['batch', 'publish', '--date', D2, '--json'], env);
    expect(pub.code).toBe(0);
    expect(JSON.parse(pub.stdout)).toMatchObject({ date: D2, shards: 3, users: one2.users });
    expect(await dumpSorted(config.lakeDir)).toEqual(base2);
    expect((await readLedger(config.lakeDir)).builds[D2]!.stats.shards).toBe(3);

    // A shard built before the raw zone moved is stale: publish refuses it.
    const t0 = await runCli(['batch', '--date', D2, '--shard', '0/2'], env);
    const t1 = await runCli(['batch', '--date', D2, '--shard', '1/2'], env);
    expect([t0.code, t1.code]).toEqual([0, 0]);
    await produceEvents(config, [{ ...data.transactions.at(-1)!, eventId: 'late-1' }]);
    await runIngestRaw(config);
    const stale = await runCli(['batch', 'publish', '--date', D2], env);
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toMatch(
      /Error: cannot publish 2026-01-11: shard 0\/2 read raw-zone commit \d+, the raw zone is at commit \d+/,
    );

    // One run per shard: while shard 1/2 of D2 is being built (here: held by this process), a second
    // run of it is refused with one line naming the owner; shard 0/2 runs at the same time.
    const held = await acquireLock(shardLockPath(config.lakeDir, D2, { index: 1, of: 2 }), 'a running shard', {
      leaseMs: 60_000,
    });
    const [dup, other] = await Promise.all([
      runCli(['batch', '--date', D2, '--shard', '1/2'], env),
      runCli(['batch', '--date', D2, '--shard', '0/2'], env),
    ]);
    // Publish does not list the files of a shard that is being built again.
    const busy = await runCli(['batch', 'publish', '--date', D2], env);
    expect(busy.code).toBe(6);
    expect(busy.stderr).toContain(`Error: cannot publish ${D2}: shard 1/2 is being built (pid ${process.pid} on `);
    await held.release();
    expect(other.code).toBe(0);
    expect(dup.code).toBe(6);
    expect(dup.stderr.trim().split('\n')[0]).toMatch(
      new RegExp(
        `^Error: shard 1/2 of ${D2} is already being built \\(pid ${process.pid} on .+, a running shard, since `,
      ),
    );
    // Two processes of the same shard at once: whichever comes second while the first runs is
    // refused; both finishing means they ran one after the other. Either way one record, whole.
    const race = await Promise.all([0, 1].map(() => runCli(['batch', '--date', D2, '--shard', '1/2', '--json'], env)));
    expect(race.map((r) => r.code).sort()).toSatisfy((c: number[]) => c.join() === '0,0' || c.join() === '0,6');
    const kept = (await readShardBuilds(config.lakeDir, D2)).filter((b) => b.shard.of === 2 && b.shard.index === 1);
    expect(kept).toHaveLength(1);
    for (const f of [...kept[0]!.files, kept[0]!.tierFile])
      expect(existsSync(path.join(config.lakeDir, f.path))).toBe(true);

    // `batch --date D --shards 2` runs the shards as child processes and publishes once.
    const full = await runCli(['batch', '--date', D2, '--shards', '2', '--json'], env);
    expect(full.code).toBe(0);
    expect(JSON.parse(full.stdout).dates[0]).toMatchObject({ shards: 2, events: one2.events + 1 });
  });
});
