import { ReconcileScope } from '../../adapters/lake/reconcile-scope.js';
import {
  openReconciliationWriter,
  readReconciliationReport,
  reconciledDates,
  reconciliationFile,
  writeReconciliationReport,
} from '../../adapters/lake/reconciliation-writer.js';
import { CryptolambdaError } from '../../core/errors.js';
import { parseDate } from '../../core/serving/input.js';
import { addSummaries, type ReconRow, type ReconSummary, reconcileDay } from '../../core/serving/reconcile.js';
import { gapWarnings, type RecordedGaps, readRecordedGaps } from '../gaps.js';
import type { ServingContext } from './context.js';

export interface ReconcileReport {
  readonly date: string;
  readonly summary: ReconSummary;
  /**
   * Rows that are not a match (mismatches with the exact difference, missing subjects), in user
   * order, at most `maxFindings` of them: a broken day can have millions, and every one is in the
   * file anyway.
   */
  readonly findings: ReconRow[];
  /** Findings past `maxFindings`, counted but only in the file. */
  readonly findingsOmitted: number;
  /** The fact_reconciliation file written for the date. */
  readonly file: string;
  readonly rowsWritten: number;
  /** Whole-side problems that explain a flood of findings (e.g. the speed layer's day keys expired). */
  readonly warnings: string[];
  /** Accepted data loss in either layer: reconcile cannot see what both layers missed. */
  readonly gaps: RecordedGaps;
  /**
   * User events of the date that were TOO_LATE (core/time/lateness.ts, docs/core.md §5b): neither
   * layer applied them, so they are compared as sets. `events` / `batch` count each side's;
   * `onlyInSpeed` / `onlyInBatch` count the events one side rejected and the other did not (e.g.
   * the layers ran with different `speed.userLateness`), `examples` names the first 20: any makes
   * the day unclean.
   */
  readonly tooLate?: {
    readonly events: number;
    readonly batch: number;
    readonly users: readonly string[];
    readonly onlyInSpeed: number;
    readonly onlyInBatch: number;
    readonly examples: readonly string[];
  };
}

export interface ReconcileOptions {
  /** Users compared per page (memory is bounded by a page, not by the day's users). */
  readonly pageUsers?: number;
  /** Findings kept in the report; the rest are counted (findingsOmitted) and written to the file. */
  readonly maxFindings?: number;
  /** Called after each page (the bench and progress logs). */
  readonly onPage?: (p: { users: number; of: number }) => void;
}

export const DEFAULT_PAGE_USERS = 2000;
export const DEFAULT_MAX_FINDINGS = 10_000;

/**
 * `reconcile --date D`: batch facts of D vs the speed layer's end-of-day state of D (see
 * core/serving/reconcile.ts for the rules). Writes every compared field to fact_reconciliation for
 * the date and returns the report; the caller turns `summary.clean === false` into a non-zero exit.
 *
 * Streamed, so a day of millions of users runs in the memory of a page: the scope (every user of D on
 * either side, reconcile-scope.ts) is listed once in DuckDB, then taken `pageUsers` users at a time
 * in user order; each page reads its users' facts (a pruned range of the user-sorted Parquet) and
 * their end-of-day state from Redis, runs the pure comparison, appends its rows to the streamed file
 * writer and keeps only the findings. The comparison is per user, so the pages' results concatenate
 * to the whole day's.
 */
export const reconcile = async (
  ctx: ServingContext,
  rawDate: string,
  opts: ReconcileOptions = {},
): Promise<ReconcileReport> => {
  const date = parseDate(rawDate, '--date');
  if (ctx.warehouse.ledger.builds[date] === undefined) {
    throw new CryptolambdaError(
      'NOT_FOUND',
      `the batch has not built ${date}`,
      `run \`cryptolambda batch --date ${date}\` first (built: ${ctx.warehouse.dates().join(', ') || 'none'})`,
    );
  }
  const speed = ctx.speed;
  if (speed === null) throw new CryptolambdaError('INTERNAL', 'reconcile needs the speed layer');
  const pageUsers = opts.pageUsers ?? DEFAULT_PAGE_USERS;
  const maxFindings = opts.maxFindings ?? DEFAULT_MAX_FINDINGS;
  const scope = await ReconcileScope.open(ctx.warehouse, date, speed.dayMembers(date));
  const summaries: ReconSummary[] = [];
  const findings: ReconRow[] = [];
  let findingsOmitted = 0;
  let written: { path: string; rows: number };
  try {
    const writer = await openReconciliationWriter(ctx.warehouse.lakeDir, date);
    try {
      let done = 0;
      for await (const page of scope.pages(pageUsers)) {
        const members = page.users.flatMap((u) =>
          u.partition === null ? [] : [{ userId: u.userId, partition: u.partition }],
        );
        const result = reconcileDay(date, page.positions, page.rewards, await speed.usersOfDay(date, members));
        summaries.push(result.summary);
        for (const r of result.rows) {
          if (r.status === 'match') continue;
          if (findings.length < maxFindings) findings.push(r);
          else findingsOmitted++;
        }
        await writer.append(result.rows);
        done += page.users.length;
        opts.onPage?.({ users: done, of: scope.users });
      }
    } catch (err) {
      await writer.abort();
      throw err;
    }
    written = await writer.commit();
  } finally {
    await scope.close();
  }
  let summary = addSummaries(date, summaries);
  const warnings: string[] = [];
  if (scope.speedUsers === 0 && summary.users > 0) {
    warnings.push(
      `the speed layer has no data for ${date} (its per-day keys live about 8 days, or the stream did not run): every batch user is missing in speed`,
    );
  }
  if (scope.batchRows === 0 && scope.speedUsers > 0) {
    warnings.push(`the batch build of ${date} has no user facts: every speed-layer user is missing in batch`);
  }
  if (findingsOmitted > 0)
    warnings.push(
      `${findingsOmitted} more findings are only in ${written.path} (the report keeps the first ${maxFindings})`,
    );
  const gaps = await readRecordedGaps(ctx.warehouse.lakeDir, speed);
  warnings.push(...gapWarnings(gaps));
  const tooLate = compareTooLate(await speed.tooLate(date), await ctx.warehouse.tooLate(date));
  if (tooLate.onlyInSpeed + tooLate.onlyInBatch > 0) {
    summary = { ...summary, clean: false };
    warnings.push(
      `the layers disagree on which events of ${date} were TOO_LATE: ${tooLate.onlyInSpeed} only in the ` +
        `speed layer, ${tooLate.onlyInBatch} only in the batch (${tooLate.examples.slice(0, 3).join(', ')}); ` +
        'both must run with the same speed.userLateness (docs/core.md §5b)',
    );
  }
  const report: ReconcileReport = {
    date,
    summary,
    findings,
    findingsOmitted,
    file: written.path,
    rowsWritten: written.rows,
    warnings,
    gaps,
    tooLate,
  };
  await writeReconciliationReport(ctx.warehouse.lakeDir, date, report);
  return report;
};

/** The date's TOO_LATE events as the two layers recorded them, compared as sets of event ids. */
const compareTooLate = (
  speed: ReadonlyMap<string, readonly string[]>,
  batch: ReadonlyMap<string, string>,
): NonNullable<ReconcileReport['tooLate']> => {
  const inSpeed = new Set<string>();
  for (const ids of speed.values()) for (const id of ids) inSpeed.add(id);
  const onlyInSpeed = [...inSpeed].filter((id) => !batch.has(id)).sort();
  const onlyInBatch = [...batch.keys()].filter((id) => !inSpeed.has(id)).sort();
  return {
    events: inSpeed.size,
    batch: batch.size,
    users: [...new Set([...speed.keys(), ...batch.values()])].filter((u) => u !== '').sort(),
    onlyInSpeed: onlyInSpeed.length,
    onlyInBatch: onlyInBatch.length,
    examples: [...onlyInSpeed, ...onlyInBatch].slice(0, 20),
  };
};

/** The report the last `reconcile --date D` produced (its exact --json), as `serve` returns it. */
export const storedReconcile = async (ctx: ServingContext, rawDate: string): Promise<ReconcileReport> => {
  const date = parseDate(rawDate, 'date');
  const r = await readReconciliationReport<ReconcileReport>(ctx.warehouse.lakeDir, date);
  if (r === null) {
    throw new CryptolambdaError(
      'NOT_FOUND',
      `no reconcile report for ${date}`,
      `run \`cryptolambda reconcile --date ${date}\` (reconciled: ${(await reconciledDates(ctx.warehouse.lakeDir)).join(', ') || 'none'})`,
    );
  }
  return r;
};

export { reconciliationFile };
