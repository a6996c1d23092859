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
   * User events of the date the speed layer dead-lettered TOO_LATE (beyond the user lateness,
   * docs/core.md §5b): the batch applied them, the speed book did not, so these users may differ.
   */
  readonly tooLate?: { readonly events: number; readonly users: readonly string[] };
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
  const summary = addSummaries(date, summaries);
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
  const late = await speed.tooLate(date);
  const tooLate = { events: [...late.values()].reduce((a, ids) => a + ids.length, 0), users: [...late.keys()].sort() };
  if (tooLate.events > 0) {
    const some = tooLate.users.slice(0, 5).join(', ') + (tooLate.users.length > 5 ? ', …' : '');
    warnings.push(
      `${tooLate.events} user event(s) of ${date} arrived beyond the speed layer's user lateness (dead-lettered TOO_LATE; the batch applied them): users ${some} can differ until the speed layer is rebuilt from the batch (stream --bootstrap-from-batch)`,
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
