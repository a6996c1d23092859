import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { WAREHOUSE_TABLES } from '../../core/warehouse/schema.js';
import { type Duck, ident, literal } from '../duckdb/db.js';
import { LedgerSchema, parseLakeFile } from './lake-schemas.js';
import { removeUnlisted, writeFileAtomic } from './manifest.js';
import { STAGING, stagedPath, utcTimestampSql } from './staging.js';

/** One published warehouse file: table `table`, partition dt=`date`. */
export interface WarehouseFile {
  readonly table: string;
  readonly date: string;
  readonly path: string;
  readonly rows: number;
  readonly bytes: number;
  /** Whose rows a per-user file of a sharded build holds (absent: any user's). */
  readonly users?: FileUsers;
}

/**
 * The users of a file written by one shard: those whose user-topic partition (murmur2 of the user
 * id % `of`, the producer's partitioning) is one of `partitions`. The next date's shards open only
 * the previous files that can hold their users.
 */
export interface FileUsers {
  readonly of: number;
  readonly partitions: readonly number[];
}

/** What the batch built for a date, and from which raw-zone manifest commit. */
export interface DateBuild {
  readonly date: string;
  readonly rawCommit: number;
  readonly builtAt: string;
  readonly files: readonly WarehouseFile[];
  /** Free-form per-build facts (row counts, rejects) for the pipeline's checks. */
  readonly stats: Readonly<Record<string, number>>;
}

export interface WarehouseLedger {
  readonly version: 1;
  readonly builds: Readonly<Record<string, DateBuild>>;
  /** Date-less tables (dimensions): table → file. */
  readonly dims: Readonly<Record<string, WarehouseFile>>;
}

const EMPTY: WarehouseLedger = { version: 1, builds: {}, dims: {} };

export const warehouseDir = (lakeDir: string): string => path.join(lakeDir, 'warehouse');
export const ledgerPath = (lakeDir: string): string => path.join(warehouseDir(lakeDir), '_builds.json');

export const readLedger = async (lakeDir: string): Promise<WarehouseLedger> => {
  try {
    const file = ledgerPath(lakeDir);
    return parseLakeFile(LedgerSchema, file, await readFile(file, 'utf8')) as WarehouseLedger;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY;
    throw err;
  }
};

/**
 * Write the rows of `sql` (a query over the build connection) to a new Parquet file of `table`
 * under dt=`date` (or the table root for dimensions). Not visible until `publish` names it: the
 * file lives under warehouse/_staging/ and the returned `path` says so, so a shard's files can be
 * read and listed by that path until the publish moves them and records their final paths.
 */
export const writeTableFile = async (
  duck: Duck,
  lakeDir: string,
  table: string,
  date: string | null,
  sql: string,
  orderBy: string,
  rowGroupSize = 16_384,
): Promise<WarehouseFile> => {
  const rel = path.join(
    'warehouse',
    table,
    ...(date ? [`dt=${date}`] : []),
    `part-${Date.now()}-${randomUUID().slice(0, 8)}.parquet`,
  );
  // Staged under warehouse/_staging/ until publish() moves it into place with the ledger commit.
  const file = stagedPath(lakeDir, rel);
  await mkdir(path.dirname(file), { recursive: true });
  // ROW_GROUP_SIZE keeps groups small enough that a point lookup on the sort key (user id) reads
  // one group instead of the file: the min/max statistics prune the rest. Tables with wide rows
  // (snapshot_user_state's JSON) use smaller groups, since a lookup decompresses its whole group.
  const def = WAREHOUSE_TABLES.find((t) => t.name === table);
  const select = def
    ? def.columns.map((c) => (c.derivedFrom ? `${utcTimestampSql(c.derivedFrom)} AS ${ident(c.name)}` : ident(c.name)))
    : ['*'];
  await duck.run(
    `COPY (SELECT ${select.join(', ')} FROM (${sql}) ORDER BY ${orderBy}) TO ${literal(`${file}.tmp`)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${Math.trunc(rowGroupSize)})`,
  );
  await rename(`${file}.tmp`, file);
  const [{ n }] = (await duck.rows<{ n: bigint }>(`SELECT count(*) AS n FROM read_parquet(${literal(file)})`)) as [
    { n: bigint },
  ];
  return {
    table,
    date: date ?? '',
    path: path.relative(lakeDir, file),
    rows: Number(n),
    bytes: (await stat(file)).size,
  };
};

/** One file per table of `defs` from its staging table (`stage_<name>` unless `stagedAs` says), sorted by the table's key (or sortBy). */
export const writeStagedTables = async (
  duck: Duck,
  lakeDir: string,
  date: string | null,
  defs: readonly { name: string; key: readonly string[]; sortBy?: readonly string[]; rowGroupSize?: number }[],
  /** The staging table of a def (default `stage_<name>`). */
  stagedAs: (def: { name: string }) => string = (def) => `stage_${def.name}`,
): Promise<WarehouseFile[]> => {
  const out: WarehouseFile[] = [];
  for (const def of defs)
    out.push(
      await writeTableFile(
        duck,
        lakeDir,
        def.name,
        date,
        `SELECT * FROM ${ident(stagedAs(def))}`,
        (def.sortBy ?? def.key).join(', '),
        def.rowGroupSize,
      ),
    );
  return out;
};

const STAGED_PREFIX = path.join('warehouse', STAGING) + path.sep;

/** The published path of a file written by writeTableFile (staged paths lose their `_staging/`). */
const finalPath = (rel: string): string =>
  rel.startsWith(STAGED_PREFIX) ? path.join('warehouse', rel.slice(STAGED_PREFIX.length)) : rel;

/**
 * Atomically replace what a date (and optionally the dimensions) consist of: one ledger rename.
 * Files the previous build of that date used are deleted afterwards. Re-running a date therefore
 * replaces it whole, never appends.
 */
export const publish = async (
  lakeDir: string,
  update: { build?: DateBuild; dims?: readonly WarehouseFile[] },
): Promise<WarehouseLedger> => {
  const prev = await readLedger(lakeDir);
  const builds = { ...prev.builds };
  const dims = { ...prev.dims };
  const obsolete: string[] = [];
  // Staged files move into their dt= directories right before the ledger commit that names them.
  const staged = [...(update.build?.files ?? []), ...(update.dims ?? [])]
    .map((f) => f.path)
    .filter((p) => p.startsWith(STAGED_PREFIX));
  const moved = (f: WarehouseFile): WarehouseFile => ({ ...f, path: finalPath(f.path) });
  update = {
    ...(update.build ? { build: { ...update.build, files: update.build.files.map(moved) } } : {}),
    ...(update.dims ? { dims: update.dims.map(moved) } : {}),
  };
  if (update.build) {
    const old = builds[update.build.date];
    if (old) obsolete.push(...old.files.map((f) => f.path));
    builds[update.build.date] = update.build;
  }
  for (const d of update.dims ?? []) {
    const old = dims[d.table];
    if (old) obsolete.push(old.path);
    dims[d.table] = d;
  }
  const next: WarehouseLedger = { version: 1, builds, dims };
  for (const p of staged) {
    const dest = path.join(lakeDir, finalPath(p));
    await mkdir(path.dirname(dest), { recursive: true });
    await rename(path.join(lakeDir, p), dest);
  }
  await writeFileAtomic(ledgerPath(lakeDir), `${JSON.stringify(next, null, 1)}\n`);
  for (const p of obsolete) await unlink(path.join(lakeDir, p)).catch(() => undefined);
  return next;
};

/** Every published file of a table, for read_parquet([...]). */
export const tableFiles = (ledger: WarehouseLedger, lakeDir: string, table: string): string[] => {
  const dim = ledger.dims[table];
  if (dim) return [path.join(lakeDir, dim.path)];
  return Object.values(ledger.builds)
    .flatMap((b) => b.files)
    .filter((f) => f.table === table)
    .map((f) => path.join(lakeDir, f.path));
};

/**
 * A view per table over exactly its published files (empty tables get no view). With `relative`,
 * the views name files relative to the lake (`warehouse/<table>/dt=…/part-….parquet`), so a catalog
 * file stays valid when the lake is moved or mounted elsewhere: DuckDB resolves relative paths
 * against the working directory or `file_search_path`, set here to bind the views.
 */
export const createViews = async (
  duck: Duck,
  ledger: WarehouseLedger,
  lakeDir: string,
  tables: readonly string[],
  opts: { relative?: boolean } = {},
) => {
  if (opts.relative) await duck.run(`SET file_search_path = ${literal(lakeDir)}`);
  for (const t of tables) {
    const files = tableFiles(ledger, lakeDir, t).map((f) => (opts.relative ? path.relative(lakeDir, f) : f));
    if (files.length === 0) continue;
    await duck.run(
      `CREATE OR REPLACE VIEW ${ident(t)} AS SELECT * FROM read_parquet([${files.map(literal).join(', ')}], union_by_name = true)`,
    );
  }
};

/**
 * Delete warehouse files no build references (a batch that crashed before its ledger write) once
 * they are older than `minAgeMs` (callers that cannot exclude a concurrent build pass a margin).
 * Directory readers (Hive, Spark, read_parquet globs) would otherwise see them.
 */
export const removeWarehouseOrphans = async (
  lakeDir: string,
  ledger: WarehouseLedger,
  /** Only these tables' directories: others (fact_reconciliation) are written outside the ledger. */
  tables: readonly string[],
  minAgeMs: number,
  now: number = Date.now(),
  /** Files referenced outside the ledger (shards built but not yet published). */
  alsoListed: readonly { path: string }[] = [],
): Promise<number> => {
  const listed = new Set([
    ...Object.values(ledger.builds).flatMap((b) => b.files.map((f) => path.join(lakeDir, f.path))),
    ...Object.values(ledger.dims).map((f) => path.join(lakeDir, f.path)),
    ...alsoListed.map((f) => path.join(lakeDir, f.path)),
  ]);
  let removed = 0;
  for (const t of tables) removed += await removeUnlisted(path.join(warehouseDir(lakeDir), t), listed, minAgeMs, now);
  // Staged files not held by a pending shard and older than the margin belong to a build that died.
  removed += await removeUnlisted(path.join(warehouseDir(lakeDir), STAGING), listed, minAgeMs, now);
  return removed;
};
