import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duck, ident, literal } from '../../adapters/duckdb/db.js';
import { type Manifest, readManifest } from '../../adapters/lake/manifest.js';
import { userTopicPartitions } from '../../adapters/lake/raw-zone-reader.js';
import { allShardBuilds, forgetShardBuilds, type ShardBuild } from '../../adapters/lake/shard-store.js';
import {
  createViews,
  readLedger,
  removeWarehouseOrphans,
  tableFiles,
  type WarehouseLedger,
  warehouseDir,
} from '../../adapters/lake/warehouse-store.js';
import type { Config } from '../../config/config.js';
import { CryptolambdaError, StoppedError, stopSignalName } from '../../core/errors.js';
import { registerPending } from '../../core/pending.js';
import type { TierDef } from '../../core/rewards/tiers.js';
import { dateRange, type PendingDates, parseDate, pendingDates } from '../../core/warehouse/pending.js';
import { FACT_RECONCILIATION, WAREHOUSE_TABLES } from '../../core/warehouse/schema.js';
import { ONE_SHARD, type ShardSpec, shardLabel } from '../../core/warehouse/shard.js';
import { buildShard } from './build-shard.js';
import { batchLockPath, SHARD_LOCK_LEASE_MS, shardLockPath, withLakeLock } from './lake-lock.js';
import { type PublishedBuild, publishShards } from './publish-shards.js';

/**
 * `batch --date D`: the batch view of one UTC date, built from the previous date's end state
 * (snapshot_user_state) plus D's raw events with the core accounting the speed layer uses, written
 * as Parquet through DuckDB's own writer and published in one atomic ledger write
 * (warehouse-store.ts). Re-running D replaces D whole; the same raw zone gives the same rows.
 *
 * Starting point: the build of D-1 when it exists and no raw file dated D-1 or earlier was
 * published after it (late events make it stale); otherwise every user event of the raw zone dated
 * up to D is replayed from scratch, in event order ("from history").
 *
 * Scale (issue 16): users are split into N shards by the murmur2 partition the producer uses
 * (build-shard.ts); each shard streams its users, so memory is bounded by one user at a time, and
 * the shards run as N child processes (`batch --date D --shard i/N`, the same contract a
 * Kubernetes Indexed Job or an Airflow mapped task runs on many machines), then one publish
 * (publish-shards.ts) commits them all at once.
 */
export interface BatchOptions {
  readonly date: string;
  /** Build a date that has no raw files (positions carry forward, no day facts). */
  readonly allowEmpty?: boolean;
  readonly onProgress?: (p: BatchProgress) => void;
  readonly tiers?: readonly TierDef[];
  /** Test hook: after every Parquet file of the build is written, before the ledger publish. */
  readonly beforePublish?: () => Promise<void>;
  /** Unreferenced warehouse files (a crashed build) older than this are deleted first (default 0: the batch lock excludes a build in progress). */
  readonly orphanMinAgeMs?: number;
  /** Shards by user (default 1; the command defaults to the machine's cores). */
  readonly shards?: number;
  /** Run the shards one after the other in this process instead of as child processes (tests). */
  readonly inline?: boolean;
  /** Inline shards: staged bytes per part file (tests; see buildShard). */
  readonly partBytes?: number;
  /**
   * SIGINT/SIGTERM: stop the shards (child processes get SIGTERM; inline shards stop between
   * users), publish nothing, and throw a StoppedError saying which shards of D were left
   * unpublished and what readers still see. A publish already under way completes (one ledger write).
   */
  readonly signal?: AbortSignal;
}

export interface BatchProgress {
  readonly date: string;
  readonly phase: 'reading' | 'replaying' | 'writing' | 'published';
  readonly users: number;
  readonly events: number;
}

export interface BatchResult {
  readonly date: string;
  /** Users with a state at the end of the date (carried forward or active). */
  readonly users: number;
  /** Users with at least one event of the date. */
  readonly activeUsers: number;
  readonly events: number;
  /** Rows written per table of this build (dims included when rewritten). */
  readonly rows: Record<string, number>;
  readonly rejects: number;
  readonly rejectsByCode: Record<string, number>;
  /** Raw-zone manifest commit the build read. */
  readonly rawCommit: number;
  /** True when replayed from all history instead of the previous date's snapshot. */
  readonly fromHistory: boolean;
  /** True when the date had no raw files (only with allowEmpty). */
  readonly empty: boolean;
  readonly dimsRewritten: boolean;
  /** Shards the date was built in. */
  readonly shards: number;
  /** The analysts' DuckDB catalog, or why it was not refreshed (e.g. held open by another process). */
  readonly catalog: string;
  /** Unpublished files of crashed builds deleted before this build. */
  readonly orphansRemoved: number;
  /** Seconds per phase (replaying = the shards, publishing, catalog). */
  readonly phases: Record<string, number>;
  readonly seconds: number;
}

export const catalogPath = (lakeDir: string): string => path.join(lakeDir, 'warehouse.duckdb');

export const checkDate = (s: string, flag = '--date'): string => {
  const d = parseDate(s);
  if (d === undefined)
    throw new CryptolambdaError('INVALID_ARGUMENT', `${flag}: expected a date YYYY-MM-DD, got ${JSON.stringify(s)}`);
  return d;
};

/** Dates to build or rebuild (unbuilt raw dates, late-data stale dates and everything after them). */
export const pendingBatchDates = async (lakeDir: string): Promise<PendingDates> => {
  const [m, ledger] = await Promise.all([readManifest(lakeDir), readLedger(lakeDir)]);
  return pendingDates(m.files, Object.values(ledger.builds));
};

const checkRawData = (m: Manifest, lakeDir: string, date: string, allowEmpty: boolean | undefined): boolean => {
  const empty = !m.files.some((f) => f.dt === date);
  if (empty && !allowEmpty)
    throw new CryptolambdaError(
      'NO_DATA',
      `no raw data for ${date} in ${path.join(lakeDir, 'raw')} (manifest commit ${m.commit})`,
      'run `cryptolambda ingest` first, or pass --allow-empty to carry positions forward without new events',
    );
  return empty;
};

/** Unpublished files of crashed builds go; files of shards built but not yet published stay. */
const removeOrphans = async (lakeDir: string, ledger: WarehouseLedger, minAgeMs: number): Promise<number> => {
  const pending = (await allShardBuilds(lakeDir)).flatMap((b) => [...b.files, b.tierFile]);
  const tables = WAREHOUSE_TABLES.map((t) => t.name);
  return removeWarehouseOrphans(lakeDir, ledger, tables, minAgeMs, Date.now(), pending);
};

/** Shards to use: as asked (default 1), at most one per user-topic partition (a shard is a set of them). */
export const effectiveShards = (m: Manifest, asked: number | undefined): number => {
  const n = Math.max(1, Math.trunc(asked ?? 1));
  const partitions = userTopicPartitions(m);
  return partitions === 0 ? 1 : Math.min(n, partitions);
};

/** The machine's cores: the default of `batch --date D` on the command line. */
export const defaultShards = (): number => os.availableParallelism();

export const runBatch = (config: Config, opts: BatchOptions): Promise<BatchResult> => {
  const date = checkDate(opts.date);
  return withLakeLock(batchLockPath(config.lakeDir), 'batch', `batch ${date}`, async () => {
    // `ingest --compact` may replace raw files while the build reads them (it deletes merged inputs
    // after its manifest commit): if the build fails and the manifest moved, build again from it.
    for (let attempt = 1; ; attempt++) {
      const commit = (await readManifest(config.lakeDir)).commit;
      try {
        return await buildDate(config, date, opts);
      } catch (err) {
        if (attempt >= 3 || (await readManifest(config.lakeDir)).commit === commit) throw err;
      }
    }
  });
};

const buildDate = async (config: Config, date: string, opts: BatchOptions): Promise<BatchResult> => {
  const t0 = performance.now();
  const lakeDir = config.lakeDir;
  const manifest = await readManifest(lakeDir);
  // A full build of D rebuilds every shard: shards of D left by an earlier (crashed) run are orphans.
  await forgetShardBuilds(lakeDir, date);
  const orphansRemoved = await removeOrphans(lakeDir, await readLedger(lakeDir), opts.orphanMinAgeMs ?? 0);
  const empty = checkRawData(manifest, lakeDir, date, opts.allowEmpty);
  const n = effectiveShards(manifest, opts.shards);
  // While the shards run, a forced stop (the grace period passed) says what it leaves behind.
  const unregister = registerPending(() => `batch ${date}: ${n} shard(s) built or building, not published`);
  try {
    return await buildShardsAndPublish(config, date, opts, { t0, manifest, orphansRemoved, empty, n, unregister });
  } finally {
    unregister();
  }
};

const buildShardsAndPublish = async (
  config: Config,
  date: string,
  opts: BatchOptions,
  x: {
    t0: number;
    manifest: Manifest;
    orphansRemoved: number;
    empty: boolean;
    n: number;
    unregister: () => void;
  },
): Promise<BatchResult> => {
  const { t0, orphansRemoved, empty, n } = x;
  const lakeDir = config.lakeDir;
  opts.onProgress?.({ date, phase: 'reading', users: 0, events: 0 });
  opts.onProgress?.({ date, phase: 'replaying', users: 0, events: 0 });
  const tShards = performance.now();
  // Child processes read the tier table from the same config; a table passed in runs in this process.
  if (n === 1 || opts.inline || opts.tiers !== undefined) {
    for (let i = 0; i < n; i++) {
      if (opts.signal?.aborted) throw await stoppedBatch(opts.signal, lakeDir, date, n, i);
      await buildShard(
        config,
        date,
        { index: i, of: n },
        {
          ...(opts.tiers === undefined ? {} : { tiers: opts.tiers }),
          ...(opts.signal === undefined ? {} : { signal: opts.signal }),
          ...(opts.partBytes === undefined ? {} : { partBytes: opts.partBytes }),
          onProgress: (users, events) => opts.onProgress?.({ date, phase: 'replaying', users, events }),
        },
      ).catch(async (err: unknown) => {
        throw err instanceof StoppedError && opts.signal ? await stoppedBatch(opts.signal, lakeDir, date, n, i) : err;
      });
    }
  } else await runShardProcesses(config, date, n, opts.signal);
  if (opts.signal?.aborted) throw await stoppedBatch(opts.signal, lakeDir, date, n, n);
  const replaying = Math.round(performance.now() - tShards) / 1000;
  opts.onProgress?.({ date, phase: 'writing', users: 0, events: 0 });
  const tPublish = performance.now();
  // From here the one ledger write publishes everything or nothing: nothing is left unpublished.
  x.unregister();
  const p = await publishShards(config, date, {
    shards: n,
    ...(opts.beforePublish === undefined ? {} : { beforePublish: opts.beforePublish }),
  });
  const publishing = Math.round(performance.now() - tPublish) / 1000;
  opts.onProgress?.({ date, phase: 'published', users: p.build.stats.users ?? 0, events: p.build.stats.events ?? 0 });
  const tCatalog = performance.now();
  const catalog = await refreshCatalog(p.ledger, lakeDir);
  return resultOf(p, {
    empty,
    orphansRemoved,
    catalog,
    phases: { replaying, publishing, catalog: Math.round(performance.now() - tCatalog) / 1000 },
    seconds: Math.round(performance.now() - t0) / 1000,
  });
};

const resultOf = (
  p: PublishedBuild,
  x: Pick<BatchResult, 'empty' | 'orphansRemoved' | 'catalog' | 'phases' | 'seconds'>,
): BatchResult => {
  const rejectsByCode: Record<string, number> = {};
  for (const s of p.shards)
    for (const [k, v] of Object.entries(s.stats.rejectsByCode)) rejectsByCode[k] = (rejectsByCode[k] ?? 0) + v;
  const st = p.build.stats;
  return {
    date: p.build.date,
    users: st.users ?? 0,
    activeUsers: st.activeUsers ?? 0,
    events: st.events ?? 0,
    rows: p.rows,
    rejects: st.rejects ?? 0,
    rejectsByCode,
    rawCommit: p.build.rawCommit,
    fromHistory: p.fromHistory,
    dimsRewritten: p.dimsRewritten,
    shards: p.shards.length,
    ...x,
  };
};

/** The CLI entry: the nearest bin/run.js above this module (src/, dist/ and compiled benches alike). */
const cliEntry = (): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const bin = path.join(dir, 'bin', 'run.js');
    if (existsSync(bin)) return bin;
    const up = path.dirname(dir);
    if (up === dir) throw new CryptolambdaError('INTERNAL', 'bin/run.js not found above the batch module');
    dir = up;
  }
};

/** The error a `batch --shard --json` child printed, if its stdout is one. */
const shardError = (stdout: string): string | undefined => {
  try {
    const e = (JSON.parse(stdout) as { error?: { message?: string; hint?: string } }).error;
    return e?.message === undefined ? undefined : `${e.message}${e.hint ? ` (${e.hint})` : ''}`;
  } catch {
    return undefined;
  }
};

/**
 * Node flags of a shard process. A shard allocates short-lived objects at a high rate (a Decimal per
 * amount of every event and row): with V8's default 16 MB semi-spaces the scavenger ran a fifth of
 * the shard's CPU, with 64 MB an eighth (measured in docs/warehouse.md). Only a command-line flag
 * takes effect (v8.setFlagsFromString after start does not); deploy/ sets it through NODE_OPTIONS.
 */
export const SHARD_NODE_FLAGS = ['--max-semi-space-size=64'];

/** Run shards 0..n-1 as child processes (`batch --date D --shard i/N`), all at once, one per core. */
const runShardProcesses = async (config: Config, date: string, n: number, signal?: AbortSignal): Promise<void> => {
  const children = new Set<ChildProcess>();
  // A stop reaches the shards too (a SIGTERM to this process alone would leave them running on);
  // their staged files are orphans the next build of D removes.
  const onAbort = () => {
    for (const c of children) c.kill('SIGTERM');
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const runs = [...Array(n).keys()].map(
    (i) =>
      new Promise<void>((resolve, reject) => {
        const args = [...SHARD_NODE_FLAGS, cliEntry(), 'batch', '--date', date, '--shard', `${i}/${n}`, '--json'];
        const child = spawn(process.execPath, args, {
          env: { ...process.env, CRYPTOLAMBDA_LAKE_DIR: config.lakeDir, NO_COLOR: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        children.add(child);
        if (signal?.aborted) child.kill('SIGTERM');
        let err = '';
        let out = '';
        child.stderr.on('data', (b: Buffer) => {
          err = (err + b.toString('utf8')).slice(-4000);
        });
        // With --json the child's error is a JSON document on stdout ({"error": {"message", "hint"}}).
        child.stdout.on('data', (b: Buffer) => {
          out = (out + b.toString('utf8')).slice(-16_000);
        });
        child.on('error', reject);
        child.on('exit', (code, signal) => {
          children.delete(child);
          if (code === 0) resolve();
          else {
            const last = shardError(out) ?? err.trim().split('\n').filter(Boolean).pop() ?? '';
            reject(
              new CryptolambdaError(
                'INTERNAL',
                `shard ${i}/${n} of ${date} failed (${signal ?? `exit ${code}`}): ${last}`,
              ),
            );
          }
        });
      }),
  );
  const results = await Promise.allSettled(runs);
  signal?.removeEventListener('abort', onAbort);
  if (signal?.aborted) {
    const built = results.filter((r) => r.status === 'fulfilled').length;
    throw await stoppedBatch(signal, config.lakeDir, date, n, built);
  }
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
};

/**
 * The one line of a build of D stopped by a signal before its publish: how many shards were built
 * (left staged, unpublished) and what readers still see of D.
 */
const stoppedBatch = async (
  signal: AbortSignal,
  lakeDir: string,
  date: string,
  n: number,
  built: number,
): Promise<StoppedError> => {
  const prev = (await readLedger(lakeDir)).builds[date];
  return new StoppedError(
    stopSignalName(signal),
    `batch ${date} not published: ${built} of ${n} shard(s) built, ${n - built} interrupted or not started; ` +
      (prev === undefined
        ? `readers see no build of ${date}`
        : `readers still see the build of ${date} published at ${prev.builtAt}`),
    `run batch --date ${date} again: it rebuilds every shard (the unpublished files are removed as orphans)`,
  );
};

export interface ShardRunOptions {
  readonly date: string;
  readonly shard: ShardSpec;
  readonly allowEmpty?: boolean;
  readonly tiers?: readonly TierDef[];
  /** SIGINT/SIGTERM: stop between users, write nothing (StoppedError). */
  readonly signal?: AbortSignal;
}

/**
 * `batch --date D --shard i/N`: build one shard's files without publishing (many machines: one
 * shard per task). Takes no batch lock: shards of one date run at the same time; `publish` locks.
 * It holds its own shard's lock (a lease on a shared lake, see lake-lock.ts).
 */
export const runShard = async (config: Config, opts: ShardRunOptions): Promise<ShardBuild> => {
  const date = checkDate(opts.date);
  const shard = opts.shard ?? ONE_SHARD;
  // Two runs of the same shard are refused (CONFLICT, naming the owner); other shards run on.
  return withLakeLock(
    shardLockPath(config.lakeDir, date, shard),
    { shard, date },
    `batch ${date} --shard ${shardLabel(shard)}`,
    async () => {
      checkRawData(await readManifest(config.lakeDir), config.lakeDir, date, opts.allowEmpty);
      return buildShard(config, date, shard, {
        ...(opts.tiers === undefined ? {} : { tiers: opts.tiers }),
        ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      });
    },
    { leaseMs: SHARD_LOCK_LEASE_MS },
  );
};

/**
 * `batch publish --date D`: publish every shard of D in one ledger commit, after checking that all
 * N are present and were built from the current raw-zone commit and starting point.
 */
export const runPublish = (
  config: Config,
  opts: { date: string; beforePublish?: () => Promise<void>; orphanMinAgeMs?: number },
): Promise<BatchResult> => {
  const date = checkDate(opts.date);
  return withLakeLock(batchLockPath(config.lakeDir), 'batch', `batch publish ${date}`, async () => {
    const t0 = performance.now();
    const m = await readManifest(config.lakeDir);
    // Shards may be running elsewhere right now: only files older than an hour count as orphans.
    const orphansRemoved = await removeOrphans(
      config.lakeDir,
      await readLedger(config.lakeDir),
      opts.orphanMinAgeMs ?? 3_600_000,
    );
    const p = await publishShards(
      config,
      date,
      opts.beforePublish === undefined ? {} : { beforePublish: opts.beforePublish },
    );
    const catalog = await refreshCatalog(p.ledger, config.lakeDir);
    const seconds = Math.round(performance.now() - t0) / 1000;
    return resultOf(p, {
      empty: !m.files.some((f) => f.dt === date),
      orphansRemoved,
      catalog,
      phases: { publishing: seconds },
      seconds,
    });
  });
};

export { shardLabel };

/**
 * Views over the published files in lake/warehouse.duckdb for analysts (`duckdb lake/warehouse.duckdb`).
 * DuckDB allows one writer per file: when an analyst holds it open, the build still succeeds and
 * says the catalog was not refreshed.
 */
export const refreshCatalog = async (ledger: WarehouseLedger, lakeDir: string): Promise<string> => {
  const file = catalogPath(lakeDir);
  let duck: Duck | undefined;
  try {
    duck = await Duck.open(file, { threads: 1 });
    // Paths relative to the lake: the catalog keeps working when the lake is moved (docs/warehouse.md).
    await createViews(
      duck,
      ledger,
      lakeDir,
      WAREHOUSE_TABLES.map((t) => t.name),
      { relative: true },
    );
    // reconcile writes its table outside the build ledger, one file per date (reconciliation-writer.ts).
    const recon = path.join(warehouseDir(lakeDir), FACT_RECONCILIATION.name);
    if (existsSync(recon))
      await duck
        .run(
          `CREATE OR REPLACE VIEW ${ident(FACT_RECONCILIATION.name)} AS SELECT * FROM read_parquet(${literal(path.join(path.relative(lakeDir, recon), '*', '*.parquet'))})`,
        )
        .catch(() => undefined); // no file yet: no view, as for the other tables
    return file;
  } catch (err) {
    return `not refreshed: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    duck?.close();
  }
};

export interface BackfillOptions extends Omit<BatchOptions, 'date' | 'onProgress'> {
  readonly from: string;
  readonly to: string;
  readonly onDate?: (p: { date: string; index: number; total: number; result?: BatchResult }) => void;
  readonly onProgress?: (p: BatchProgress) => void;
}

/** Build from..to in date order; each date starts from the one before (stops at the first failure). */
export const runBackfill = async (config: Config, opts: BackfillOptions): Promise<BatchResult[]> => {
  const from = checkDate(opts.from, '--from');
  const to = checkDate(opts.to, '--to');
  if (from > to) throw new CryptolambdaError('INVALID_ARGUMENT', `--from ${from} is after --to ${to}`);
  const dates = dateRange(from, to);
  const out: BatchResult[] = [];
  const left = (i: number) => (i === 0 ? 'nothing of the range published' : `${dates[0]}..${dates[i - 1]} published`);
  for (const [i, date] of dates.entries()) {
    if (opts.signal?.aborted)
      throw new StoppedError(
        stopSignalName(opts.signal),
        `backfill ${left(i)}; ${date}..${to} not built`,
        `run batch --from ${date} --to ${to} to finish`,
      );
    opts.onDate?.({ date, index: i, total: dates.length });
    const r = await runBatch(config, {
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      date,
      ...(opts.allowEmpty === undefined ? {} : { allowEmpty: opts.allowEmpty }),
      ...(opts.tiers === undefined ? {} : { tiers: opts.tiers }),
      ...(opts.onProgress === undefined ? {} : { onProgress: opts.onProgress }),
      ...(opts.beforePublish === undefined ? {} : { beforePublish: opts.beforePublish }),
      ...(opts.orphanMinAgeMs === undefined ? {} : { orphanMinAgeMs: opts.orphanMinAgeMs }),
      ...(opts.shards === undefined ? {} : { shards: opts.shards }),
    }).catch((err: unknown) => {
      if (!(err instanceof StoppedError)) throw err;
      throw new StoppedError(
        err.signal,
        `${err.detail}; backfill ${left(i)}; ${date}..${to} not built`,
        `run batch --from ${date} --to ${to} to finish`,
      );
    });
    out.push(r);
    opts.onDate?.({ date, index: i + 1, total: dates.length, result: r });
  }
  return out;
};

/** Published files of a warehouse table (for tests and tools). */
export const warehouseTableFiles = async (lakeDir: string, table: string): Promise<string[]> =>
  tableFiles(await readLedger(lakeDir), lakeDir, table);

export { warehouseDir };
