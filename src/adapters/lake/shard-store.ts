import { mkdir, readdir, readFile, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { ShardSpec } from '../../core/warehouse/shard.js';
import { writeFileAtomic } from './manifest.js';
import { type WarehouseFile, warehouseDir } from './warehouse-store.js';

/**
 * A shard built but not yet published (`batch --date D --shard i/N`): its files and what it was
 * built from, in lake/warehouse/_shards/dt=D/shard-i-of-N.json (written atomically after its
 * files). `batch publish --date D` turns a complete, current set into one ledger commit.
 */
export interface ShardBuild {
  readonly version: 1;
  readonly date: string;
  readonly shard: ShardSpec;
  /** Raw-zone manifest commit the shard read. */
  readonly rawCommit: number;
  /** What the shard started from: the previous date's build (its builtAt), or 'history'. */
  readonly basis: string;
  readonly builtAt: string;
  /** fact_portfolio_daily, fact_reward_daily, snapshot_user_state and batch_rejects of the shard's users. */
  readonly files: readonly WarehouseFile[];
  /** user_id → tier at the end of the date, for dim_user. */
  readonly tierFile: WarehouseFile;
  readonly stats: { users: number; activeUsers: number; events: number; rejectsByCode: Record<string, number> };
  /** The user-topic partitions the shard took (shardPlan; absent in older records: partition % N). */
  readonly partitions?: readonly number[];
  /** User-topic raw files the shard opened (its partitions' files, plus older unindexed ones). */
  readonly rawFiles?: number;
  /** Per-user files of the previous date the shard opened (the others hold none of its users). */
  readonly previousFiles?: number;
  /** Seconds per phase. */
  readonly phases: Record<string, number>;
  /** Peak resident memory of the process that built the shard (MB). */
  readonly peakRssMb: number;
  /** CPU seconds the shard's build used (JavaScript and DuckDB's threads; absent in older records). */
  readonly cpuSeconds?: number;
  /**
   * Open lots of the previous date the shard read into JavaScript (the heads its disposals can
   * reach) and those it copied forward in DuckDB (absent in older records).
   */
  readonly lotsRead?: number;
  readonly lotsCopied?: number;
  /** Length of the shard's largest snapshot_user_state JSON (sizes the next build's DuckDB caps). */
  readonly maxStateChars?: number;
}

export const SHARD_TIER_TABLE = '_shard_user_tier';

const shardsDir = (lakeDir: string, date: string): string => path.join(warehouseDir(lakeDir), '_shards', `dt=${date}`);
const shardFile = (lakeDir: string, date: string, s: ShardSpec): string =>
  path.join(shardsDir(lakeDir, date), `shard-${s.index}-of-${s.of}.json`);

export const readShardBuilds = async (lakeDir: string, date: string): Promise<ShardBuild[]> => {
  let names: string[];
  try {
    names = await readdir(shardsDir(lakeDir, date));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: ShardBuild[] = [];
  for (const n of names.filter((x) => /^shard-\d+-of-\d+\.json$/.test(x)).sort())
    out.push(JSON.parse(await readFile(path.join(shardsDir(lakeDir, date), n), 'utf8')) as ShardBuild);
  return out;
};

/** Every pending shard of every date (their files must survive orphan cleanup). */
export const allShardBuilds = async (lakeDir: string): Promise<ShardBuild[]> => {
  const root = path.join(warehouseDir(lakeDir), '_shards');
  let dirs: string[];
  try {
    dirs = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: ShardBuild[] = [];
  for (const d of dirs) if (d.startsWith('dt=')) out.push(...(await readShardBuilds(lakeDir, d.slice(3))));
  return out;
};

const removeFiles = async (lakeDir: string, b: ShardBuild): Promise<void> => {
  for (const f of [...b.files, b.tierFile]) await unlink(path.join(lakeDir, f.path)).catch(() => undefined);
};

/** Record a shard; a previous build of the same shard is replaced and its files deleted. */
export const writeShardBuild = async (lakeDir: string, b: ShardBuild): Promise<void> => {
  const file = shardFile(lakeDir, b.date, b.shard);
  const prev = (await readShardBuilds(lakeDir, b.date)).find(
    (x) => x.shard.index === b.shard.index && x.shard.of === b.shard.of,
  );
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(b, null, 1)}\n`);
  if (prev) await removeFiles(lakeDir, prev);
};

/**
 * After a publish: forget the date's shard records. The published files stay (the ledger names
 * them); tier files and shards of another count N were never published and go.
 */
export const clearShardBuilds = async (lakeDir: string, date: string, published: readonly ShardBuild[]) => {
  const keep = new Set(published.flatMap((b) => b.files.map((f) => f.path)));
  for (const b of await readShardBuilds(lakeDir, date)) {
    for (const f of [...b.files, b.tierFile])
      if (!keep.has(f.path)) await unlink(path.join(lakeDir, f.path)).catch(() => undefined);
  }
  await rm(shardsDir(lakeDir, date), { recursive: true, force: true });
};

/** Forget the date's shard records, leaving their files to orphan cleanup (a full rebuild of D). */
export const forgetShardBuilds = async (lakeDir: string, date: string): Promise<void> => {
  await rm(shardsDir(lakeDir, date), { recursive: true, force: true });
};
