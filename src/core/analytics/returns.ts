import type { UserEvent } from '../events/types.js';
import { USD } from '../events/types.js';
import { Decimal, divRoundHalfEven, pow10, QTY_SCALE, USD_SCALE } from '../money/decimal.js';
import { notional } from '../portfolio/position.js';
import { RETURN_SCALE } from './correlation.js';

/**
 * Returns of a user's crypto portfolio over a period, exactly (docs/core.md §7a).
 *
 * The portfolio is the user's crypto holdings; USD is outside it. A cash flow is money crossing
 * that boundary, valued at the event's price:
 *   buy, deposit            in  = N(q) + usdFee      (a deposit brings units worth N(q))
 *   sell, card spend        out = N(q) - usdFee      (card spend from the USD balance: no flow)
 *   withdrawal              out = N(q)  and  in = usdFee
 *   stake, unstake          in  = usdFee
 *   reward                  none: it is return, not money put in
 * Base-asset fees are not flows: the units simply leave, which shows as a lower market value.
 *
 * Time-weighted return, chained daily (Portfolio Performance's formula; inflows at the start of
 * the day, outflows at its end):
 *   r_d = (MVE_d + CFout_d) / (MVB_d + CFin_d) - 1          HALF-EVEN to RETURN_SCALE (18)
 *   TWR = prod(1 + r_d) - 1                                   the product HALF-EVEN to 18 after each day
 * with r_d = 0 on a day whose denominator is zero (nothing held, nothing put in).
 *
 * Money-weighted return (XIRR): the annual rate R with sum F_k (1 + R)^((n - t_k) / 365) = 0 over
 * -MVB at t = 0, -CFin_d at t = d, +CFout_d at t = d + 1 and +MVE at t = n (days), found as the
 * daily growth factor y = (1 + R)^(1/365) by bisection in 30-digit fixed point (every product
 * HALF-EVEN), so every machine gets the same digits; R = y^365 - 1 HALF-EVEN to XIRR_SCALE (12).
 * Undefined (null) when the flows never change sign or no root lies in y in [0.5, 3]. Over very short
 * periods the annualized figure is extreme by nature (a 30 % day is ~1e21 % a year): read TWR there.
 */
export const XIRR_SCALE = 12;
const FX = 30;
const ONE = pow10(FX);

export interface Flow {
  readonly cfIn: Decimal;
  readonly cfOut: Decimal;
  /** Every fee valued in USD (USD fee, or N(baseFee) at the event price). */
  readonly fees: Decimal;
}

const Z = Decimal.zero(USD_SCALE);
export const NO_FLOW: Flow = { cfIn: Z, cfOut: Z, fees: Z };

/** The cash flow of one APPLIED event (a rejected event moved nothing). */
export const flowOf = (e: UserEvent): Flow => {
  if (e.kind === 'reward') return NO_FLOW;
  if (e.asset === USD) return NO_FLOW;
  const usdFee = e.feeAsset === USD ? e.fee.rescale(USD_SCALE) : Z;
  const baseFee = e.feeAsset === e.asset ? e.fee.rescale(QTY_SCALE) : Decimal.zero(QTY_SCALE);
  const fees = baseFee.isZero() ? usdFee : notional(baseFee, e.price);
  const n = notional(e.quantity, e.price);
  switch (e.type) {
    case 'buy':
    case 'deposit':
      return { cfIn: n.add(usdFee), cfOut: Z, fees };
    case 'sell':
    case 'card_spend':
      return { cfIn: Z, cfOut: n.sub(usdFee), fees };
    case 'withdrawal':
      return { cfIn: usdFee, cfOut: n, fees };
    case 'stake':
    case 'unstake':
      return { cfIn: usdFee, cfOut: Z, fees };
  }
};

export const addFlow = (a: Flow, b: Flow): Flow => ({
  cfIn: a.cfIn.add(b.cfIn),
  cfOut: a.cfOut.add(b.cfOut),
  fees: a.fees.add(b.fees),
});

/** One day of a period: end-of-day market value and the day's flows. */
export interface DayPoint extends Flow {
  readonly day: string;
  readonly mvEnd: Decimal;
}

export interface DailyReturn {
  readonly day: string;
  readonly mvStart: Decimal;
  readonly mvEnd: Decimal;
  readonly r: Decimal;
}

export interface PeriodReturns {
  readonly mvStart: Decimal;
  readonly mvEnd: Decimal;
  readonly cfIn: Decimal;
  readonly cfOut: Decimal;
  readonly fees: Decimal;
  /** mvEnd - mvStart - cfIn + cfOut (USD_SCALE, exact). */
  readonly netPnl: Decimal;
  readonly twr: Decimal;
  readonly xirr: Decimal | null;
  readonly daily: readonly DailyReturn[];
}

const R1 = Decimal.fromUnits(pow10(RETURN_SCALE), RETURN_SCALE);

/** TWR and XIRR over consecutive days; `mvStart` is the value at the end of the day before. */
export const periodReturns = (mvStart: Decimal, days: readonly DayPoint[]): PeriodReturns => {
  let growth = R1;
  let mvb = mvStart;
  let flows = NO_FLOW;
  const daily: DailyReturn[] = [];
  for (const d of days) {
    const den = mvb.add(d.cfIn);
    const r = den.isZero() ? Decimal.zero(RETURN_SCALE) : d.mvEnd.add(d.cfOut).div(den, RETURN_SCALE).sub(R1);
    growth = growth.mul(R1.add(r), RETURN_SCALE);
    daily.push({ day: d.day, mvStart: mvb, mvEnd: d.mvEnd, r });
    flows = addFlow(flows, d);
    mvb = d.mvEnd;
  }
  const mvEnd = mvb;
  return {
    mvStart,
    mvEnd,
    ...flows,
    netPnl: mvEnd.sub(mvStart).sub(flows.cfIn).add(flows.cfOut).rescale(USD_SCALE),
    twr: growth.sub(R1),
    xirr: xirr(mvStart, days),
    daily,
  };
};

const fxMul = (a: bigint, b: bigint): bigint => divRoundHalfEven(a * b, ONE);
const fxPow = (y: bigint, n: number): bigint => {
  let out = ONE;
  let base = y;
  for (let k = n; k > 0; k >>= 1) {
    if (k & 1) out = fxMul(out, base);
    base = fxMul(base, base);
  }
  return out;
};

/** Future value at t = n of the flows (units at USD_SCALE + FX), by Horner over the days. */
const futureValue = (flowsAt: readonly bigint[], y: bigint): bigint => {
  let acc = 0n;
  for (const f of flowsAt) acc = fxMul(acc, y) + f;
  return acc;
};

export const xirr = (mvStart: Decimal, days: readonly DayPoint[]): Decimal | null => {
  const n = days.length;
  if (n === 0) return null;
  const at = new Array<bigint>(n + 1).fill(0n);
  const toFx = (d: Decimal) => d.rescale(USD_SCALE).units * pow10(FX);
  at[0]! -= toFx(mvStart);
  days.forEach((d, i) => {
    at[i] = at[i]! - toFx(d.cfIn);
    at[i + 1] = at[i + 1]! + toFx(d.cfOut);
  });
  at[n] = at[n]! + toFx(days[n - 1]!.mvEnd);
  if (!at.some((f) => f < 0n) || !at.some((f) => f > 0n)) return null;
  // A daily growth factor in [0.5, 3] spans any return a portfolio can have over a day or more.
  let lo = ONE / 2n;
  let hi = ONE * 3n;
  const sLo = futureValue(at, lo) > 0n;
  if (sLo === futureValue(at, hi) > 0n) return null;
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    if (futureValue(at, mid) > 0n === sLo) lo = mid;
    else hi = mid;
  }
  return Decimal.fromUnits(fxPow(lo, 365) - ONE, FX).rescale(XIRR_SCALE);
};

/** The first day of a named period ending on `asOf` (YYYY-MM-DD, UTC); `max` is the caller's first day. */
export type PeriodName = 'today' | 'wtd' | 'mtd' | 'ytd' | '1y' | 'max';
export const PERIODS: readonly PeriodName[] = ['today', 'wtd', 'mtd', 'ytd', '1y', 'max'];

export const periodStart = (period: Exclude<PeriodName, 'max'>, asOf: string): string => {
  const d = new Date(`${asOf}T00:00:00.000Z`);
  switch (period) {
    case 'today':
      return asOf;
    case 'wtd': {
      // ISO weeks start on Monday.
      const back = (d.getUTCDay() + 6) % 7;
      return new Date(d.getTime() - back * 86_400_000).toISOString().slice(0, 10);
    }
    case 'mtd':
      return `${asOf.slice(0, 7)}-01`;
    case 'ytd':
      return `${asOf.slice(0, 4)}-01-01`;
    case '1y': {
      // The year ending on asOf: from the day after the same date a year earlier (Feb 29 -> Mar 1).
      const leapDay = d.getUTCMonth() === 1 && d.getUTCDate() === 29;
      const y = new Date(Date.UTC(d.getUTCFullYear() - 1, d.getUTCMonth(), leapDay ? 28 : d.getUTCDate()));
      return new Date(y.getTime() + 86_400_000).toISOString().slice(0, 10);
    }
  }
};
