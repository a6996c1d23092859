import { assertPartitionContract, retryRetriable, withAdmin } from '../../adapters/kafka/client.js';
import { readManifest } from '../../adapters/lake/manifest.js';
import { priceSymbols, streamPrices, streamUserEventsAfter } from '../../adapters/lake/raw-zone-reader.js';
import { dayRewardsOf, WarehouseReader } from '../../adapters/lake/warehouse-reader.js';
import { CheckpointTx, commitFenced } from '../../adapters/redis/checkpoint-tx.js';
import { connectRedis, firstKey, type RedisConn } from '../../adapters/redis/client.js';
import { keyspaceFor, type SpeedKeys, speedKeys } from '../../adapters/redis/speed-keys.js';
import { RedisSpeedStore } from '../../adapters/redis/speed-store.js';
import type { Config } from '../../config/config.js';
import { mapBounded } from '../../core/bounded.js';
import { CryptolambdaError } from '../../core/errors.js';
import type { UserEvent } from '../../core/events/types.js';
import { partitionFor, SPEED_PARTITIONS } from '../../core/partitioning.js';
import {
  type BootstrapPlan,
  chooseBuild,
  type LogRange,
  planBootstrap,
  priceReplayFrom,
} from '../../core/speed/bootstrap.js';
import { PartitionEngine, USER_TABLES, type UserTable } from '../../core/speed/engine.js';
import { type DayRewards, userFromJson } from '../../core/speed/user-ledger.js';
import { addDays, parseDate } from '../../core/time/date.js';
import { topicName } from '../../core/topics.js';
import { assertNoStreamWorkers, deleteKeyspace } from './run-stream.js';
import { tpField } from './runtime.js';
import type { SpeedOptions } from './speed-handler.js';

export interface BootstrapOptions {
  /** `--date D`: the build to seed from; the latest published build when absent. */
  readonly date?: string;
  /** Delete whatever the prefix's keyspace holds first (otherwise a non-empty keyspace is refused). */
  readonly force?: boolean;
  /** Offsets in neither the raw zone nor Kafka: continue (the stream records the gap) instead of DATA_GAP. */
  readonly acceptGap?: boolean;
  readonly speed: SpeedOptions;
  /** A progress line (stderr) every few seconds of long work and per finished partition. */
  readonly progress?: (line: string) => void;
  readonly progressEveryMs?: number;
  /** Partitions seeded at once (default BOOTSTRAP_CONCURRENCY). */
  readonly concurrency?: number;
}

/**
 * Partitions seeded at once by default. Each partition is independent (its own epoch, its own
 * {pNN} hash slot, its own DuckDB connection), so they overlap Redis round trips with DuckDB scans
 * and JSON decoding; memory holds the users of this many partitions. Three fits the test cluster's
 * three masters and a two-core machine; raise it with --bootstrap-concurrency on a bigger one.
 */
export const BOOTSTRAP_CONCURRENCY = 3;

export interface BootstrapPartition {
  readonly partition: number;
  readonly users: number;
  readonly userEvents: number;
  readonly prices: number;
  /** `topic|n` → the offset the stream resumes at. */
  readonly offsets: Record<string, string>;
}

export interface BootstrapResult {
  readonly date: string;
  readonly buildRawCommit: number;
  readonly manifestCommit: number;
  readonly keysRemoved: number;
  readonly users: number;
  readonly userEvents: number;
  readonly prices: number;
  /** Raw rows the core validators refused (skipped, as the live stream dead-lettered them). */
  readonly invalid: number;
  readonly priceReplayFrom: string | null;
  readonly partitions: BootstrapPartition[];
  readonly seconds: number;
}

/** Users per fenced commit while seeding, events per commit while replaying: bounded script sizes. */
const SEED_CHUNK = 1000;
const REPLAY_CHUNK = 20_000;

/**
 * `stream --bootstrap-from-batch`: rebuild the speed layer's Redis state from the warehouse once
 * Kafka no longer holds the history (docs/runbook.md, "Rebuilding the speed layer from the batch").
 * Per partition n, holding n's fencing epoch like a worker: every user of n from the snapshot of D
 * (through the engine and the store, so the state is exactly what a checkpoint writes and `stream`
 * restores), then the raw zone's user events dated after D and the prices of the candle history in
 * offset order, then n's resume offsets (planBootstrap). Replayed effects (tier changes, dead letters,
 * late trades) are not re-sent: the first pass over those records emitted them. A marker key says a
 * bootstrap is under way; `stream` refuses to start on a half-written one.
 */
export const bootstrapFromBatch = async (config: Config, opts: BootstrapOptions): Promise<BootstrapResult> => {
  const t0 = Date.now();
  const date = opts.date === undefined ? undefined : parseDate(opts.date, '--date');
  const topics = {
    prices: topicName(config.topicPrefix, 'prices'),
    transactions: topicName(config.topicPrefix, 'transactions'),
    rewards: topicName(config.topicPrefix, 'rewards'),
  };
  const [manifest, reader] = [await readManifest(config.lakeDir), await WarehouseReader.open(config.lakeDir)];
  let redis: RedisConn | undefined;
  try {
    // The lake decides first: without a usable build there is nothing to ask Kafka or Redis about.
    const builds = Object.values(reader.ledger.builds);
    chooseBuild({ ...(date === undefined ? {} : { date }), builds, files: manifest.files });
    const logs = await withAdmin(config, async (admin) => {
      await assertPartitionContract(admin, config.topicPrefix);
      const out = new Map<string, Map<number, LogRange>>();
      for (const t of Object.values(topics)) {
        const offs = await retryRetriable(() => admin.fetchTopicOffsets(t));
        out.set(t, new Map(offs.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }])));
      }
      return out;
    });
    const plan = planBootstrap({
      ...(date === undefined ? {} : { date }),
      builds,
      files: manifest.files,
      manifestCommit: manifest.commit,
      offsets: manifest.offsets,
      topics,
      logs,
      partitions: SPEED_PARTITIONS.length,
      ...(opts.acceptGap ? { acceptGap: true } : {}),
    });
    await assertNoStreamWorkers(config, 'bootstrapping from the batch');
    redis = await connectRedis(config);
    const keys = speedKeys(keyspaceFor(config.topicPrefix));
    const present = await firstKey(redis, keys.keyspace);
    let keysRemoved = 0;
    if (present !== undefined) {
      if (!opts.force)
        throw new CryptolambdaError(
          'CONFLICT',
          `the speed layer's keyspace ${keys.keyspace} is not empty (${present}): bootstrap writes into an empty one`,
          'rerun with --force to delete the keyspace first (stop every stream worker of the prefix)',
          { retriable: false },
        );
      keysRemoved = await deleteKeyspace(redis, keys.keyspace);
      opts.progress?.(`stream: bootstrap: keyspace ${keys.keyspace} wiped (${keysRemoved} keys removed)`);
    }
    await redis.set(
      keys.bootstrapMarker(),
      JSON.stringify({ date: plan.date, startedAt: new Date().toISOString(), pid: process.pid }),
    );
    opts.progress?.(
      `stream: bootstrap from the build of ${plan.date} (raw-zone commit ${plan.buildRawCommit}; resuming at manifest commit ${plan.manifestCommit})`,
    );
    const store = new RedisSpeedStore(redis, keys, opts.speed);
    const latestPrice = Math.max(0, ...manifest.files.filter((f) => f.table === 'prices').map((f) => f.maxEventTime));
    const span = Math.max(opts.speed.history['1m'] * 60_000, opts.speed.history['5m'] * 300_000);
    const pricesFrom = latestPrice > 0 ? priceReplayFrom(latestPrice, span) : null;
    const symbols = pricesFrom === null ? [] : await priceSymbols(reader.duck, config.lakeDir, manifest, pricesFrom);
    const ctx: PartitionCtx = {
      config,
      opts,
      plan,
      reader,
      manifest,
      store,
      redis,
      keys,
      pricesFrom,
      symbols,
      counts: { invalid: 0 },
    };
    // Bounded concurrency over the partitions; each holds its own epoch and fenced commits, and reads
    // the lake on its own DuckDB connection. A failure stops new partitions and leaves the marker.
    const partitions = await mapBounded(SPEED_PARTITIONS, opts.concurrency ?? BOOTSTRAP_CONCURRENCY, async (n) => {
      const session = await reader.session();
      try {
        return await bootstrapPartition({ ...ctx, reader: session }, n);
      } finally {
        session.close();
      }
    });
    await redis.del(keys.bootstrapMarker());
    const sum = (f: (p: BootstrapPartition) => number) => partitions.reduce((a, p) => a + f(p), 0);
    return {
      date: plan.date,
      buildRawCommit: plan.buildRawCommit,
      manifestCommit: plan.manifestCommit,
      keysRemoved,
      users: sum((p) => p.users),
      userEvents: sum((p) => p.userEvents),
      prices: sum((p) => p.prices),
      invalid: ctx.counts.invalid,
      priceReplayFrom: pricesFrom,
      partitions,
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    reader.close();
    redis?.disconnect();
  }
};

interface PartitionCtx {
  readonly config: Config;
  readonly opts: BootstrapOptions;
  readonly plan: BootstrapPlan;
  readonly reader: WarehouseReader;
  readonly manifest: Awaited<ReturnType<typeof readManifest>>;
  readonly store: RedisSpeedStore;
  readonly redis: RedisConn;
  readonly keys: SpeedKeys;
  readonly pricesFrom: string | null;
  readonly symbols: readonly { symbol: string; partition: number }[];
  /** Shared by the partitions running at once. */
  readonly counts: { invalid: number };
}

/** The day aggregates of D-2..D of partition n's users (the three days a worker keeps in memory). */
const recentDays = async (ctx: PartitionCtx, n: number): Promise<Map<string, Map<string, DayRewards>>> => {
  const out = new Map<string, Map<string, DayRewards>>();
  const P = SPEED_PARTITIONS.length;
  for (const d of [addDays(ctx.plan.date, -2), addDays(ctx.plan.date, -1), ctx.plan.date]) {
    if (ctx.reader.ledger.builds[d] === undefined) continue;
    for (const row of await ctx.reader.rewardRows(d)) {
      if (partitionFor(row.userId, P) !== n) continue;
      let m = out.get(row.userId);
      if (m === undefined) {
        m = new Map();
        out.set(row.userId, m);
      }
      m.set(d, dayRewardsOf(row));
    }
  }
  return out;
};

const bootstrapPartition = async (ctx: PartitionCtx, n: number): Promise<BootstrapPartition> => {
  const { keys, redis, store, opts, plan } = ctx;
  const P = SPEED_PARTITIONS.length;
  // Acquire n like a worker: a stream worker that starts meanwhile bumps the epoch and fences us.
  const epoch = await redis.incr(keys.epoch(n));
  const engine = new PartitionEngine(opts.speed, Date.now());
  const commit = async (offsets?: Record<string, string>): Promise<void> => {
    const tx = new CheckpointTx();
    // Effects of replayed records (tier changes, rejects) were emitted by the first pass: dropped.
    store.write(tx, n, engine.drain());
    if (offsets !== undefined) tx.hset(keys.offsets(n), Object.entries(offsets));
    if (tx.empty) return;
    if (!(await commitFenced(redis, keys.epoch(n), epoch, tx)))
      throw new CryptolambdaError(
        'CONFLICT',
        `partition ${n} was acquired by a stream worker during the bootstrap (its epoch moved)`,
        'stop every stream worker of the prefix, then rerun with --force',
        { retriable: false },
      );
  };
  let users = 0;
  let userEvents = 0;
  let prices = 0;
  let nextReport = Date.now() + (opts.progressEveryMs ?? 5000);
  const report = (force = false) => {
    if (!force && Date.now() < nextReport) return;
    nextReport = Date.now() + (opts.progressEveryMs ?? 5000);
    opts.progress?.(
      `stream: bootstrap p${n}: ${users} users seeded, ${userEvents} user events and ${prices} prices replayed`,
    );
  };

  const days = await recentDays(ctx, n);
  let pending = 0;
  for await (const { userId, state: stored } of ctx.reader.snapshotStates(plan.date, (u) => partitionFor(u, P) === n)) {
    const state = userFromJson(stored, opts.speed.costMethod);
    engine.seedUser(userId, { state, days: days.get(userId) ?? new Map() });
    users++;
    if (++pending >= SEED_CHUNK) {
      await commit();
      pending = 0;
      report();
    }
  }
  await commit();

  // User events after D, merged over both topics in (event time, event id) order and fed in chunks:
  // everything fed is at or before everything not fed yet, so nothing lands behind the users' frontier.
  const onInvalid = () => void ctx.counts.invalid++;
  // Each event goes in with the lateness reference ingest stamped on its row (core/time/lateness.ts),
  // so it is TOO_LATE here exactly when the live stream and the batch found it so.
  let tx: UserEvent[] = [];
  let rw: UserEvent[] = [];
  let txRef: (number | undefined)[] = [];
  let rwRef: (number | undefined)[] = [];
  const feed = () => {
    if (tx.length > 0) engine.addUsers('transactions', tx, Date.now(), txRef);
    if (rw.length > 0) engine.addUsers('rewards', rw, Date.now(), rwRef);
    tx = [];
    rw = [];
    txRef = [];
    rwRef = [];
  };
  pending = 0;
  for await (const r of streamUserEventsAfter(ctx.reader.duck, ctx.config.lakeDir, ctx.manifest, {
    after: plan.replayUsersAfter,
    keep: (userId) => partitionFor(userId, P) === n,
    onInvalid,
  })) {
    (r.table === 'transactions' ? tx : rw).push(r.event);
    (r.table === 'transactions' ? txRef : rwRef).push(r.hwmBefore);
    userEvents++;
    if (++pending >= REPLAY_CHUNK) {
      feed();
      await commit();
      pending = 0;
      report();
    }
  }
  feed();
  // The live stream resumes at the manifest's offsets: its marks continue from the manifest's.
  const marks = new Map<UserTable, number>();
  for (const t of USER_TABLES) {
    const m = ctx.manifest.hwm?.[topicName(ctx.config.topicPrefix, t)]?.[String(n)];
    if (m !== undefined) marks.set(t, Number(m));
  }
  engine.setHighWaterMarks(marks);
  await commit();

  // The symbols partition n holds (murmur2, as the producer keys them). Read in offset order when they
  // all came from source partition n (the usual case: the live stream's exact order); a symbol set
  // gathered from other partitions (a repartitioned log) is merged in event time instead.
  const mine = ctx.symbols.filter((s) => partitionFor(s.symbol, P) === n);
  if (ctx.pricesFrom !== null && mine.length > 0) {
    pending = 0;
    for await (const p of streamPrices(ctx.reader.duck, ctx.config.lakeDir, ctx.manifest, {
      from: ctx.pricesFrom,
      symbols: [...new Set(mine.map((s) => s.symbol))],
      order: mine.every((s) => s.partition === n) ? 'offset' : 'time',
      onInvalid,
    })) {
      engine.addPrice(p);
      prices++;
      if (++pending >= REPLAY_CHUNK) {
        await commit();
        pending = 0;
        report();
      }
    }
  }
  const offsets = Object.fromEntries(plan.resume.get(n)!.map((r) => [tpField(r.topic, n), r.offset.toString()]));
  await commit(offsets);
  report(true);
  return { partition: n, users, userEvents, prices, offsets };
};
