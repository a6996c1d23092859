import { describe, expect, it } from 'vitest';
import { Decimal, USD_SCALE } from '../../../src/core/money/decimal.js';
import { FRACTION_SCALE, fractionOf, portfolioShares } from '../../../src/core/serving/shares.js';

const u = (s: string): Decimal => Decimal.parse(s, USD_SCALE);
const line = (mv: string | null, upnl: string | null, cost: string) => ({
  marketValue: mv === null ? null : u(mv),
  unrealizedPnl: upnl === null ? null : u(upnl),
  costBasis: u(cost),
});
const txt = (d: Decimal | null): string | null => (d === null ? null : d.toString());

describe('portfolio shares (allocation %, unrealized P&L %)', () => {
  it('works a three-asset book by hand', () => {
    // BTC: 0.5 @ cost 20,000 = 10,000 cost, worth 15,000 -> +5,000 (+50%).
    // ETH: 4 @ cost 1,500 = 6,000 cost, worth 4,500 -> -1,500 (-25%).
    // SOL: 10 @ cost 50 = 500 cost, worth 500 -> 0 (0%).
    // Total 20,000: BTC 15,000/20,000 = 0.75, ETH 4,500/20,000 = 0.225, SOL 500/20,000 = 0.025.
    // Total P&L % = 3,500 / 16,500 = 0.2121212… -> 0.212121 (6 decimals).
    const r = portfolioShares(
      [line('15000', '5000', '10000'), line('4500', '-1500', '6000'), line('500', '0', '500')],
      u('20000'),
    );
    expect(r.lines.map((l) => txt(l.allocation))).toEqual(['0.750000', '0.225000', '0.025000']);
    expect(r.lines.map((l) => txt(l.unrealizedPnlPct))).toEqual(['0.500000', '-0.250000', '0.000000']);
    expect(txt(r.totalUnrealizedPnlPct)).toBe('0.212121');
  });

  it('rounds HALF-EVEN at the sixth decimal', () => {
    expect(FRACTION_SCALE).toBe(6);
    // 1/3 = 0.3333333… -> 0.333333; 2/3 = 0.6666666… -> 0.666667.
    expect(txt(fractionOf(u('1'), u('3')))).toBe('0.333333');
    expect(txt(fractionOf(u('2'), u('3')))).toBe('0.666667');
    // Exact ties: 0.0000125 -> 0.000012 (even), 0.0000135 -> 0.000014 (even).
    expect(txt(fractionOf(u('0.125'), u('10000')))).toBe('0.000012');
    expect(txt(fractionOf(u('0.135'), u('10000')))).toBe('0.000014');
  });

  it('a zero total gives no allocation, and a zero cost basis no P&L %', () => {
    // Everything priced at 0: total market value 0 -> allocation null (not 0, not a division error).
    // A reward-only holding (cost basis 0) worth 30 -> P&L % null; the total divides by the priced cost only.
    const zeroTotal = portfolioShares([line('0', '-100', '100')], u('0'));
    expect(txt(zeroTotal.lines[0]!.allocation)).toBeNull();
    expect(txt(zeroTotal.lines[0]!.unrealizedPnlPct)).toBe('-1.000000');
    expect(txt(zeroTotal.totalUnrealizedPnlPct)).toBe('-1.000000');
    const rewardsOnly = portfolioShares([line('30', '30', '0')], u('30'));
    expect(txt(rewardsOnly.lines[0]!.allocation)).toBe('1.000000');
    expect(txt(rewardsOnly.lines[0]!.unrealizedPnlPct)).toBeNull();
    expect(txt(rewardsOnly.totalUnrealizedPnlPct)).toBeNull();
    expect(portfolioShares([], u('0')).totalUnrealizedPnlPct).toBeNull();
  });

  it('an unpriced line has neither, and its cost does not dilute the total P&L %', () => {
    // BTC worth 120 on cost 100 (+20%); DOGE unpriced with cost 900: total = 20 / 100 = 0.2, not 20 / 1,000.
    const r = portfolioShares([line('120', '20', '100'), line(null, null, '900')], u('120'));
    expect(r.lines.map((l) => [txt(l.allocation), txt(l.unrealizedPnlPct)])).toEqual([
      ['1.000000', '0.200000'],
      [null, null],
    ]);
    expect(txt(r.totalUnrealizedPnlPct)).toBe('0.200000');
  });
});
