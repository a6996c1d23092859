import { describe, expect, it } from 'vitest';
import { type DayPoint, flowOf, periodReturns, periodStart, xirr } from '../../../src/core/analytics/returns.js';
import { Decimal, USD_SCALE } from '../../../src/core/money/decimal.js';
import { reward, tx } from '../build.js';

const u = (s: string) => Decimal.parse(s, USD_SCALE);
const day = (d: string, mvEnd: string, cfIn = '0', cfOut = '0'): DayPoint => ({
  day: d,
  mvEnd: u(mvEnd),
  cfIn: u(cfIn),
  cfOut: u(cfOut),
  fees: u('0'),
});

describe('cash flows (docs/core.md §7a)', () => {
  it('buys and deposits flow in with their USD fee; sells flow out net of it; withdrawals at market', () => {
    const f = (e: Parameters<typeof flowOf>[0]) => {
      const x = flowOf(e);
      return [x.cfIn.toPlain(), x.cfOut.toPlain(), x.fees.toPlain()];
    };
    expect(f(tx('buy', { quantity: '2', price: '100', fee: '1.5' }))).toEqual(['201.5', '0', '1.5']);
    expect(f(tx('deposit', { quantity: '1', price: '100' }))).toEqual(['100', '0', '0']);
    expect(f(tx('sell', { quantity: '1', price: '100', fee: '1' }))).toEqual(['0', '99', '1']);
    // A base fee is no flow (the units leave); it is still a fee, valued at the event price.
    expect(f(tx('sell', { quantity: '1', price: '100', fee: '0.01', feeAsset: 'BTC' }))).toEqual(['0', '100', '1']);
    expect(f(tx('withdrawal', { quantity: '1', price: '90', fee: '2' }))).toEqual(['2', '90', '2']);
    expect(f(tx('stake', { quantity: '1', price: '90', fee: '2' }))).toEqual(['2', '0', '2']);
    expect(f(reward({ quantity: '1', price: '90' }))).toEqual(['0', '0', '0']);
    expect(f(tx('card_spend', { asset: 'USD', quantity: '10', price: '1' }))).toEqual(['0', '0', '0']);
  });
});

describe('golden: returns with a mid-period buy and a withdrawal (worked by hand)', () => {
  // D1: buy 1 BTC @100 (in 100), close 110 -> MVE 110: r1 = 110 / 100 - 1 = 0.1
  // D2: buy 1 BTC @120 (in 120), close 120 -> MVE 240: r2 = 240 / 230 - 1 = 1/23 = 0.043478260869565217
  // D3: withdraw 1 BTC @90 (out 90), close 90 -> MVE 90: r3 = (90 + 90) / 240 - 1 = -0.25
  // growth: 1.1 x 1.043478260869565217 = 1.147826086956521739 (HALF-EVEN at 18),
  //         x 0.75 = 0.860869565217391304; TWR = -0.139130434782608696 (exact: 19.8/23 - 1).
  // Net P&L = 90 - 0 - 220 + 90 = -40.
  const days = [day('2025-01-01', '110', '100'), day('2025-01-02', '240', '120'), day('2025-01-03', '90', '0', '90')];
  const r = periodReturns(u('0'), days);

  it('chains the daily returns', () => {
    expect(r.daily.map((d) => d.r.toPlain())).toEqual(['0.1', '0.043478260869565217', '-0.25']);
    expect(r.twr.toString()).toBe('-0.139130434782608696');
    expect(r.netPnl.toPlain()).toBe('-40');
    expect([r.cfIn.toPlain(), r.cfOut.toPlain()]).toEqual(['220', '90']);
  });

  it('XIRR: -100 y^3 - 120 y^2 + 180 = 0, annualized, rounds to -1 at 12 decimals', () => {
    expect(r.xirr?.toString()).toBe('-1.000000000000');
  });
});

describe('golden: XIRR over a year with a mid-year deposit', () => {
  // 1000 in on day 0, 500 more on day 182, 1650 at the end of day 364:
  // -1000 y^365 - 500 y^183 + 1650 = 0  ->  y = 1.000312055862875822...,  R = y^365 - 1 = 0.120620580966
  // (checked with Python's decimal at 80 digits). TWR: the deposit day and the flat days return 0,
  // the last day 1650 / 1500 - 1 = 0.1.
  const days: DayPoint[] = [];
  for (let i = 0; i < 365; i++) {
    const d = new Date(Date.UTC(2025, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
    days.push(day(d, i === 364 ? '1650' : i >= 182 ? '1500' : '1000', i === 0 ? '1000' : i === 182 ? '500' : '0'));
  }
  it('gives 12.0620580966 % a year, TWR 10 %', () => {
    const r = periodReturns(u('0'), days);
    expect(r.xirr?.toString()).toBe('0.120620580966');
    expect(r.twr.toPlain()).toBe('0.1');
    expect(r.netPnl.toPlain()).toBe('150');
  });
});

describe('edge cases', () => {
  it('a day with nothing held and nothing put in returns 0; no sign change -> no XIRR', () => {
    const r = periodReturns(u('0'), [day('2025-01-01', '0'), day('2025-01-02', '0')]);
    expect(r.twr.toPlain()).toBe('0');
    expect(r.xirr).toBeNull();
    expect(xirr(u('0'), [])).toBeNull();
  });
  it('a flat period has XIRR 0', () => {
    expect(periodReturns(u('100'), [day('2025-01-01', '100')]).xirr?.toPlain()).toBe('0');
  });
});

describe('periodStart', () => {
  it('today, ISO week from Monday, month, year, the year ending today', () => {
    expect(periodStart('today', '2026-12-01')).toBe('2026-12-01');
    expect(periodStart('wtd', '2026-12-01')).toBe('2026-11-30'); // a Tuesday
    expect(periodStart('wtd', '2026-11-30')).toBe('2026-11-30');
    expect(periodStart('wtd', '2026-12-06')).toBe('2026-11-30'); // Sunday
    expect(periodStart('mtd', '2026-12-01')).toBe('2026-12-01');
    expect(periodStart('ytd', '2026-12-01')).toBe('2026-01-01');
    expect(periodStart('1y', '2026-12-01')).toBe('2025-12-02');
    expect(periodStart('1y', '2024-02-29')).toBe('2023-03-01');
  });
});
