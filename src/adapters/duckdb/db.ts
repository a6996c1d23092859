import {
  type DuckDBConnection,
  DuckDBDecimalValue,
  DuckDBInstance,
  type DuckDBValue,
  quotedIdentifier,
  quotedString,
} from '@duckdb/node-api';
import { CryptolambdaError } from '../../core/errors.js';
import { Decimal, MAX_PRECISION } from '../../core/money/decimal.js';

/**
 * DuckDB access for the batch layer. All SQL that carries user input goes through bound
 * parameters (`$1` …); identifiers that cannot be bound (table and file names) come only from
 * code constants or validated paths, quoted with `ident`/`literal`.
 */
export class Duck {
  private constructor(
    readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
    /** False for a connection() of another Duck: closing it leaves the shared instance open. */
    private readonly ownsInstance = true,
  ) {}

  /** `path` ':memory:' or a catalog file. Threads default to the machine's cores. */
  static async open(path = ':memory:', opts: { threads?: number; memoryLimit?: string } = {}): Promise<Duck> {
    const config: Record<string, string> = {};
    if (opts.threads) config.threads = String(opts.threads);
    if (opts.memoryLimit) config.memory_limit = opts.memoryLimit;
    const instance = await DuckDBInstance.create(path, config);
    const conn = await instance.connect();
    return new Duck(instance, conn);
  }

  async run(sql: string, params: DuckDBValue[] = []): Promise<void> {
    await this.conn.run(sql, params);
  }

  async rows<T = Record<string, unknown>>(sql: string, params: DuckDBValue[] = []): Promise<T[]> {
    const r = await this.conn.runAndReadAll(sql, params);
    return r.getRowObjects() as T[];
  }

  /** The rows of a query one DuckDB chunk (about 2048 rows) at a time, never the whole result. */
  async *stream<T = Record<string, unknown>>(sql: string, params: DuckDBValue[] = []): AsyncGenerator<T[]> {
    const r = await this.conn.stream(sql, params);
    for await (const rows of r.yieldRowObjects()) yield rows as T[];
  }

  /**
   * Another connection to the same database: one connection runs one query at a time (a second
   * query would invalidate a result still being streamed), so concurrent readers each take one.
   * Closing it closes only the connection.
   */
  async connection(): Promise<Duck> {
    return new Duck(this.instance, await this.instance.connect(), false);
  }

  close(): void {
    this.conn.closeSync();
    if (this.ownsInstance) this.instance.closeSync();
  }
}

/** Quote an SQL identifier with DuckDB's own quoting. Only for names from code, never user input. */
export const ident = (name: string): string => quotedIdentifier(name);
/** Quote a string literal with DuckDB's own quoting (file paths in COPY/read_parquet, which DuckDB cannot bind). */
export const literal = (s: string): string => quotedString(s);

/** Exact Decimal → DuckDB DECIMAL(38, scale) value (bigint units, no float on the way). */
export const toDuckDecimal = (d: Decimal, scale: number = d.scale): DuckDBDecimalValue => {
  const r = d.rescale(scale);
  if (!r.fits()) {
    throw new CryptolambdaError('DECIMAL_OVERFLOW', `${r.toString()} does not fit DECIMAL(38,${scale})`);
  }
  return new DuckDBDecimalValue(r.units, MAX_PRECISION, scale);
};

/** DuckDB DECIMAL read back as an exact Decimal at its column scale. */
export const fromDuckDecimal = (v: unknown): Decimal => {
  if (v instanceof DuckDBDecimalValue) return Decimal.fromUnits(v.value, v.scale);
  throw new CryptolambdaError('INTERNAL', `expected a DECIMAL value, got ${typeof v}`);
};
