import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ReconRow } from '../../core/serving/reconcile.js';
import { columnsDdl, FACT_RECONCILIATION } from '../../core/warehouse/schema.js';
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

export const writeReconciliation = async (
  lakeDir: string,
  date: string,
  rows: readonly ReconRow[],
): Promise<{ path: string; rows: number; bytes: number }> => {
  const file = reconciliationFile(lakeDir, date);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`;
  const duck = await Duck.open(':memory:', { threads: 1 });
  try {
    await duck.run(`CREATE TABLE recon (${columnsDdl(FACT_RECONCILIATION)})`);
    // The appender takes values, not SQL text: nothing in a row can change the statement.
    const a = await duck.conn.createAppender('recon');
    for (const r of rows) {
      a.appendVarchar(r.date); // DATE column: DuckDB casts the ISO string
      a.appendVarchar(r.userId);
      a.appendVarchar(r.subject);
      a.appendVarchar(r.field);
      a.appendVarchar(r.status);
      for (const v of [r.batchValue, r.speedValue, r.difference]) {
        if (v === null) a.appendNull();
        else a.appendVarchar(v);
      }
      a.endRow();
    }
    a.closeSync();
    await duck.run(
      `COPY (SELECT * FROM ${ident('recon')} ORDER BY user_id, subject, field) TO ${literal(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  } finally {
    duck.close();
  }
  return { path: file, rows: rows.length, bytes: (await stat(file)).size };
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
