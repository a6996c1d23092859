import { tiersOf } from '../../config/config.js';
import { dailySeries, type SeriesPoint } from '../../core/analytics/daily-series.js';
import { type PeriodName, type PeriodReturns, periodReturns, periodStart } from '../../core/analytics/returns.js';
import { CryptolambdaError } from '../../core/errors.js';
import { userEventFromRaw } from '../../core/events/json.js';
import type { UserEvent } from '../../core/events/types.js';
import type { Decimal } from '../../core/money/decimal.js';
import { addDays, parseDate, parseUserId } from '../../core/serving/input.js';
import { DAY_MS, dayOf, dayStart } from '../../core/speed/user-ledger.js';
import type { ServingContext } from './context.js';
import { dayCloses, readMerged } from './portfolio.js';

/**
 * `history` and `performance`: the user's portfolio day by day from the core replay of their events
 * — the raw zone up to the batch cutoff (what the batch built its facts from) plus the speed
 * layer's events of the days after it — valued at each day's close: fact_price_daily for built days,
 * the last 5m candle of the day from Redis after the cutoff (carried forward when a day has none).
 */
export interface Series {
  readonly userId: string;
  readonly from: string;
  readonly to: string;
  readonly batchAsOf: string | null;
  readonly points: readonly SeriesPoint[];
  readonly warnings: string[];
}

const loadSeries = async (ctx: ServingContext, userId: string, from: string, to: string): Promise<Series> => {
  const cutoff = ctx.warehouse.cutoff();
  const { speed } = await readMerged(ctx, userId);
  const batchEnd = cutoff === null ? null : cutoff < to ? cutoff : to;
  const events: UserEvent[] =
    batchEnd === null ? [] : await ctx.warehouse.userEvents(userId, dayStart(batchEnd) + DAY_MS - 1);
  const warnings: string[] = [];
  for (const d of speed.deltas) {
    if ((cutoff !== null && d.day <= cutoff) || d.day > to) continue;
    for (const text of d.events) {
      const r = userEventFromRaw(JSON.parse(text));
      if (r.ok && r.event.userId === userId) events.push(r.event);
    }
  }
  const assets = [...new Set(events.map((e) => e.asset))].filter((a) => a !== 'USD');
  const closes = new Map<string, Map<string, Decimal>>();
  for (let d = addDays(from, -1); d <= to; d = addDays(d, 1)) closes.set(d, await dayCloses(ctx, d, assets));
  const points = dailySeries(userId, events, addDays(from, -1), to, (d) => closes.get(d) ?? new Map(), {
    tiers: tiersOf(ctx.config),
    costMethod: ctx.config.costBasis,
  });
  if (events.length === 0) warnings.push(`no events of ${userId} up to ${to} in either layer`);
  const unpriced = [...new Set(points.flatMap((p) => p.unpriced))];
  if (unpriced.length > 0) warnings.push(`no close price for ${unpriced.join(', ')}: left out of market value`);
  return { userId, from, to, batchAsOf: cutoff, points, warnings };
};

/** The latest day either layer has data for (batch cutoff or the users' watermark), else today. */
const latestDay = async (ctx: ServingContext): Promise<string> => {
  const marks = ctx.speed ? await ctx.speed.watermarks() : null;
  const days = [ctx.warehouse.cutoff(), marks?.usersWatermark == null ? null : dayOf(marks.usersWatermark)].filter(
    (d): d is string => d !== null,
  );
  return days.sort().at(-1) ?? dayOf(ctx.now());
};

const checkRange = (from: string, to: string): void => {
  if (from > to) throw new CryptolambdaError('INVALID_ARGUMENT', `--from ${from} is after --to ${to}`);
  if (dayStart(to) - dayStart(from) > 3660 * DAY_MS) {
    throw new CryptolambdaError('INVALID_ARGUMENT', `--from ${from} --to ${to}: at most 10 years`);
  }
};

/** `history <user> [--from --to]`: the points of [from, to] (default: the last 30 days with data). */
export const getHistory = async (
  ctx: ServingContext,
  rawUserId: string,
  range: { from?: string; to?: string } = {},
): Promise<Series> => {
  const userId = parseUserId(rawUserId);
  const to = range.to === undefined ? await latestDay(ctx) : parseDate(range.to, '--to');
  const from = range.from === undefined ? addDays(to, -29) : parseDate(range.from, '--from');
  checkRange(from, to);
  const s = await loadSeries(ctx, userId, from, to);
  // The series carries the day before `from` (the start value of performance); history shows [from, to].
  return { ...s, points: s.points.slice(1) };
};

export interface Performance {
  readonly userId: string;
  readonly period: PeriodName | 'custom';
  readonly from: string;
  readonly to: string;
  readonly batchAsOf: string | null;
  readonly returns: PeriodReturns;
  readonly warnings: string[];
}

/** `performance <user> [--period P | --from A --to B]`: TWR, XIRR, net P&L and fees (core/analytics/returns.ts). */
export const getPerformance = async (
  ctx: ServingContext,
  rawUserId: string,
  opts: { period?: PeriodName; from?: string; to?: string } = {},
): Promise<Performance> => {
  const userId = parseUserId(rawUserId);
  if (opts.period !== undefined && opts.from !== undefined) {
    throw new CryptolambdaError('INVALID_ARGUMENT', '--period and --from are exclusive (a period ends on --to)');
  }
  const to = opts.to === undefined ? await latestDay(ctx) : parseDate(opts.to, '--to');
  const period = opts.period ?? (opts.from === undefined ? 'ytd' : 'custom');
  let from: string;
  if (opts.from !== undefined) from = parseDate(opts.from, '--from');
  else if (period === 'max') {
    const evs = await ctx.warehouse.userEvents(userId, dayStart(to) + DAY_MS - 1);
    from = evs.length === 0 ? to : evs.map((e) => dayOf(e.eventTime)).sort()[0]!;
  } else from = periodStart(period as Exclude<PeriodName, 'max'>, to);
  checkRange(from, to);
  const s = await loadSeries(ctx, userId, from, to);
  const [start, ...days] = s.points;
  return {
    userId,
    period,
    from,
    to,
    batchAsOf: s.batchAsOf,
    returns: periodReturns(start!.mvEnd, days),
    warnings: s.warnings,
  };
};
