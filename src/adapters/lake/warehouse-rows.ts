import {
  BIGINT,
  BOOLEAN,
  DATE,
  DECIMAL,
  type DuckDBAppender,
  DuckDBDataChunk,
  DuckDBDateValue,
  type DuckDBDecimalValue,
  type DuckDBType,
  type DuckDBValue,
  INTEGER,
  VARCHAR,
} from '@duckdb/node-api';
import { CryptolambdaError } from '../../core/errors.js';
import { Decimal } from '../../core/money/decimal.js';
import { type ColumnDef, columnsDdl, storedColumns, type TableDef } from '../../core/warehouse/schema.js';
import { type Duck, ident, toDuckDecimal } from '../duckdb/db.js';

/**
 * Rows between JS and DuckDB for the warehouse build. Rows go into staging tables typed exactly like
 * the contract (schema.ts) as appender DATA CHUNKS of 2048 rows: decimals travel as bigint units,
 * never as SQL text or JS numbers, and a chunk costs one native call instead of one per cell
 * (3x faster than appendDecimal/appendVarchar per value, measured). Rows come out through streamed
 * queries, a chunk at a time.
 */
export type CellValue = Decimal | string | number | bigint | boolean | null | undefined;

const DECIMAL_RE = /^DECIMAL\(38, ?(\d+)\)$/;
const CHUNK_ROWS = 2048;

interface Column {
  readonly type: DuckDBType;
  readonly convert: (v: Exclude<CellValue, null | undefined>) => DuckDBValue;
}

const columnFor = (table: string, column: string, type: string): Column => {
  const m = DECIMAL_RE.exec(type);
  if (m) {
    const scale = Number(m[1]);
    return {
      type: DECIMAL(38, scale),
      convert: (v) => {
        if (!(v instanceof Decimal)) throw new CryptolambdaError('INTERNAL', `${table}.${column}: expected a Decimal`);
        return toDuckDecimal(v, scale);
      },
    };
  }
  switch (type) {
    case 'VARCHAR':
      return { type: VARCHAR, convert: (v) => String(v) };
    case 'BIGINT':
      return { type: BIGINT, convert: (v) => BigInt(v as number | bigint) };
    case 'INTEGER':
      return { type: INTEGER, convert: (v) => Number(v) };
    case 'BOOLEAN':
      return { type: BOOLEAN, convert: (v) => Boolean(v) };
    case 'DATE':
      // 'YYYY-MM-DD' → days since the epoch (UTC), exact.
      return { type: DATE, convert: (v) => new DuckDBDateValue(Date.parse(`${String(v)}T00:00:00Z`) / 86_400_000) };
    default:
      throw new CryptolambdaError('INTERNAL', `${table}.${column}: no staging type for ${type}`);
  }
};

/** A staging table shaped like `def`, filled row by row, flushed to DuckDB a chunk at a time. */
export class Staging {
  private readonly columns: Column[];
  private readonly names: ReadonlySet<string>;
  private readonly stored: readonly ColumnDef[];
  private buffer: DuckDBValue[][];
  private buffered = 0;
  rows = 0;

  private constructor(
    readonly def: TableDef,
    readonly name: string,
    private readonly appender: DuckDBAppender,
  ) {
    this.stored = storedColumns(def);
    this.columns = this.stored.map((c) => columnFor(def.name, c.name, c.type));
    // Derived columns (timestamps computed at write time) are not the batch's to fill.
    this.names = new Set(this.stored.map((c) => c.name));
    this.buffer = this.columns.map(() => []);
  }

  static async create(duck: Duck, def: TableDef, name = `stage_${def.name}`): Promise<Staging> {
    await duck.run(`CREATE OR REPLACE TABLE ${ident(name)} (${columnsDdl(def)})`);
    return new Staging(def, name, await duck.conn.createAppender(name));
  }

  /**
   * A row by column name (the names of core/warehouse/schema.ts); a missing name is NULL. Each
   * call site builds its rows from one object literal, so the names are checked on every row of
   * the first chunk (a misspelt column fails the first build that writes the table) and not on the
   * millions after: the check allocated a key array per row, a measurable share of the build.
   */
  appendRow(row: Readonly<Record<string, CellValue>>): void {
    if (this.rows < CHUNK_ROWS) {
      const names = Object.keys(row);
      if (names.length > this.stored.length || names.some((n) => !this.names.has(n)))
        throw new CryptolambdaError('INTERNAL', `${this.def.name}: unknown column in ${names.join(', ')}`);
    }
    const cols = this.stored;
    for (let i = 0; i < cols.length; i++) this.push(i, row[cols[i]!.name]);
    this.endRow();
  }

  /** Values in the table's column order; null/undefined only for nullable columns. */
  append(values: readonly CellValue[]): void {
    for (let i = 0; i < this.stored.length; i++) this.push(i, values[i]);
    this.endRow();
  }

  private push(i: number, v: CellValue): void {
    if (v === null || v === undefined) {
      if (!this.stored[i]!.nullable)
        throw new CryptolambdaError('INTERNAL', `${this.def.name}.${this.stored[i]!.name} is NOT NULL`);
      this.buffer[i]!.push(null);
    } else this.buffer[i]!.push(this.columns[i]!.convert(v));
  }

  private endRow(): void {
    this.rows++;
    if (++this.buffered === CHUNK_ROWS) this.flush();
  }

  private flush(): void {
    if (this.buffered === 0) return;
    const chunk = DuckDBDataChunk.create(
      this.columns.map((c) => c.type),
      this.buffered,
    );
    for (let i = 0; i < this.columns.length; i++) chunk.setColumnValues(i, this.buffer[i]!);
    this.appender.appendDataChunk(chunk);
    this.buffer = this.columns.map(() => []);
    this.buffered = 0;
  }

  close(): void {
    this.flush();
    this.appender.closeSync();
  }
}

/**
 * Stream a query's rows, a chunk at a time (bounded memory on large results). The stream runs on a
 * connection of its own: DuckDB closes a pending streaming result when anything else runs on its
 * connection (an appender flushing a staging table does), which would end the stream early without
 * an error.
 */
export async function* streamRows(duck: Duck, sql: string, params: DuckDBValue[] = []): AsyncGenerator<DuckDBValue[]> {
  const conn = await duck.instance.connect();
  try {
    const result = await conn.stream(sql, params);
    for await (const rows of result.yieldRows()) yield* rows;
  } finally {
    conn.closeSync();
  }
}

/**
 * Stream a query's result as data chunks (2048 rows each), on a connection of its own like
 * streamRows: for hot loops that read cells column-wise (vector.getItem) into a reused row instead
 * of materializing an array per row (the batch reads millions of event rows; the per-row arrays
 * were young-generation garbage the scavenger copied, measured in docs/warehouse.md).
 */
export async function* streamChunks(
  duck: Duck,
  sql: string,
  params: DuckDBValue[] = [],
): AsyncGenerator<DuckDBDataChunk> {
  const conn = await duck.instance.connect();
  try {
    const result = await conn.stream(sql, params);
    for (;;) {
      const chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) break;
      yield chunk;
    }
  } finally {
    conn.closeSync();
  }
}

/** The appender methods the raw-zone tables call (raw-tables.ts), row by row. */
export interface RowSink {
  appendVarchar(v: string): void;
  appendDecimal(v: DuckDBDecimalValue): void;
  appendBigInt(v: bigint): void;
  appendInteger(v: number): void;
  appendNull(): void;
  endRow(): void;
}

/** A RowSink that buffers a chunk of rows column-wise and appends it with one native call. */
export class ChunkAppender implements RowSink {
  private readonly types: DuckDBType[];
  private buffer: DuckDBValue[][];
  private col = 0;
  private buffered = 0;

  constructor(
    private readonly appender: DuckDBAppender,
    columns: readonly (readonly [string, string])[],
  ) {
    this.types = columns.map(([n, t]) => columnFor('raw', n, t).type);
    this.buffer = this.types.map(() => []);
  }

  private push(v: DuckDBValue): void {
    this.buffer[this.col++]!.push(v);
  }
  appendVarchar(v: string): void {
    this.push(v);
  }
  appendDecimal(v: DuckDBDecimalValue): void {
    this.push(v);
  }
  appendBigInt(v: bigint): void {
    this.push(v);
  }
  appendInteger(v: number): void {
    this.push(v);
  }
  appendNull(): void {
    this.push(null);
  }
  endRow(): void {
    if (this.col !== this.types.length)
      throw new CryptolambdaError('INTERNAL', `row has ${this.col} values, table has ${this.types.length} columns`);
    this.col = 0;
    if (++this.buffered === CHUNK_ROWS) this.flush();
  }

  private flush(): void {
    if (this.buffered === 0) return;
    const chunk = DuckDBDataChunk.create(this.types, this.buffered);
    for (let i = 0; i < this.types.length; i++) chunk.setColumnValues(i, this.buffer[i]!);
    this.appender.appendDataChunk(chunk);
    this.buffer = this.types.map(() => []);
    this.buffered = 0;
  }

  close(): void {
    this.flush();
    this.appender.closeSync();
  }
}
