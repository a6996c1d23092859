import {
  readReconciliationReport,
  reconciledDates,
  reconciliationFile,
  writeReconciliation,
  writeReconciliationReport,
} from '../../adapters/lake/reconciliation-writer.js';
import { CryptolambdaError } from '../../core/errors.js';
import { parseDate } from '../../core/serving/input.js';
import { type ReconResult, type ReconRow, reconcileDay } from '../../core/serving/reconcile.js';
import { gapWarnings, type RecordedGaps, readRecordedGaps } from '../gaps.js';
import type { ServingContext } from './context.js';

export interface ReconcileReport {
  readonly date: string;
  readonly summary: ReconResult['summary'];
  /** Rows that are not a match (mismatches with the exact difference, missing subjects). */
  readonly findings: ReconRow[];
  /** The fact_reconciliation file written for the date. */
  readonly file: string;
  readonly rowsWritten: number;
  /** Whole-side problems that explain a flood of findings (e.g. the speed layer's day keys expired). */
  readonly warnings: string[];
  /** Accepted data loss in either layer: reconcile cannot see what both layers missed. */
  readonly gaps: RecordedGaps;
}

/**
 * `reconcile --date D`: batch facts of D vs the speed layer's end-of-day state of D (see
 * core/serving/reconcile.ts for the rules). Writes every compared field to fact_reconciliation and
 * returns the report; the caller turns `summary.clean === false` into a non-zero exit.
 */
export const reconcile = async (ctx: ServingContext, rawDate: string): Promise<ReconcileReport> => {
  const date = parseDate(rawDate, '--date');
  if (ctx.warehouse.ledger.builds[date] === undefined) {
    throw new CryptolambdaError(
      'NOT_FOUND',
      `the batch has not built ${date}`,
      `run \`cryptolambda batch --date ${date}\` first (built: ${ctx.warehouse.dates().join(', ') || 'none'})`,
    );
  }
  if (ctx.speed === null) throw new CryptolambdaError('INTERNAL', 'reconcile needs the speed layer');
  const [positions, rewards, speed] = await Promise.all([
    ctx.warehouse.positionRows(date),
    ctx.warehouse.rewardRows(date),
    ctx.speed.day(date),
  ]);
  const result = reconcileDay(date, positions, rewards, speed);
  const warnings: string[] = [];
  if (speed.length === 0 && result.summary.users > 0) {
    warnings.push(
      `the speed layer has no data for ${date} (its per-day keys live about 8 days, or the stream did not run): every batch user is missing in speed`,
    );
  }
  if (positions.length === 0 && rewards.length === 0 && speed.length > 0) {
    warnings.push(`the batch build of ${date} has no user facts: every speed-layer user is missing in batch`);
  }
  const gaps = await readRecordedGaps(ctx.warehouse.lakeDir, ctx.speed);
  warnings.push(...gapWarnings(gaps));
  const written = await writeReconciliation(ctx.warehouse.lakeDir, date, result.rows);
  const report: ReconcileReport = {
    date,
    summary: result.summary,
    findings: result.rows.filter((r) => r.status !== 'match'),
    file: written.path,
    rowsWritten: written.rows,
    warnings,
    gaps,
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
