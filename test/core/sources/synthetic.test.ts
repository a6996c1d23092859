import { describe, expect, it } from 'vitest';
import { expFixed, isqrt, SyntheticPrices, Xoshiro128 } from '../../../src/core/sources/synthetic.js';

const START = Date.UTC(2025, 0, 1);
const take = (g: SyntheticPrices, n: number) => Array.from({ length: n }, () => JSON.parse(JSON.stringify(g.next())));

describe('SyntheticPrices', () => {
  it('is pinned: seed 42 gives exactly these events on every machine', () => {
    const g = new SyntheticPrices({ seed: 42n, symbols: ['BTCUSDT', 'ETHUSDT'], startTime: START });
    expect(take(g, 4)).toEqual([
      {
        kind: 'price',
        eventId: 'synthetic:BTCUSDT:s42.1735689600000.1',
        symbol: 'BTCUSDT',
        price: '64997.511654952124',
        quantity: '0.315108920000000000',
        eventTime: 1735689600000,
        tradeId: 's42.1735689600000.1',
        source: 'synthetic',
      },
      {
        kind: 'price',
        eventId: 'synthetic:ETHUSDT:s42.1735689600000.1',
        symbol: 'ETHUSDT',
        price: '3199.804678026013',
        quantity: '5.769207310000000000',
        eventTime: 1735689600000,
        tradeId: 's42.1735689600000.1',
        source: 'synthetic',
      },
      {
        kind: 'price',
        eventId: 'synthetic:BTCUSDT:s42.1735689600000.2',
        symbol: 'BTCUSDT',
        price: '64997.763001457086',
        quantity: '0.478642410000000000',
        eventTime: 1735689600100,
        tradeId: 's42.1735689600000.2',
        source: 'synthetic',
      },
      {
        kind: 'price',
        eventId: 'synthetic:ETHUSDT:s42.1735689600000.2',
        symbol: 'ETHUSDT',
        price: '3199.751808999891',
        quantity: '5.727352400000000000',
        eventTime: 1735689600100,
        tradeId: 's42.1735689600000.2',
        source: 'synthetic',
      },
    ]);
    expect(g.emitted).toBe(4);
  });

  it('same seed -> same events; another seed -> other prices', () => {
    const opts = { seed: 7n, symbols: ['BTCUSDT', 'SOLUSDT', 'FOOUSDT'], startTime: START, stepMs: 250 };
    const a = take(new SyntheticPrices(opts), 3000);
    expect(take(new SyntheticPrices(opts), 3000)).toEqual(a);
    const b = take(new SyntheticPrices({ ...opts, seed: 8n }), 3000);
    expect(b.map((e) => e.price)).not.toEqual(a.map((e) => e.price));
    expect(a[2999].eventTime).toBe(START + 999 * 250);
    expect(new Set(a.map((e) => e.eventId)).size).toBe(3000);
  });

  it('gives each symbol its own stream: adding a symbol leaves the others unchanged', () => {
    const one = take(new SyntheticPrices({ seed: 3n, symbols: ['ETHUSDT'], startTime: START }), 50);
    const two = take(new SyntheticPrices({ seed: 3n, symbols: ['BTCUSDT', 'ETHUSDT'], startTime: START }), 100);
    expect(two.filter((e) => e.symbol === 'ETHUSDT')).toEqual(one);
  });

  it('has the profile volatility (daily steps, realized vol within 5 %)', () => {
    const g = new SyntheticPrices({ seed: 11n, symbols: ['BTCUSDT'], startTime: START, stepMs: 86_400_000 });
    let prev = 65000;
    let sum2 = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const p = Number(g.next().price.toString()); // float only for the statistic
      const r = Math.log(p / prev);
      sum2 += r * r;
      prev = p;
    }
    const annualVol = Math.sqrt((sum2 / n) * 365.25);
    expect(Math.abs(annualVol - 0.6)).toBeLessThan(0.03);
  });

  it('rejects bad options', () => {
    expect(() => new SyntheticPrices({ seed: -1n, symbols: ['BTCUSDT'], startTime: START })).toThrow(/seed/);
    expect(() => new SyntheticPrices({ seed: 1n, symbols: [], startTime: START })).toThrow(/symbol/);
    expect(() => new SyntheticPrices({ seed: 1n, symbols: ['X'], startTime: START, stepMs: 0 })).toThrow(/stepMs/);
  });
});

describe('integer math', () => {
  it('exp at 18 decimals (within 20 units of the last digit)', () => {
    const near = (x: bigint, want: bigint) => expect(Number(x > want ? x - want : want - x)).toBeLessThan(20);
    expect(expFixed(0n)).toBe(10n ** 18n);
    near(expFixed(10n ** 18n), 2718281828459045235n);
    near(expFixed(-(10n ** 18n)), 367879441171442321n);
    near(expFixed(5n * 10n ** 16n), 1051271096376024039n);
    near(expFixed(-3n * 10n ** 14n), 999700044995500337n);
  });

  it('isqrt is the exact floor square root', () => {
    for (const n of [0n, 1n, 2n, 3n, 4n, 15n, 16n, 17n, 10n ** 36n, 10n ** 36n - 1n, 3168808781n * 10n ** 18n]) {
      const r = isqrt(n);
      expect(r * r <= n && (r + 1n) * (r + 1n) > n).toBe(true);
    }
  });

  it('xoshiro128** draws are uniform enough (mean within 1 %)', () => {
    const rng = new Xoshiro128(1n);
    let sum = 0;
    for (let i = 0; i < 100_000; i++) sum += rng.nextU32();
    expect(Math.abs(sum / 100_000 / 2 ** 32 - 0.5)).toBeLessThan(0.005);
  });
});
