import { type Duck, ident } from '../../adapters/duckdb/db.js';
import { CryptolambdaError } from '../../core/errors.js';
import type { StepDef } from '../../core/pipeline/dag.js';
import {
  compileCheck,
  type DqCheck,
  type DqReport,
  type DqResult,
  DqViolationError,
  describeViolation,
  validateCheck,
} from '../../core/pipeline/dq.js';

/**
 * DuckDB values (bigint counts, DECIMAL, DATE, TIMESTAMP objects) made JSON-safe for the ledger and
 * alerts: bigints become numbers when exact, otherwise strings; DuckDB value objects use their
 * toString, which prints DECIMALs exactly (no float on the way).
 */
export const jsonSafe = (v: unknown): unknown => {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint')
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(jsonSafe);
  return String(v);
};

const oneLine = (err: unknown): string =>
  (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim().slice(0, 300);

/** Run one compiled check; a query error (missing table, wrong column) is a failed result, not a throw. */
export const runCheck = async (duck: Duck, check: DqCheck, date: string, sampleSize = 5): Promise<DqResult> => {
  const severity = check.severity ?? 'error';
  const base = { id: check.id, kind: check.kind, table: check.table, severity } as const;
  const compiled = compileCheck(check, date, { sampleSize, quote: ident });
  try {
    const rows = await duck.rows(compiled.sql, [...compiled.params]);
    const count = rows.length === 0 ? 0 : Number(rows[0]!.violation_count);
    const sample = rows.map((r) => {
      const { violation_count: _c, ...rest } = r;
      return Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, jsonSafe(v)]));
    });
    return {
      ...base,
      passed: count === 0,
      violationCount: count,
      sample,
      ...(count === 0 ? {} : { measured: describeViolation(check, count, sample) }),
    };
  } catch (err) {
    return { ...base, passed: false, violationCount: 0, sample: [], error: oneLine(err) };
  }
};

/** Every check in order against one connection; `passed` ignores 'warn' checks. */
export const runChecks = async (
  duck: Duck,
  checks: readonly DqCheck[],
  date: string,
  opts: { sampleSize?: number } = {},
): Promise<DqReport> => {
  for (const c of checks) validateCheck(c); // a bad declaration fails before any query runs
  const results: DqResult[] = [];
  for (const c of checks) results.push(await runCheck(duck, c, date, opts.sampleSize));
  return { date, passed: results.every((r) => r.passed || r.severity === 'warn'), results };
};

/**
 * A pipeline step that runs `checks` and fails with DqViolationError (not retried; alerts name the
 * checks and sample rows) when an error-severity check fails. `connect` yields a connection on which
 * the warehouse tables are visible (e.g. views over the published Parquet files); `release` is
 * called after the checks whether they pass or not.
 */
export const dqStep = (opts: {
  name?: string;
  dependsOn: readonly string[];
  checks: readonly DqCheck[];
  connect: (date: string) => Promise<Duck>;
  release?: (duck: Duck) => void | Promise<void>;
  sampleSize?: number;
  /** Check ids not run; recorded in the step's detail (the ledger), an unknown id is an error. */
  skip?: readonly string[];
}): StepDef => ({
  name: opts.name ?? 'dq',
  dependsOn: opts.dependsOn,
  retries: 0,
  backoffMs: 0,
  run: async (ctx) => {
    const skip = [...new Set(opts.skip ?? [])];
    const unknown = skip.filter((id) => !opts.checks.some((c) => c.id === id));
    if (unknown.length > 0)
      throw new CryptolambdaError(
        'INVALID_ARGUMENT',
        `--skip-check: no check named ${unknown.join(', ')}`,
        `checks: ${opts.checks.map((c) => c.id).join(', ')}`,
      );
    const checks = opts.checks.filter((c) => !skip.includes(c.id));
    const skipped = skip.length === 0 ? '' : `; skipped: ${skip.join(', ')}`;
    if (skip.length > 0) ctx.log(`skipping ${skip.join(', ')} (--skip-check or dq.skip)`);
    const duck = await opts.connect(ctx.date);
    let report: DqReport;
    try {
      report = await runChecks(duck, checks, ctx.date, { sampleSize: opts.sampleSize ?? 5 });
    } finally {
      await opts.release?.(duck);
    }
    if (!report.passed) throw new DqViolationError(report);
    const warned = report.results.filter((r) => !r.passed);
    return {
      rows: report.results.length,
      detail: `${report.results.length} checks passed${warned.length > 0 ? `, warnings: ${warned.map((w) => w.id).join(', ')}` : ''}${skipped}`,
    };
  },
});
