import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CORR_SCALE,
  correlationMatrix,
  dailyReturns,
  isqrt,
  pearson,
  RETURN_SCALE,
} from '../../../src/core/analytics/correlation.js';
import { Decimal, PRICE_SCALE } from '../../../src/core/money/decimal.js';

const r = (s: string) => Decimal.parse(s, RETURN_SCALE);
const px = (s: string) => Decimal.parse(s, PRICE_SCALE);

describe('isqrt', () => {
  it('is exact on small values', () => {
    expect([0n, 1n, 2n, 3n, 4n, 8n, 9n, 15n, 16n, 17n].map(isqrt)).toEqual([0n, 1n, 1n, 1n, 2n, 2n, 3n, 3n, 4n, 4n]);
    expect(() => isqrt(-1n)).toThrowError(RangeError);
  });

  it('is exact around perfect squares far beyond Number range', () => {
    const ks = [10n ** 40n + 7n, 2n ** 200n - 1n, 3n ** 150n, 10n ** 76n + 123456789n];
    for (const k of ks) {
      expect(isqrt(k * k)).toBe(k);
      expect(isqrt(k * k - 1n)).toBe(k - 1n);
      expect(isqrt(k * k + 2n * k)).toBe(k); // (k+1)² - 1
      expect(isqrt((k + 1n) * (k + 1n))).toBe(k + 1n);
    }
  });

  it('satisfies r² <= n < (r+1)² (property)', () => {
    fc.assert(
      fc.property(fc.bigInt(0n, 2n ** 256n), (n) => {
        const s = isqrt(n);
        expect(s * s <= n && n < (s + 1n) * (s + 1n)).toBe(true);
      }),
    );
  });
});

describe('dailyReturns', () => {
  it('computes (close - prev) / prev half-even at RETURN_SCALE', () => {
    expect(dailyReturns([px('3'), px('4'), px('5'), px('4')]).map(String)).toEqual([
      '0.333333333333333333',
      '0.250000000000000000',
      '-0.200000000000000000',
    ]);
    expect(dailyReturns([px('3'), px('5')])[0]!.toString()).toBe('0.666666666666666667');
    expect(dailyReturns([px('1')])).toEqual([]);
    expect(() => dailyReturns([px('0'), px('1')])).toThrowError(RangeError);
  });
});

describe('pearson', () => {
  it('is undefined for fewer than two points or a constant series', () => {
    expect(pearson([], [])).toBeUndefined();
    expect(pearson([r('0.1')], [r('0.2')])).toBeUndefined();
    expect(pearson([r('0.1'), r('0.1')], [r('0.1'), r('0.2')])).toBeUndefined();
    expect(pearson([r('0.1'), r('0.2')], [r('0.3'), r('0.3')])).toBeUndefined();
    expect(() => pearson([r('0.1')], [])).toThrowError(RangeError);
  });

  it('is exactly ±1 for linear series and symmetric', () => {
    const xs = [r('0.01'), r('-0.02'), r('0.03')];
    const ys = xs.map((x) => x.mul(Decimal.parse('3', 0), RETURN_SCALE));
    expect(pearson(xs, ys)!.toString()).toBe('1.000000000000');
    expect(
      pearson(
        xs,
        ys.map((y) => y.neg()),
      )!.toString(),
    ).toBe('-1.000000000000');
    const zs = [r('0.5'), r('0.1'), r('0.2')];
    expect(pearson(xs, zs)).toEqual(pearson(zs, xs));
    expect(pearson(xs, zs)!.scale).toBe(CORR_SCALE);
  });

  it('computes 0 for uncorrelated series and a known rational value', () => {
    expect(pearson([r('1'), r('2'), r('3')], [r('1'), r('0'), r('1')])!.toString()).toBe('0.000000000000');
    // a = 1..4, b = 2,1,4,3: 3 / sqrt(5 x 5) = 0.6
    expect(pearson([r('1'), r('2'), r('3'), r('4')], [r('2'), r('1'), r('4'), r('3')])!.toString()).toBe(
      '0.600000000000',
    );
  });

  it('stays within [-1, 1] (property)', () => {
    const series = fc.array(fc.integer({ min: -1_000_000, max: 1_000_000 }), { minLength: 2, maxLength: 12 });
    fc.assert(
      fc.property(series, series, (a, b) => {
        const n = Math.min(a.length, b.length);
        const c = pearson(
          a.slice(0, n).map((v) => Decimal.fromUnits(BigInt(v), 6)),
          b.slice(0, n).map((v) => Decimal.fromUnits(BigInt(v), 6)),
        );
        if (c !== undefined) expect(c.abs().lte(Decimal.parse('1', 0))).toBe(true);
      }),
    );
  });
});

describe('correlationMatrix', () => {
  it('pairs sorted assets over the last windowDays returns', () => {
    const closes = new Map([
      ['ETH', ['50', '100', '110', '121', '108.9'].map(px)],
      ['BTC', ['1', '100', '110', '121', '108.9'].map(px)],
      ['XRP', ['7', '100', '90', '81', '89.1'].map(px)],
    ]);
    const cells = correlationMatrix(closes, 3).map((c) => [c.a, c.b, c.correlation?.toString(), c.days]);
    expect(cells).toEqual([
      ['BTC', 'ETH', '1.000000000000', 3],
      ['BTC', 'XRP', '-1.000000000000', 3],
      ['ETH', 'XRP', '-1.000000000000', 3],
    ]);
    // the full history includes the first (different) day and is no longer perfect
    const full = correlationMatrix(closes, 4);
    expect(full[0]!.days).toBe(4);
    expect(full[0]!.correlation!.lt(Decimal.parse('1', 0))).toBe(true);
  });
});
