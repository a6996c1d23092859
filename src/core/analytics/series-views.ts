import { Decimal } from '../money/decimal.js';
import type { SeriesPoint } from './daily-series.js';
import type { PeriodReturns } from './returns.js';

/**
 * JSON of `history` and `performance`: every amount its exact canonical string. Percentages are
 * derived for display only (returns x 100, HALF-EVEN to 4 places); the exact ratios are alongside.
 */
export interface HistoryDayJson {
  day: string;
  marketValue: string;
  costBasis: string;
  realizedPnl: string;
  unrealizedPnl: string;
  cashIn: string;
  cashOut: string;
  fees: string;
  events: number;
  unpriced: string[];
}

export interface HistoryJson {
  userId: string;
  from: string;
  to: string;
  batchAsOf: string | null;
  days: HistoryDayJson[];
  warnings: string[];
}

export const historyToJson = (s: {
  userId: string;
  from: string;
  to: string;
  batchAsOf: string | null;
  points: readonly SeriesPoint[];
  warnings: string[];
}): HistoryJson => ({
  userId: s.userId,
  from: s.from,
  to: s.to,
  batchAsOf: s.batchAsOf,
  days: s.points.map((p) => ({
    day: p.day,
    marketValue: p.mvEnd.toString(),
    costBasis: p.costBasis.toString(),
    realizedPnl: p.realizedPnl.toString(),
    unrealizedPnl: p.unrealizedPnl.toString(),
    cashIn: p.cfIn.toString(),
    cashOut: p.cfOut.toString(),
    fees: p.fees.toString(),
    events: p.events,
    unpriced: [...p.unpriced],
  })),
  warnings: s.warnings,
});

export interface PerformanceJson {
  userId: string;
  period: string;
  from: string;
  to: string;
  batchAsOf: string | null;
  startValue: string;
  endValue: string;
  cashIn: string;
  cashOut: string;
  fees: string;
  netPnl: string;
  /** Time-weighted return as a ratio (RETURN_SCALE 18) and in percent (4 places). */
  twr: string;
  twrPct: string;
  /** Money-weighted annual return (XIRR_SCALE 12), null when undefined. */
  xirr: string | null;
  xirrPct: string | null;
  daily: { day: string; startValue: string; endValue: string; r: string }[];
  warnings: string[];
}

const pct = (r: Decimal): string => r.mul(Decimal.fromUnits(100n, 0), 4).toString();

export const performanceToJson = (p: {
  userId: string;
  period: string;
  from: string;
  to: string;
  batchAsOf: string | null;
  returns: PeriodReturns;
  warnings: string[];
}): PerformanceJson => {
  const r = p.returns;
  return {
    userId: p.userId,
    period: p.period,
    from: p.from,
    to: p.to,
    batchAsOf: p.batchAsOf,
    startValue: r.mvStart.toString(),
    endValue: r.mvEnd.toString(),
    cashIn: r.cfIn.toString(),
    cashOut: r.cfOut.toString(),
    fees: r.fees.toString(),
    netPnl: r.netPnl.toString(),
    twr: r.twr.toString(),
    twrPct: pct(r.twr),
    xirr: r.xirr === null ? null : r.xirr.toString(),
    xirrPct: r.xirr === null ? null : pct(r.xirr),
    daily: r.daily.map((d) => ({
      day: d.day,
      startValue: d.mvStart.toString(),
      endValue: d.mvEnd.toString(),
      r: d.r.toString(),
    })),
    warnings: p.warnings,
  };
};
