import { CryptolambdaError } from '../errors.js';
import { Decimal } from '../money/decimal.js';
import { assertDate } from './dag.js';

/**
 * Data-quality checks declared as data, compiled to SQL that returns the violating rows.
 *
 * Safety: the only values in a compiled query are bound parameters (`$1` = the run date, then the
 * check's thresholds and the sample size). Table and column names cannot be bound in SQL, so they
 * come only from the declared spec, must look like plain identifiers, and are quoted anyway.
 */

export const DQ_KINDS = [
  'row_count_vs_previous',
  'not_null',
  'unique',
  'referential',
  'non_negative',
  'freshness',
] as const;
export type DqKind = (typeof DQ_KINDS)[number];

export interface DqCheck {
  /** Stable name shown in results and alerts, e.g. `fact_portfolio_daily.user_id.not_null`. */
  readonly id: string;
  readonly kind: DqKind;
  readonly table: string;
  /**
   * not_null / unique / non_negative: the columns checked (unique: the composite key).
   * referential: the foreign-key columns of `table`. freshness: exactly one timestamp or date column.
   * row_count_vs_previous: unused.
   */
  readonly columns: readonly string[];
  /**
   * The date column that scopes the check to the run's date (`= $1`). Omit for tables without a
   * date (dimensions): the whole table is checked. Required for row_count_vs_previous.
   */
  readonly dateColumn?: string;
  /** referential: the parent table and its key columns (same order as `columns`). */
  readonly ref?: { readonly table: string; readonly columns: readonly string[] };
  /** row_count_vs_previous: fail when rows(date) / rows(previous date with rows) is outside [min, max]. */
  readonly minRatio?: number;
  readonly maxRatio?: number;
  /** freshness: the newest value of the column must be at most this old at the end of the run date. */
  readonly maxAgeHours?: number;
  /** 'error' (default) fails the DQ step; 'warn' is reported only. */
  readonly severity?: 'error' | 'warn';
}

/** The SQL of one check. Returns no row when the check passes. */
export interface CompiledCheck {
  readonly check: DqCheck;
  /** Violating rows, each with `violation_count` (the total, also beyond the sample). */
  readonly sql: string;
  readonly params: readonly (string | number | null)[];
}

export interface DqResult {
  readonly id: string;
  readonly kind: DqKind;
  readonly table: string;
  readonly severity: 'error' | 'warn';
  readonly passed: boolean;
  readonly violationCount: number;
  /** Up to `sampleSize` violating rows, values made JSON-safe. */
  readonly sample: readonly Record<string, unknown>[];
  /** Set when the query itself failed (missing table, bad column): counts as not passed. */
  readonly error?: string;
  /** What was measured against which bounds, in words ("120 rows vs 300 on 2026-11-22: ratio 0.40, bounds [0.9, none]"). */
  readonly measured?: string;
}

const num = (v: unknown): number => Number(v);
/** cur / prev to two decimals (half-even), exact from the integer row counts (prev >= 1: a date with rows). */
const ratioText = (cur: unknown, prev: unknown): string =>
  Decimal.fromUnits(BigInt(String(cur)), 0)
    .div(Decimal.fromUnits(BigInt(String(prev)), 0), 2)
    .toString();
const bound = (x: number | undefined): string => (x === undefined ? 'none' : String(x));

/** The measured value and the bounds of a failed check, from its declaration and sample rows. */
export const describeViolation = (
  check: DqCheck,
  count: number,
  sample: readonly Record<string, unknown>[],
): string => {
  const first = sample[0] ?? {};
  switch (check.kind) {
    case 'row_count_vs_previous':
      return `${num(first.row_count)} rows vs ${num(first.previous_row_count)} on ${String(first.previous_date)}: ratio ${ratioText(first.row_count, first.previous_row_count)}, bounds [${bound(check.minRatio)}, ${bound(check.maxRatio)}]`;
    case 'freshness':
      return `newest ${check.columns[0]} ${first.newest === null ? 'none' : String(first.newest)}, must be at or after ${String(first.required_after)} (max age ${check.maxAgeHours} h)`;
    case 'unique':
      return `${count} duplicated ${check.columns.join(', ')} key(s), allowed 0`;
    case 'referential':
      return `${count} row(s) without a matching ${check.ref?.table ?? 'parent'}, allowed 0`;
    case 'not_null':
      return `${count} row(s) with a null ${check.columns.join(' or ')}, allowed 0`;
    case 'non_negative':
      return `${count} row(s) with a negative ${check.columns.join(' or ')}, allowed 0`;
  }
};

export interface DqReport {
  readonly date: string;
  readonly passed: boolean;
  readonly results: readonly DqResult[];
}

/**
 * Thrown by a DQ step when an error-severity check fails. Not retriable (the data will not change
 * by waiting); the runner turns it into a 'dq_violation' alert that names checks and sample rows.
 */
export class DqViolationError extends Error {
  override readonly name = 'DqViolationError';
  readonly retriable = false;
  constructor(readonly report: DqReport) {
    const failed = report.results.filter((r) => !r.passed && r.severity === 'error');
    super(
      `data-quality checks failed for ${report.date}: ${failed
        .map((r) => (r.error ? `${r.id} (error: ${r.error})` : `${r.id}: ${r.measured ?? `${r.violationCount} rows`}`))
        .join(', ')}`,
    );
  }
}

export const isDqViolationError = (e: unknown): e is DqViolationError => e instanceof DqViolationError;

/** Same quoting as the DuckDB adapter's `ident`; core cannot import adapters. */
export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

const invalid = (check: Pick<DqCheck, 'id'>, why: string) =>
  new CryptolambdaError('INVALID_ARGUMENT', `data-quality check ${JSON.stringify(check.id)}: ${why}`);

/** Throws INVALID_ARGUMENT naming the check when a declaration is incomplete or unsafe. */
export const validateCheck = (check: DqCheck): DqCheck => {
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(check.id)) throw invalid(check, 'id must be letters, digits and ._:-');
  if (!DQ_KINDS.includes(check.kind)) throw invalid(check, `unknown kind ${JSON.stringify(check.kind)}`);
  const idents = [check.table, ...check.columns, ...(check.dateColumn ? [check.dateColumn] : [])];
  if (check.ref) idents.push(check.ref.table, ...check.ref.columns);
  for (const n of idents) if (!IDENT_RE.test(n)) throw invalid(check, `${JSON.stringify(n)} is not a plain identifier`);
  const needColumns = check.kind !== 'row_count_vs_previous';
  if (needColumns && check.columns.length === 0) throw invalid(check, `${check.kind} needs at least one column`);
  switch (check.kind) {
    case 'referential':
      if (!check.ref || check.ref.columns.length !== check.columns.length) {
        throw invalid(check, 'referential needs ref.table and as many ref.columns as columns');
      }
      break;
    case 'row_count_vs_previous':
      if (!check.dateColumn) throw invalid(check, 'row_count_vs_previous needs dateColumn');
      if (check.minRatio === undefined && check.maxRatio === undefined) {
        throw invalid(check, 'row_count_vs_previous needs minRatio and/or maxRatio');
      }
      for (const r of [check.minRatio, check.maxRatio]) {
        if (r !== undefined && !(Number.isFinite(r) && r >= 0)) throw invalid(check, 'ratios must be >= 0');
      }
      break;
    case 'freshness':
      if (check.columns.length !== 1) throw invalid(check, 'freshness needs exactly one column');
      if (!(check.maxAgeHours !== undefined && Number.isFinite(check.maxAgeHours) && check.maxAgeHours >= 0)) {
        throw invalid(check, 'freshness needs maxAgeHours >= 0');
      }
      break;
    default:
      break;
  }
  return check;
};

/**
 * Compile a check to SQL returning its violating rows plus `violation_count`, with at most
 * `sampleSize` rows. `$1` is always the run date (YYYY-MM-DD, cast to DATE in SQL).
 */
export const compileCheck = (
  check: DqCheck,
  date: string,
  opts: { sampleSize?: number; quote?: (name: string) => string } = {},
): CompiledCheck => {
  validateCheck(check);
  assertDate(date);
  const q = opts.quote ?? quoteIdent;
  const sampleSize = opts.sampleSize ?? 5;
  const t = q(check.table);
  const cols = check.columns.map(q);
  const scope = (alias?: string) =>
    // Undated tables still reference $1 so every query takes the same first parameter.
    check.dateColumn
      ? `${alias ? `${alias}.` : ''}${q(check.dateColumn)} = CAST($1 AS DATE)`
      : 'CAST($1 AS DATE) IS NOT NULL';
  const params: (string | number | null)[] = [date];
  const bind = (v: string | number | null): string => {
    params.push(v);
    return `$${params.length}`;
  };
  let violations: string;
  let orderBy: readonly string[];
  switch (check.kind) {
    case 'not_null':
      violations = `SELECT * FROM ${t} WHERE ${scope()} AND (${cols.map((c) => `${c} IS NULL`).join(' OR ')})`;
      orderBy = check.columns;
      break;
    case 'non_negative':
      violations = `SELECT * FROM ${t} WHERE ${scope()} AND (${cols.map((c) => `${c} < 0`).join(' OR ')})`;
      orderBy = check.columns;
      break;
    case 'unique':
      // Rows with a NULL key part are the not_null check's business (SQL unique ignores NULLs too).
      violations =
        `SELECT ${cols.join(', ')}, count(*) AS duplicate_rows FROM ${t} ` +
        `WHERE ${scope()} AND ${cols.map((c) => `${c} IS NOT NULL`).join(' AND ')} ` +
        `GROUP BY ${cols.join(', ')} HAVING count(*) > 1`;
      orderBy = check.columns;
      break;
    case 'referential': {
      const r = q(check.ref!.table);
      const on = check.columns.map((c, i) => `p.${q(check.ref!.columns[i]!)} = c.${q(c)}`).join(' AND ');
      violations =
        `SELECT c.* FROM ${t} AS c WHERE ${scope('c')} ` +
        `AND ${check.columns.map((c) => `c.${q(c)} IS NOT NULL`).join(' AND ')} ` +
        `AND NOT EXISTS (SELECT 1 FROM ${r} AS p WHERE ${on})`;
      orderBy = check.columns;
      break;
    }
    case 'row_count_vs_previous': {
      const d = q(check.dateColumn!);
      const min = bind(check.minRatio ?? null);
      const max = bind(check.maxRatio ?? null);
      // Compared with the most recent earlier date that has rows; the first date ever passes.
      violations =
        `SELECT CAST($1 AS DATE) AS ${q('date')}, cur.n AS row_count, prev_date.d AS previous_date, prev.n AS previous_row_count, ` +
        `cur.n / prev.n AS ratio FROM ` +
        `(SELECT count(*) AS n FROM ${t} WHERE ${d} = CAST($1 AS DATE)) AS cur, ` +
        `(SELECT max(${d}) AS d FROM ${t} WHERE ${d} < CAST($1 AS DATE)) AS prev_date, ` +
        `(SELECT count(*) AS n FROM ${t} WHERE ${d} = (SELECT max(${d}) FROM ${t} WHERE ${d} < CAST($1 AS DATE))) AS prev ` +
        `WHERE prev_date.d IS NOT NULL AND ((CAST(${min} AS DOUBLE) IS NOT NULL AND cur.n / prev.n < CAST(${min} AS DOUBLE)) ` +
        `OR (CAST(${max} AS DOUBLE) IS NOT NULL AND cur.n / prev.n > CAST(${max} AS DOUBLE)))`;
      orderBy = ['date'];
      break;
    }
    case 'freshness': {
      const c = cols[0]!;
      const seconds = bind(Math.round(check.maxAgeHours! * 3600));
      // Measured against the end of the run date, not the wall clock, so backfills are deterministic.
      violations =
        `SELECT max_value AS newest, required_after FROM (SELECT CAST(max(${c}) AS TIMESTAMP) AS max_value, ` +
        `CAST($1 AS DATE) + INTERVAL 1 DAY - to_seconds(CAST(${seconds} AS BIGINT)) AS required_after ` +
        `FROM ${t} WHERE ${scope()}) WHERE max_value IS NULL OR max_value < required_after`;
      orderBy = ['newest'];
      break;
    }
  }
  const limit = bind(sampleSize);
  const sql =
    `WITH violations AS (${violations}) ` +
    `SELECT (SELECT count(*) FROM violations) AS violation_count, v.* FROM violations AS v ` +
    `ORDER BY ${orderBy.map((c) => `v.${q(c)} NULLS FIRST`).join(', ')} LIMIT CAST(${limit} AS BIGINT)`;
  return { check, sql, params };
};

/**
 * The warehouse tables and columns the default checks refer to, in one place so the batch layer's
 * actual schema can be mirrored by editing only this constant.
 */
export const WAREHOUSE_SCHEMA = {
  factPortfolioDaily: {
    table: 'fact_portfolio_daily',
    date: 'date',
    user: 'user_id',
    asset: 'asset',
    quantity: 'quantity_held',
  },
  factRewardDaily: {
    table: 'fact_reward_daily',
    date: 'date',
    user: 'user_id',
    amounts: ['spend', 'cashback_owed', 'cashback_paid', 'staking_income'],
  },
  dimUser: { table: 'dim_user', key: 'user_id' },
  dimAsset: { table: 'dim_asset', key: 'asset' },
} as const;

export type WarehouseSchema = {
  readonly factPortfolioDaily: { table: string; date: string; user: string; asset: string; quantity: string };
  readonly factRewardDaily: { table: string; date: string; user: string; amounts: readonly string[] };
  readonly dimUser: { table: string; key: string };
  readonly dimAsset: { table: string; key: string };
};

/** The default checks over the warehouse star schema for one date. */
/** The thresholds of the default checks (from the configuration's `dq` section). */
export interface DqThresholds {
  readonly rowCountMinRatio: number | null;
  readonly rowCountMaxRatio: number | null;
  readonly freshnessMaxAgeHours: number;
}

export const DEFAULT_DQ_THRESHOLDS: DqThresholds = {
  rowCountMinRatio: 0.9,
  rowCountMaxRatio: null,
  freshnessMaxAgeHours: 24,
};

export const defaultChecks = (
  s: WarehouseSchema = WAREHOUSE_SCHEMA,
  th: DqThresholds = DEFAULT_DQ_THRESHOLDS,
): DqCheck[] => {
  const p = s.factPortfolioDaily;
  const r = s.factRewardDaily;
  return [
    {
      id: `${p.table}.keys.not_null`,
      kind: 'not_null',
      table: p.table,
      dateColumn: p.date,
      columns: [p.user, p.asset],
    },
    {
      id: `${p.table}.key.unique`,
      kind: 'unique',
      table: p.table,
      dateColumn: p.date,
      columns: [p.user, p.asset, p.date],
    },
    {
      id: `${p.table}.${p.quantity}.non_negative`,
      kind: 'non_negative',
      table: p.table,
      dateColumn: p.date,
      columns: [p.quantity],
    },
    {
      id: `${p.table}.${p.user}.references.${s.dimUser.table}`,
      kind: 'referential',
      table: p.table,
      dateColumn: p.date,
      columns: [p.user],
      ref: { table: s.dimUser.table, columns: [s.dimUser.key] },
    },
    {
      id: `${p.table}.${p.asset}.references.${s.dimAsset.table}`,
      kind: 'referential',
      table: p.table,
      dateColumn: p.date,
      columns: [p.asset],
      ref: { table: s.dimAsset.table, columns: [s.dimAsset.key] },
    },
    // Holdings are carried forward daily: a sharp drop means a partial build. Growth is normal
    // (new users), so there is no upper bound unless configured.
    {
      id: `${p.table}.row_count`,
      kind: 'row_count_vs_previous',
      table: p.table,
      dateColumn: p.date,
      columns: [],
      ...(th.rowCountMinRatio === null ? {} : { minRatio: th.rowCountMinRatio }),
      ...(th.rowCountMaxRatio === null ? {} : { maxRatio: th.rowCountMaxRatio }),
    },
    {
      id: `${r.table}.keys.not_null`,
      kind: 'not_null',
      table: r.table,
      dateColumn: r.date,
      columns: [r.user],
    },
    {
      id: `${r.table}.keys.unique`,
      kind: 'unique',
      table: r.table,
      dateColumn: r.date,
      columns: [r.user, r.date],
    },
    {
      id: `${r.table}.amounts.non_negative`,
      kind: 'non_negative',
      table: r.table,
      dateColumn: r.date,
      columns: [...r.amounts],
    },
    {
      id: `${r.table}.${r.user}.references.${s.dimUser.table}`,
      kind: 'referential',
      table: r.table,
      dateColumn: r.date,
      columns: [r.user],
      ref: { table: s.dimUser.table, columns: [s.dimUser.key] },
    },
    { id: `${s.dimUser.table}.key.unique`, kind: 'unique', table: s.dimUser.table, columns: [s.dimUser.key] },
    { id: `${s.dimAsset.table}.key.unique`, kind: 'unique', table: s.dimAsset.table, columns: [s.dimAsset.key] },
    // The newest snapshot must be the run date itself (max(date) >= end of day - 24 h).
    {
      id: `${p.table}.freshness`,
      kind: 'freshness',
      table: p.table,
      columns: [p.date],
      maxAgeHours: th.freshnessMaxAgeHours,
    },
  ];
};
