import type { CorrelationRow, TopMetric, TopRow } from '../../adapters/lake/warehouse-reader.js';
import { CryptolambdaError } from '../../core/errors.js';
import { parseDate } from '../../core/serving/input.js';
import { CORRELATION_WINDOWS, datesEnding } from '../../core/warehouse/correlations.js';
import type { ServingContext } from './context.js';

/** The built date a warehouse-only query reads: --date when given (must be built), else the cutoff. */
const builtDate = (ctx: ServingContext, raw: string | undefined): string => {
  const cutoff = ctx.warehouse.cutoff();
  if (raw === undefined) {
    if (cutoff === null) {
      throw new CryptolambdaError('NOT_FOUND', 'the warehouse has no build yet', 'run `cryptolambda batch --date D`');
    }
    return cutoff;
  }
  const date = parseDate(raw, '--date');
  if (ctx.warehouse.ledger.builds[date] === undefined) {
    throw new CryptolambdaError(
      'NOT_FOUND',
      `the batch has not built ${date}`,
      `built dates: ${ctx.warehouse.dates().join(', ') || 'none'}`,
    );
  }
  return date;
};

export interface CorrelationWindowCoverage {
  readonly windowDays: number;
  /** Built dates the window needs: W daily returns take W + 1 closes. */
  readonly neededDays: number;
  /** Built dates the warehouse has inside the window. */
  readonly builtDays: number;
}

export interface CorrelationsResult {
  readonly date: string;
  readonly pairs: CorrelationRow[];
  /** Per window, how many built days it needs and has (a correlation needs at least 3: two returns). */
  readonly windows: CorrelationWindowCoverage[];
}

/** At least two returns (three daily closes) before a correlation is defined. */
export const MIN_CORRELATION_DAYS = 3;

export const getCorrelations = async (
  ctx: ServingContext,
  opts: { date?: string; window?: number },
): Promise<CorrelationsResult> => {
  const date = builtDate(ctx, opts.date);
  const built = new Set(ctx.warehouse.dates());
  const windows = CORRELATION_WINDOWS.filter((w) => opts.window === undefined || w === opts.window).map((w) => ({
    windowDays: w,
    neededDays: w + 1,
    builtDays: datesEnding(date, w + 1).filter((d) => built.has(d)).length,
  }));
  return { date, pairs: await ctx.warehouse.correlations(date, opts.window), windows };
};

export interface TopResult {
  readonly by: TopMetric;
  readonly date: string;
  /** Days summed for spend / rewards (ending at date); pnl is cumulative at the end of date. */
  readonly days: number;
  readonly users: (TopRow & { rank: number })[];
}

export const getTop = async (
  ctx: ServingContext,
  opts: { by: TopMetric; date?: string; days?: number; limit?: number },
): Promise<TopResult> => {
  const date = builtDate(ctx, opts.date);
  const days = opts.by === 'pnl' ? 1 : (opts.days ?? 1);
  const rows = await ctx.warehouse.top(opts.by, date, days, opts.limit ?? 10);
  return { by: opts.by, date, days, users: rows.map((r, i) => ({ rank: i + 1, ...r })) };
};
