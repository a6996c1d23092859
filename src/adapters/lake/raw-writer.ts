import { randomUUID } from 'node:crypto';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { DomainEvent } from '../../core/events/types.js';
import { type Duck, ident, literal } from '../duckdb/db.js';
import type { LakeFile } from './manifest.js';
import type { Lineage, RawTable } from './raw-tables.js';
import { utcTimestampSql } from './staging.js';
import { ChunkAppender } from './warehouse-rows.js';

/**
 * The stored columns of a raw table plus its derived UTC timestamps, in the contract's order, from
 * `source` (a table or `read_parquet(…)`): the one SELECT every raw file is written with.
 */
export const rawFileSelect = (
  table: RawTable<DomainEvent>,
  source: string,
  /** Columns none of the source files has (written before the column existed): NULL of their type. */
  missing: ReadonlySet<string> = new Set(),
): string =>
  `SELECT ${[
    ...table.columns.map(([n, t]) => (missing.has(n) ? `NULL::${t} AS ${ident(n)}` : ident(n))),
    ...table.timestamps.map(([n, from]) => `${utcTimestampSql(from)} AS ${ident(n)}`),
  ].join(', ')} FROM ${source}`;

/**
 * Write one raw-zone Parquet file (zstd, rows sorted by the table's key) through DuckDB's own
 * writer: rows go in through the appender in data chunks (exact DECIMALs, no SQL text), out with COPY. The file
 * is written under a temporary name and renamed, so a final name always means a complete file.
 */
export const writeRawFile = async <E extends DomainEvent>(
  duck: Duck,
  table: RawTable<E>,
  rows: readonly { event: E; lineage: Lineage }[],
  file: string,
): Promise<{ bytes: number }> => {
  const tmpTable = `raw_${table.name}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const cols = table.columns.map(([n, t]) => `${ident(n)} ${t}`).join(', ');
  await duck.run(`CREATE TABLE ${ident(tmpTable)} (${cols})`);
  try {
    // Rows go in a 2048-row data chunk at a time (one native call per chunk, not per value).
    const appender = new ChunkAppender(await duck.conn.createAppender(tmpTable), table.columns);
    for (const r of rows) table.append(appender, r.event, r.lineage);
    appender.close();
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp`;
    await duck.run(
      `COPY (${rawFileSelect(table, ident(tmpTable))} ORDER BY ${table.orderBy}) TO ${literal(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    await rename(tmp, file);
    return { bytes: (await stat(file)).size };
  } catch (err) {
    await unlink(`${file}.tmp`).catch(() => undefined);
    throw err;
  } finally {
    await duck.run(`DROP TABLE IF EXISTS ${ident(tmpTable)}`);
  }
};

/**
 * Write the rows of one raw file (`writeRawFile`) to `file` and describe it for the manifest:
 * path `rel` (lake-relative), its rows, bytes, event-time range and, for a user topic, the one
 * Kafka partition it holds and whether its rows carry `_hwm_ms`.
 */
export const writeRawLakeFile = async <E extends DomainEvent>(
  duck: Duck,
  table: RawTable<E>,
  rows: readonly { event: E; lineage: Lineage }[],
  at: { rel: string; file: string; dt: string; commit: number; partition?: number | undefined; hwm?: true },
): Promise<LakeFile> => {
  const { bytes } = await writeRawFile(duck, table, rows, at.file);
  let min = Number.MAX_SAFE_INTEGER;
  let max = 0;
  for (const r of rows) {
    min = Math.min(min, r.event.eventTime);
    max = Math.max(max, r.event.eventTime);
  }
  return {
    table: table.name,
    dt: at.dt,
    path: at.rel,
    rows: rows.length,
    bytes,
    commit: at.commit,
    minEventTime: min,
    maxEventTime: max,
    ...(at.partition === undefined ? {} : { partition: at.partition }),
    ...(at.hwm ? { hwm: true as const } : {}),
  };
};
