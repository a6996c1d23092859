import {
  BIGINT,
  BOOLEAN,
  DATE,
  DECIMAL,
  type DuckDBAppender,
  DuckDBBigIntVector,
  DuckDBDataChunk,
  DuckDBDateValue,
  DuckDBDecimal128Vector,
  DuckDBDecimalValue,
  type DuckDBType,
  type DuckDBValue,
  DuckDBVarCharVector,
  type DuckDBVector,
  INTEGER,
  VARCHAR,
} from '@duckdb/node-api';
import bindings from '@duckdb/node-bindings';
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

/**
 * In a DECIMAL column a bigint is the value's integer units AT THE COLUMN'S SCALE (schema.ts builds
 * QTY_TYPE/USD_TYPE from QTY_SCALE/USD_SCALE): the open lots are stored as units (LotRow), and a
 * Decimal per cell only to be taken apart again was a measurable share of staging a day whose
 * fact_lot_daily holds more than a row per event.
 */

const DECIMAL_RE = /^DECIMAL\(38, ?(\d+)\)$/;
const CHUNK_ROWS = 2048;
/** |units| of DECIMAL(38, s): below 10^38. */
const MAX_UNITS = 10n ** 38n;

interface Column {
  readonly type: DuckDBType;
  readonly convert: (v: Exclude<CellValue, null | undefined>) => DuckDBValue;
  /** VARCHAR: written as DuckDB string_t cells straight into the chunk when short (see inlineString). */
  readonly varchar?: true;
  /** DECIMAL: the cell's units, written as int128 cells straight into the chunk (see writeInt128). */
  readonly units?: (v: Exclude<CellValue, null | undefined>) => bigint;
  /** BIGINT: written as int64 cells straight into the chunk (see writeInt64). */
  readonly int64?: true;
}

const MIN_I64 = -(2n ** 63n);
const MAX_I64 = 2n ** 63n - 1n;

/**
 * A DECIMAL(38) cell (int128, little-endian) into a chunk buffer. The node API's setItem split
 * every value into BigInt halves (asUintN, >> 64n: new BigInts per cell, the largest allocation
 * site of a build after reading strings); amounts that fit 64 bits, nearly all of them, are written
 * with no BigInt made at all.
 */
const writeInt128 = (view: DataView, at: number, u: bigint): void => {
  if (u >= MIN_I64 && u <= MAX_I64) {
    view.setBigInt64(at, u, true);
    const sign = u < 0n ? -1 : 0;
    view.setInt32(at + 8, sign, true);
    view.setInt32(at + 12, sign, true);
  } else {
    view.setBigUint64(at, BigInt.asUintN(64, u), true);
    view.setBigInt64(at + 8, u >> 64n, true);
  }
};

/**
 * A BIGINT cell (int64, little-endian) into a chunk buffer. A safe integer (epoch milliseconds,
 * sequence numbers, counts: every BIGINT the build stages) is written as two 32-bit words, with no
 * BigInt made: the node API's setItem wanted one per cell (`BigInt(v)`), two per open lot.
 * Two's complement: the low word is v mod 2^32, the high word floor(v / 2^32).
 */
const writeInt64 = (view: DataView, at: number, v: Exclude<CellValue, null | undefined>): void => {
  if (typeof v === 'number' && Number.isSafeInteger(v)) {
    view.setUint32(at, v >>> 0, true);
    view.setInt32(at + 4, Math.floor(v / 4_294_967_296), true);
    return;
  }
  const b = BigInt(v as number | bigint | string | boolean);
  if (b < MIN_I64 || b > MAX_I64) throw new CryptolambdaError('INTERNAL', `${b} does not fit a BIGINT`);
  view.setBigInt64(at, b, true);
};

/**
 * duckdb_string_t (duckdb.h, the C API's VARCHAR cell): 16 bytes, a uint32 length and, up to 12
 * bytes, the string itself inline (zero-padded); longer ones point to the vector's heap. Short
 * ASCII cells are written into a buffer of the column and copied into the chunk's vector in one
 * call at flush; the node API's setItem + flush made a native call per cell
 * (vector_assign_string_element), the largest single cost of staging (user ids, assets, lot ids).
 * Returns false when the value must go the API's way (longer than 12 bytes, or not ASCII); that
 * cell is then zeroed here (an empty inline string) and assigned by the API after the copy.
 */
const inlineString = (bytes: Uint8Array<ArrayBuffer>, row: number, s: string): boolean => {
  const n = s.length;
  const at = row * 16;
  if (n > 12) {
    bytes.fill(0, at, at + 16);
    return false;
  }
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) {
      bytes.fill(0, at, at + 16);
      return false;
    }
    bytes[at + 4 + i] = c;
  }
  for (let i = n; i < 12; i++) bytes[at + 4 + i] = 0;
  bytes[at] = n;
  bytes[at + 1] = 0;
  bytes[at + 2] = 0;
  bytes[at + 3] = 0;
  return true;
};

/** A DECIMAL cell's integer units at the column's scale; DECIMAL_OVERFLOW when they do not fit. */
const unitsFor =
  (table: string, column: string, scale: number) =>
  (v: Exclude<CellValue, null | undefined>): bigint => {
    if (typeof v === 'bigint') {
      // Units at the column's scale (see CellValue).
      if (v >= MAX_UNITS || v <= -MAX_UNITS) toDuckDecimal(Decimal.fromUnits(v, scale), scale); // throws DECIMAL_OVERFLOW
      return v;
    }
    if (!(v instanceof Decimal)) throw new CryptolambdaError('INTERNAL', `${table}.${column}: expected a Decimal`);
    const r = v.rescale(scale);
    if (!r.fits()) toDuckDecimal(r, scale); // throws DECIMAL_OVERFLOW with the value
    return r.units;
  };

const columnFor = (table: string, column: string, type: string): Column => {
  const m = DECIMAL_RE.exec(type);
  if (m) {
    const scale = Number(m[1]);
    const units = unitsFor(table, column, scale);
    return { type: DECIMAL(38, scale), convert: (v) => new DuckDBDecimalValue(units(v), 38, scale), units };
  }
  switch (type) {
    case 'VARCHAR':
      return { type: VARCHAR, convert: (v) => String(v), varchar: true };
    case 'BIGINT':
      return { type: BIGINT, convert: (v) => BigInt(v as number | bigint), int64: true };
    case 'INTEGER':
      return { type: INTEGER, convert: (v) => Number(v) };
    case 'BOOLEAN':
      return { type: BOOLEAN, convert: (v) => Boolean(v) };
    case 'DATE': {
      // 'YYYY-MM-DD' → days since the epoch (UTC), exact. A build stages one date in millions of
      // rows: the last one is kept (the vector copies the days at once, the holder is not kept).
      let last: { text: string; value: DuckDBDateValue } | undefined;
      return {
        type: DATE,
        convert: (v) => {
          const text = String(v);
          if (last?.text !== text)
            last = { text, value: new DuckDBDateValue(Date.parse(`${text}T00:00:00Z`) / 86_400_000) };
          return last.value;
        },
      };
    }
    default:
      throw new CryptolambdaError('INTERNAL', `${table}.${column}: no staging type for ${type}`);
  }
};

/**
 * A staging table shaped like `def`, filled row by row straight into a data chunk's vectors (no
 * per-column arrays, no value object per decimal cell), appended to DuckDB a chunk at a time.
 */
export class Staging {
  private readonly columns: Column[];
  private readonly names: ReadonlySet<string>;
  private readonly stored: readonly ColumnDef[];
  private chunk!: DuckDBDataChunk;
  private vectors!: DuckDBVector[];
  /** The VARCHAR columns' string_t cells of the chunk being filled (see inlineString), by column. */
  private readonly cells: (Uint8Array<ArrayBuffer> | undefined)[];
  /** The DECIMAL columns' int128 cells of the chunk being filled (see writeInt128), by column. */
  private readonly int128: (DataView<ArrayBuffer> | undefined)[];
  /** The BIGINT columns' int64 cells of the chunk being filled (see writeInt64), by column. */
  private readonly int64: (DataView<ArrayBuffer> | undefined)[];
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
    this.cells = this.columns.map((c) => (c.varchar ? new Uint8Array(CHUNK_ROWS * 16) : undefined));
    this.int128 = this.columns.map((c) => (c.units ? new DataView(new ArrayBuffer(CHUNK_ROWS * 16)) : undefined));
    this.int64 = this.columns.map((c) => (c.int64 ? new DataView(new ArrayBuffer(CHUNK_ROWS * 8)) : undefined));
    this.newChunk();
  }

  private newChunk(): void {
    this.chunk = DuckDBDataChunk.create(
      this.columns.map((c) => c.type),
      CHUNK_ROWS,
    );
    this.vectors = this.columns.map((_, i) => this.chunk.getColumnVector(i));
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
      this.cells[i]?.fill(0, this.buffered * 16, this.buffered * 16 + 16);
      this.vectors[i]!.setItem(this.buffered, null);
      return;
    }
    const cells = this.cells[i];
    if (cells !== undefined && typeof v === 'string' && inlineString(cells, this.buffered, v)) return;
    const int128 = this.int128[i];
    if (int128 !== undefined) {
      writeInt128(int128, this.buffered * 16, this.columns[i]!.units!(v));
      return;
    }
    const int64 = this.int64[i];
    if (int64 !== undefined) {
      writeInt64(int64, this.buffered * 8, v);
      return;
    }
    this.vectors[i]!.setItem(this.buffered, this.columns[i]!.convert(v));
  }

  private endRow(): void {
    this.rows++;
    if (++this.buffered === CHUNK_ROWS) this.flush();
  }

  private flush(): void {
    if (this.buffered === 0) return;
    // The inline cells first: the API's flush then assigns the long strings over their zeroed cells.
    for (let i = 0; i < this.cells.length; i++) {
      const cells = this.cells[i];
      if (cells === undefined) continue;
      const vector = bindings.data_chunk_get_vector(this.chunk.chunk, i);
      bindings.copy_data_to_vector(vector, 0, cells.buffer, cells.byteOffset, this.buffered * 16);
    }
    for (const v of this.vectors) v.flush();
    // The int128 and int64 cells last: the API's flush copied its own buffer of the column (only
    // its NULLs are set there, in the validity mask it wrote), which these replace.
    for (let i = 0; i < this.int128.length; i++) {
      const cells = this.int128[i];
      if (cells === undefined) continue;
      const vector = bindings.data_chunk_get_vector(this.chunk.chunk, i);
      bindings.copy_data_to_vector(vector, 0, cells.buffer, cells.byteOffset, this.buffered * 16);
    }
    for (let i = 0; i < this.int64.length; i++) {
      const cells = this.int64[i];
      if (cells === undefined) continue;
      const vector = bindings.data_chunk_get_vector(this.chunk.chunk, i);
      bindings.copy_data_to_vector(vector, 0, cells.buffer, cells.byteOffset, this.buffered * 8);
    }
    this.chunk.rowCount = this.buffered;
    this.appender.appendDataChunk(this.chunk);
    this.newChunk();
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

/** A raw vector's validity: uint64 words of bits, row i at bit i & 7 of byte i >> 3 (null: all valid). */
const validityOf = (raw: ReturnType<typeof bindings.data_chunk_get_vector>, n: number): Uint8Array | null =>
  bindings.vector_get_validity(raw, Math.ceil(n / 64) * 8);

/** Reused code arrays by length for String.fromCharCode.apply (one string made per cell, nothing else). */
const CODES = Array.from({ length: 13 }, (_, n) => new Array<number>(n).fill(0));

/**
 * A chunk's VARCHAR column as a cell reader, for the hot loops over streamChunks: a short ASCII
 * cell (duckdb_string_t inline, see inlineString) is decoded here, and a cell equal to the one read
 * before it (a user's id and assets over its rows) is that same string, not a new one; any other
 * cell goes through the node API. Its getItem cached every cell of the chunk and made each through
 * TextDecoder: the largest allocation site of a build (1.1 of 11.4 GB on a 100k-user day 2).
 */
export const varcharReader = (chunk: DuckDBDataChunk, column: number): ((row: number) => string | null) => {
  const api = chunk.getColumnVector(column);
  const raw = bindings.data_chunk_get_vector(chunk.chunk, column);
  const n = chunk.rowCount;
  const cells = bindings.vector_get_data(raw, n * 16);
  const validity = validityOf(raw, n);
  let lastAt = -1;
  let last = '';
  return (row) => {
    if (validity && (validity[row >> 3]! & (1 << (row & 7))) === 0) return null;
    const at = row * 16;
    const len = cells[at]! + cells[at + 1]! * 256 + cells[at + 2]! * 65536 + cells[at + 3]! * 16777216;
    if (len > 12) return api.getItem(row) as string | null;
    if (lastAt >= 0 && cells[lastAt] === len) {
      // Both lengths are <= 12, so one length byte each says it.
      let same = true;
      for (let k = 4; same && k < 4 + len; k++) same = cells[lastAt + k] === cells[at + k];
      if (same) return last;
    }
    const codes = CODES[len]!;
    for (let k = 0; k < len; k++) {
      const b = cells[at + 4 + k]!;
      if (b > 0x7f) return api.getItem(row) as string | null;
      codes[k] = b;
    }
    last = String.fromCharCode.apply(null, codes);
    lastAt = at;
    return last;
  };
};

/**
 * A chunk's DECIMAL(38, s) column as a cell reader giving a Decimal at the column's scale. The node
 * API's getItem made four BigInts (the halves, a shift, the sum) and a DuckDBDecimalValue per cell
 * before the Decimal was made from it: on a day of 1M events, three amounts each, the largest
 * allocation site of the build (979 MB of 6.5 GB). An int128 cell whose upper half is the sign
 * extension of its lower half (every amount that fits 64 bits) is read as ONE BigInt from the
 * lower half; any other cell goes through the node API.
 */
export const decimalReader = (chunk: DuckDBDataChunk, column: number): ((row: number) => Decimal | null) => {
  const api = chunk.getColumnVector(column);
  if (!(api instanceof DuckDBDecimal128Vector)) {
    throw new CryptolambdaError('INTERNAL', `column ${column} is ${api.type.toString()}, not a DECIMAL(38)`);
  }
  const scale = api.type.scale;
  const units = unitsReader(chunk, column, scale);
  return (row) => {
    const u = units(row);
    return u === null ? null : Decimal.fromUnits(u, scale);
  };
};

/**
 * A chunk's DECIMAL column as a reader of each cell's integer units at `scale`: straight from the
 * int128 cell (one BigInt, when it fits 64 bits) for a DECIMAL(38) column of that scale; the node
 * API's getInt128 made five BigInts per cell (two halves, the shift's 64n, the shifted half, the
 * sum), four amounts per open lot read back. Any other column or scale goes through the value.
 */
export const unitsReader = (
  chunk: DuckDBDataChunk,
  column: number,
  scale: number,
): ((row: number) => bigint | null) => {
  const api = chunk.getColumnVector(column);
  const viaApi = (row: number): bigint | null => {
    const v = api.getItem(row);
    if (v === null) return null;
    if (v instanceof DuckDBDecimalValue) return Decimal.fromUnits(v.value, v.scale).rescale(scale).units;
    throw new CryptolambdaError('INTERNAL', `column ${column} is ${api.type.toString()}, not a DECIMAL`);
  };
  if (!(api instanceof DuckDBDecimal128Vector) || api.type.scale !== scale) return viaApi;
  const raw = bindings.data_chunk_get_vector(chunk.chunk, column);
  const n = chunk.rowCount;
  const bytes = bindings.vector_get_data(raw, n * 16);
  const validity = validityOf(raw, n);
  // The typed views need the buffer 8-byte aligned (DuckDB's vectors are); else every cell by the API.
  if (bytes.byteOffset % 8 !== 0) return viaApi;
  const words = new Int32Array(bytes.buffer, bytes.byteOffset, n * 4);
  const lows = new BigInt64Array(bytes.buffer, bytes.byteOffset, n * 2);
  return (row) => {
    if (validity && (validity[row >> 3]! & (1 << (row & 7))) === 0) return null;
    // Little-endian int128: words 0-1 the lower 64 bits, 2-3 the upper; fits int64 when the upper
    // words are all sign bits of the lower's top word.
    const w = row * 4;
    const sign = words[w + 1]! < 0 ? -1 : 0;
    if (words[w + 2] === sign && words[w + 3] === sign) return lows[row * 2]!;
    return viaApi(row);
  };
};

/**
 * A chunk's BIGINT column as a cell reader giving a number when the value is a safe integer (epoch
 * milliseconds, offsets), without the BigInt the node API makes per cell; a value beyond 2^53 as
 * the node API's bigint, so a caller's checks see it exactly as before.
 */
export const int64Reader = (chunk: DuckDBDataChunk, column: number): ((row: number) => number | bigint | null) => {
  const api = chunk.getColumnVector(column);
  const raw = bindings.data_chunk_get_vector(chunk.chunk, column);
  const n = chunk.rowCount;
  const bytes = bindings.vector_get_data(raw, n * 8);
  const validity = validityOf(raw, n);
  const viaApi = (row: number) => api.getItem(row) as bigint | null;
  if (bytes.byteOffset % 4 !== 0) return viaApi;
  const words = new Int32Array(bytes.buffer, bytes.byteOffset, n * 2);
  return (row) => {
    if (validity && (validity[row >> 3]! & (1 << (row & 7))) === 0) return null;
    const hi = words[row * 2 + 1]!;
    // |value| < 2^53 exactly when the upper word is within ±2^21 (its top 11 bits all sign bits).
    if (hi >= -0x200000 && hi < 0x200000) return hi * 4294967296 + (words[row * 2]! >>> 0);
    return viaApi(row);
  };
};

/** What a cellReaders reader gives: the node API's values, but DECIMAL(38) as Decimal and BIGINT as number when safe. */
export type CellRead = DuckDBValue | Decimal;

/**
 * A chunk's cells by column, for the hot loops over streamChunks: VARCHAR through varcharReader,
 * DECIMAL(38) through decimalReader (a Decimal), BIGINT through int64Reader (a number when safe),
 * any other type through the node API.
 */
export const cellReaders = (chunk: DuckDBDataChunk): ((row: number) => CellRead)[] =>
  Array.from({ length: chunk.columnCount }, (_, c) => {
    const v = chunk.getColumnVector(c);
    if (v instanceof DuckDBVarCharVector) return varcharReader(chunk, c);
    if (v instanceof DuckDBDecimal128Vector) return decimalReader(chunk, c);
    if (v instanceof DuckDBBigIntVector) return int64Reader(chunk, c);
    return (row: number) => v.getItem(row);
  });

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
