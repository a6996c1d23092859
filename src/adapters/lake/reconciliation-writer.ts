import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBDataChunk, VARCHAR } from '@duckdb/node-api';
import { CryptolambdaError } from '../../core/errors.js';
import type { ReconRow } from '../../core/serving/reconcile.js';
import { FACT_RECONCILIATION } from '../../core/warehouse/schema.js';
import { Duck, ident, literal } from '../duckdb/db.js';
import { warehouseDir } from './warehouse-store.js';

/**
 * fact_reconciliation is written by `reconcile`, not by the batch build, so it lives outside the
 * build ledger (a publish of date D would replace the batch's own files of D): one file per date,
 * `warehouse/fact_reconciliation/dt=D/reconciliation.parquet`, replaced atomically (written under a
 * temporary name, fsynced, renamed). Re-running reconcile for a date replaces its result whole.
 */
export const reconciliationFile = (lakeDir: string, date: string): string =>
  path.join(warehouseDir(lakeDir), FACT_RECONCILIATION.name, `dt=${date}`, 'reconciliation.parquet');

const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** The file's order (user_id, subject, field): DuckDB compares VARCHAR by bytes, as `<` does on these ASCII ids. */
const fileOrder = (a: ReconRow, b: ReconRow): number =>
  cmpStr(a.userId, b.userId) || cmpStr(a.subject, b.subject) || cmpStr(a.field, b.field);

const STAGE_COLUMNS = ['user_id', 'subject', 'field', 'status', 'batch_value', 'speed_value', 'difference'] as const;
/** Each staged column's value of a row, in STAGE_COLUMNS order. */
const STAGE_VALUES: readonly ((r: ReconRow) => string | null)[] = [
  (r) => r.userId,
  (r) => r.subject,
  (r) => r.field,
  (r) => r.status,
  (r) => r.batchValue,
  (r) => r.speedValue,
  (r) => r.difference,
];
/** Rows buffered per native append call. */
const CHUNK_ROWS = 2048;

export interface ReconciliationWriter {
  /**
   * Rows of whole users, every user after the previous call's users (reconcile goes through users in
   * order, page by page), in any order within the call: they are sorted here.
   */
  append(rows: readonly ReconRow[]): Promise<void>;
  /** Write the Parquet file and swap it in atomically. */
  commit(): Promise<{ path: string; rows: number; bytes: number }>;
  /** Drop everything staged (the previous file of the date stays). */
  abort(): Promise<void>;
}

/**
 * A streamed writer of one date's fact_reconciliation file: rows are staged in a throw-away DuckDB
 * database on disk (so a day of millions of users costs disk, not memory: the connection's memory is
 * capped and DuckDB evicts staged blocks to that file), in file order, and copied to Parquet in one
 * pass at commit without a sort.
 */
export const openReconciliationWriter = async (
  lakeDir: string,
  date: string,
  opts: { memoryLimit?: string } = {},
): Promise<ReconciliationWriter> => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new CryptolambdaError('INTERNAL', `bad reconcile date ${date}`);
  const file = reconciliationFile(lakeDir, date);
  await mkdir(path.dirname(file), { recursive: true });
  const tag = `${process.pid}-${randomUUID().slice(0, 8)}`;
  const tmp = `${file}.tmp-${tag}`;
  // '_' hides it from directory readers (Spark, Hive) while it exists.
  const stageDb = path.join(path.dirname(file), `_stage-${tag}.duckdb`);
  const duck = await Duck.open(stageDb, { threads: 1, memoryLimit: opts.memoryLimit ?? '128MB' });
  const cleanup = async (): Promise<void> => {
    for (const f of [stageDb, `${stageDb}.wal`, `${stageDb}.tmp`, tmp]) await rm(f, { recursive: true, force: true });
  };
  let appender: Awaited<ReturnType<typeof duck.conn.createAppender>>;
  try {
    await duck.run(`SET temp_directory = ${literal(`${stageDb}.tmp`)}`);
    await duck.run(`CREATE TABLE recon (${STAGE_COLUMNS.map((c) => `${ident(c)} VARCHAR`).join(', ')})`);
    appender = await duck.conn.createAppender('recon');
  } catch (err) {
    duck.close();
    await cleanup();
    throw err;
  }
  const types = STAGE_COLUMNS.map(() => VARCHAR);
  let rows = 0;
  let lastUser: string | null = null;
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    duck.close();
  };
  return {
    append: async (page) => {
      const sorted = [...page].sort(fileOrder);
      const first = sorted[0];
      if (first === undefined) return;
      if (lastUser !== null && first.userId <= lastUser)
        throw new CryptolambdaError('INTERNAL', `reconcile rows out of user order (${first.userId} after ${lastUser})`);
      for (let i = 0; i < sorted.length; i += CHUNK_ROWS) {
        const part = sorted.slice(i, i + CHUNK_ROWS);
        const chunk = DuckDBDataChunk.create(types, part.length);
        // The appender takes values, not SQL text: nothing in a row can change a statement.
        STAGE_VALUES.forEach((value, c) => {
          chunk.setColumnValues(c, part.map(value));
        });
        appender.appendDataChunk(chunk);
      }
      for (const r of sorted)
        if (r.date !== date)
          throw new CryptolambdaError('INTERNAL', `reconcile row of ${r.date} in the file of ${date}`);
      lastUser = sorted.at(-1)!.userId;
      rows += sorted.length;
    },
    commit: async () => {
      try {
        appender.closeSync();
        // Staged in file order and read back in insertion order (DuckDB preserves it by default).
        await duck.run(
          `COPY (SELECT CAST(${literal(date)} AS DATE) AS date, ${STAGE_COLUMNS.map(ident).join(', ')} FROM recon) TO ${literal(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
        );
        close();
        const fh = await open(tmp, 'r');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, file);
      } finally {
        close();
        await cleanup();
      }
      return { path: file, rows, bytes: (await stat(file)).size };
    },
    abort: async () => {
      close();
      await cleanup();
    },
  };
};

/** Write a whole date's rows at once (any order). */
export const writeReconciliation = async (
  lakeDir: string,
  date: string,
  rows: readonly ReconRow[],
): Promise<{ path: string; rows: number; bytes: number }> => {
  const w = await openReconciliationWriter(lakeDir, date);
  try {
    await w.append(rows);
  } catch (err) {
    await w.abort();
    throw err;
  }
  return w.commit();
};

/**
 * The report `reconcile --json` printed for the date, stored next to its rows so `serve` answers
 * `/v1/reconcile/{date}` with exactly that result without re-running the comparison.
 */
export const reconciliationReportFile = (lakeDir: string, date: string): string =>
  path.join(path.dirname(reconciliationFile(lakeDir, date)), 'report.json');

export const writeReconciliationReport = async (lakeDir: string, date: string, report: unknown): Promise<void> => {
  const file = reconciliationReportFile(lakeDir, date);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`;
  await writeFile(tmp, `${JSON.stringify(report)}\n`);
  await rename(tmp, file);
};

/** The stored report of the date, or null when `reconcile` never ran for it. */
export const readReconciliationReport = async <T>(lakeDir: string, date: string): Promise<T | null> => {
  try {
    return JSON.parse(await readFile(reconciliationReportFile(lakeDir, date), 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
};

/** Dates with a stored report, ascending. */
export const reconciledDates = async (lakeDir: string): Promise<string[]> => {
  const dir = path.dirname(path.dirname(reconciliationFile(lakeDir, '2000-01-01')));
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => /^dt=\d{4}-\d{2}-\d{2}$/.test(n))
    .map((n) => n.slice(3))
    .sort();
};
