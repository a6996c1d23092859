import type { CorrelationRow, TopMetric, TopRow } from '../../adapters/lake/warehouse-reader.js';
import { CryptolambdaError } from '../../core/errors.js';
import { parseDate } from '../../core/serving/input.js';
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

export interface CorrelationsResult {
  readonly date: string;
  readonly pairs: CorrelationRow[];
}

export const getCorrelations = async (
  ctx: ServingContext,
  opts: { date?: string; window?: number },
): Promise<CorrelationsResult> => {
  const date = builtDate(ctx, opts.date);
  return { date, pairs: await ctx.warehouse.correlations(date, opts.window) };
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
