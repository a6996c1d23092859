import { type DuckDBAppender, DuckDBDateValue, type DuckDBValue } from '@duckdb/node-api';
import { CryptolambdaError } from '../../core/errors.js';
import { Decimal } from '../../core/money/decimal.js';
import { columnsDdl, type TableDef } from '../../core/warehouse/schema.js';
import { type Duck, ident, toDuckDecimal } from '../duckdb/db.js';

/**
 * Rows between JS and DuckDB for the warehouse build. Rows go in through appenders into staging
 * tables typed exactly like the contract (schema.ts), so decimals travel as bigint units and never
 * as SQL text or JS numbers; they come out through streamed queries, a chunk at a time.
 */
export type CellValue = Decimal | string | number | bigint | boolean | null | undefined;

const DECIMAL_RE = /^DECIMAL\(38, ?(\d+)\)$/;

type Writer = (a: DuckDBAppender, v: CellValue) => void;

const writerFor = (table: string, column: string, type: string): Writer => {
  const m = DECIMAL_RE.exec(type);
  if (m) {
    const scale = Number(m[1]);
    return (a, v) => {
      if (!(v instanceof Decimal)) throw new CryptolambdaError('INTERNAL', `${table}.${column}: expected a Decimal`);
      a.appendDecimal(toDuckDecimal(v, scale));
    };
  }
  switch (type) {
    case 'VARCHAR':
      return (a, v) => a.appendVarchar(String(v));
    case 'BIGINT':
      return (a, v) => a.appendBigInt(BigInt(v as number | bigint));
    case 'INTEGER':
      return (a, v) => a.appendInteger(Number(v));
    case 'BOOLEAN':
      return (a, v) => a.appendBoolean(Boolean(v));
    case 'DATE':
      // 'YYYY-MM-DD' → days since the epoch (UTC), exact.
      return (a, v) => a.appendDate(new DuckDBDateValue(Date.parse(`${String(v)}T00:00:00Z`) / 86_400_000));
    default:
      throw new CryptolambdaError('INTERNAL', `${table}.${column}: no appender for type ${type}`);
  }
};

/** A staging table shaped like `def`, filled row by row through an appender. */
export class Staging {
  private readonly writers: Writer[];
  rows = 0;

  private constructor(
    readonly def: TableDef,
    readonly name: string,
    private readonly appender: DuckDBAppender,
  ) {
    this.writers = def.columns.map((c) => writerFor(def.name, c.name, c.type));
  }

  static async create(duck: Duck, def: TableDef, name = `stage_${def.name}`): Promise<Staging> {
    await duck.run(`CREATE OR REPLACE TABLE ${ident(name)} (${columnsDdl(def)})`);
    return new Staging(def, name, await duck.conn.createAppender(name));
  }

  /** Values in the table's column order; null/undefined only for nullable columns. */
  append(values: readonly CellValue[]): void {
    const cols = this.def.columns;
    for (let i = 0; i < cols.length; i++) {
      const v = values[i];
      if (v === null || v === undefined) {
        if (!cols[i]!.nullable)
          throw new CryptolambdaError('INTERNAL', `${this.def.name}.${cols[i]!.name} is NOT NULL`);
        this.appender.appendNull();
      } else this.writers[i]!(this.appender, v);
    }
    this.appender.endRow();
    this.rows++;
  }

  close(): void {
    this.appender.closeSync();
  }
}

/** Stream a query's rows, a chunk at a time (bounded memory on large results). */
export async function* streamRows(duck: Duck, sql: string, params: DuckDBValue[] = []): AsyncGenerator<DuckDBValue[]> {
  const result = await duck.conn.stream(sql, params);
  for await (const rows of result.yieldRows()) yield* rows;
}
