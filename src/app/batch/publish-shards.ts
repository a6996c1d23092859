import { Duck } from '../../adapters/duckdb/db.js';
import { stageDims, stageUserTiers } from '../../adapters/lake/dims-writer.js';
import { type Manifest, readManifest } from '../../adapters/lake/manifest.js';
import { stagePriceDaily, userTopicPartitions, windowCloses } from '../../adapters/lake/raw-zone-reader.js';
import { clearShardBuilds, readShardBuilds, type ShardBuild } from '../../adapters/lake/shard-store.js';
import { Staging } from '../../adapters/lake/warehouse-rows.js';
import {
  type DateBuild,
  publish,
  readLedger,
  type WarehouseFile,
  type WarehouseLedger,
  writeStagedTables,
} from '../../adapters/lake/warehouse-store.js';
import type { Config } from '../../config/config.js';
import { CryptolambdaError } from '../../core/errors.js';
import { correlationFacts } from '../../core/warehouse/correlations.js';
import { carryForwardValid, previousDate } from '../../core/warehouse/pending.js';
import {
  BATCH_REJECTS,
  columnsDdl,
  DIM_ASSET,
  DIM_DATE,
  DIM_USER,
  FACT_ASSET_CORRELATION,
  FACT_PRICE_DAILY,
} from '../../core/warehouse/schema.js';
import { shardLabel } from '../../core/warehouse/shard.js';
import { inspectLock } from '../pipeline/lock.js';
import { shardLockPath } from './lake-lock.js';

export interface PublishOptions {
  /** Require exactly this many shards (the in-process build knows N). */
  readonly shards?: number;
  /** Test hook: after every Parquet file of the build is written, before the ledger publish. */
  readonly beforePublish?: () => Promise<void>;
}

export interface PublishedBuild {
  readonly build: DateBuild;
  readonly ledger: WarehouseLedger;
  readonly shards: readonly ShardBuild[];
  readonly dimsRewritten: boolean;
  readonly rows: Record<string, number>;
  readonly fromHistory: boolean;
}

/** What a shard of `date` must have been built from to be publishable now. */
export const expectedBasis = (m: Manifest, ledger: WarehouseLedger, date: string): string => {
  const prev = ledger.builds[previousDate(date)];
  return prev !== undefined && carryForwardValid(m.files, prev) ? prev.builtAt : 'history';
};

/** The complete, current set of shards of `date`, or a clear refusal naming what to re-run. */
export const checkShards = (all: readonly ShardBuild[], date: string, m: Manifest, basis: string, n?: number) => {
  if (all.length === 0)
    throw new CryptolambdaError(
      'NO_DATA',
      `no shard of ${date} has been built`,
      `run \`cryptolambda batch --date ${date} --shard i/N\` for every i, then publish`,
    );
  const counts = [...new Set(all.map((s) => s.shard.of))].sort((a, b) => a - b);
  const of = n ?? (counts.length === 1 ? counts[0]! : undefined);
  if (of === undefined)
    throw new CryptolambdaError(
      'CONFLICT',
      `shards of ${date} were built with different shard counts (${counts.join(', ')})`,
      'rebuild every shard with one N, then publish',
    );
  const set = all.filter((s) => s.shard.of === of);
  const missing = [...Array(of).keys()].filter((i) => !set.some((s) => s.shard.index === i));
  if (missing.length > 0)
    throw new CryptolambdaError(
      'NO_DATA',
      `cannot publish ${date}: shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${of}`).join(', ')} missing`,
      `run \`cryptolambda batch --date ${date} --shard ${missing[0]}/${of}\` for each, then publish`,
    );
  for (const s of set) {
    if (s.rawCommit !== m.commit)
      throw new CryptolambdaError(
        'CONFLICT',
        `cannot publish ${date}: shard ${shardLabel(s.shard)} read raw-zone commit ${s.rawCommit}, the raw zone is at commit ${m.commit}`,
        `re-run \`cryptolambda batch --date ${date} --shard ${shardLabel(s.shard)}\` (and every other stale shard)`,
      );
    if (s.basis !== basis)
      throw new CryptolambdaError(
        'CONFLICT',
        `cannot publish ${date}: shard ${shardLabel(s.shard)} started from ${s.basis === 'history' ? 'all history' : `the build of ${previousDate(date)} at ${s.basis}`}, the current starting point is ${basis === 'history' ? 'all history' : `the build at ${basis}`}`,
        `re-run \`cryptolambda batch --date ${date} --shard ${shardLabel(s.shard)}\``,
      );
  }
  // Every user-topic partition in exactly one shard (shards built by a version that recorded no
  // plan took partition % N): shards from two versions of the plan must not lose or repeat users.
  const everyPartition = [...Array(userTopicPartitions(m)).keys()];
  const owner = new Map<number, string>();
  for (const s of set) {
    const parts = s.partitions ?? everyPartition.filter((p) => p % of === s.shard.index);
    for (const p of parts) {
      const other = owner.get(p);
      if (other !== undefined)
        throw new CryptolambdaError(
          'CONFLICT',
          `cannot publish ${date}: shards ${other} and ${shardLabel(s.shard)} both took partition ${p} of the user topics`,
          `re-run every shard of ${date} with this version, then publish`,
        );
      owner.set(p, shardLabel(s.shard));
    }
  }
  const unowned = everyPartition.filter((p) => !owner.has(p));
  if (unowned.length > 0)
    throw new CryptolambdaError(
      'CONFLICT',
      `cannot publish ${date}: no shard took partition${unowned.length > 1 ? 's' : ''} ${unowned.join(', ')} of the user topics`,
      `re-run every shard of ${date} with this version, then publish`,
    );
  return set.sort((a, b) => a.shard.index - b.shard.index);
};

/**
 * A shard of D being built again right now (a retried task still running) would replace its record
 * and delete the files publish is about to list: refuse to publish until it is done. Its lock is
 * the shard's lease (lake-lock.ts), inspected without taking it.
 */
const checkNoShardRunning = async (lakeDir: string, date: string, counts: readonly number[]): Promise<void> => {
  for (const of of [...new Set(counts)].sort((a, b) => a - b))
    for (let index = 0; index < of; index++) {
      const s = await inspectLock(shardLockPath(lakeDir, date, { index, of }));
      if (s.state === 'held')
        throw new CryptolambdaError(
          'CONFLICT',
          `cannot publish ${date}: shard ${index}/${of} is being built (pid ${s.info.pid} on ${s.info.host}, since ${s.info.acquiredAt})`,
          'publish again when it has finished',
        );
    }
};

/**
 * Publish date D from its shards in ONE ledger commit: the shards' per-user files, plus what is
 * built once for the whole platform (fact_price_daily, fact_asset_correlation, and the dimensions
 * when D is the newest build). The caller holds the batch lock.
 */
export const publishShards = async (
  config: Config,
  date: string,
  opts: PublishOptions = {},
): Promise<PublishedBuild> => {
  const lakeDir = config.lakeDir;
  const manifest = await readManifest(lakeDir);
  const ledger = await readLedger(lakeDir);
  const basis = expectedBasis(manifest, ledger, date);
  const all = await readShardBuilds(lakeDir, date);
  await checkNoShardRunning(lakeDir, date, opts.shards === undefined ? all.map((b) => b.shard.of) : [opts.shards]);
  const shards = checkShards(all, date, manifest, basis, opts.shards);
  const duck = await Duck.open(':memory:', { threads: 2 });
  try {
    await duck.run(`CREATE OR REPLACE TABLE stage_fact_price_daily (${columnsDdl(FACT_PRICE_DAILY)})`);
    await stagePriceDaily(duck, lakeDir, manifest, date);
    const corr = await Staging.create(duck, FACT_ASSET_CORRELATION);
    for (const f of correlationFacts(await windowCloses(duck, lakeDir, manifest, ledger, date), date))
      corr.appendRow({
        date,
        window_days: f.windowDays,
        asset_a: f.a,
        asset_b: f.b,
        observations: f.observations,
        correlation: f.correlation,
      });
    corr.close();
    const global = await writeStagedTables(duck, lakeDir, date, [FACT_PRICE_DAILY, FACT_ASSET_CORRELATION]);
    // Dimensions describe the newest build: rebuilding an older date leaves them alone.
    const newest = Object.keys(ledger.builds).every((d) => d <= date);
    let dims: WarehouseFile[] = [];
    if (newest) {
      await stageUserTiers(
        duck,
        lakeDir,
        shards.map((s) => s.tierFile),
      );
      await stageDims(duck, lakeDir, manifest, date, [...new Set([...Object.keys(ledger.builds), date])].sort());
      dims = await writeStagedTables(duck, lakeDir, null, [DIM_USER, DIM_ASSET, DIM_DATE]);
    }
    const files = [...shards.flatMap((s) => s.files), ...global];
    const rows: Record<string, number> = {};
    for (const f of [...files, ...dims]) rows[f.table] = (rows[f.table] ?? 0) + f.rows;
    const sum = (k: 'users' | 'activeUsers' | 'events') => shards.reduce((a, s) => a + s.stats[k], 0);
    const build: DateBuild = {
      date,
      rawCommit: manifest.commit,
      builtAt: new Date().toISOString(),
      files,
      stats: {
        users: sum('users'),
        activeUsers: sum('activeUsers'),
        events: sum('events'),
        rejects: rows[BATCH_REJECTS.name] ?? 0,
        fromHistory: basis === 'history' ? 1 : 0,
        shards: shards.length,
        shardPeakRssMb: Math.max(...shards.map((s) => s.peakRssMb ?? 0)),
        // All shards' CPU (on one machine or many): the build's cost, apart from its wall time.
        // The largest user state (one VARCHAR): the next date's shards size their DuckDB caps by it.
        shardMaxStateChars: Math.max(...shards.map((s) => s.maxStateChars ?? 0)),
        shardCpuSeconds: Math.round(shards.reduce((a, s) => a + (s.cpuSeconds ?? 0), 0) * 100) / 100,
        // The previous date's open lots read back into JavaScript, and those copied forward in DuckDB.
        lotsRead: shards.reduce((a, s) => a + (s.lotsRead ?? 0), 0),
        lotsCopied: shards.reduce((a, s) => a + (s.lotsCopied ?? 0), 0),
        ...Object.fromEntries(Object.entries(rows).map(([k, v]) => [`rows.${k}`, v])),
      },
    };
    await opts.beforePublish?.();
    const next = await publish(lakeDir, { build, dims });
    await clearShardBuilds(lakeDir, date, shards);
    return { build, ledger: next, shards, dimsRewritten: newest, rows, fromHistory: basis === 'history' };
  } finally {
    duck.close();
  }
};
