import { describe, expect, it } from 'vitest';
import { Prng } from '../../../src/core/simulate/prng.js';

const take = (r: Prng, n: number): number[] => Array.from({ length: n }, () => r.nextU32());

describe('Prng', () => {
  it('is a pure function of the seed', () => {
    expect(take(new Prng(42), 20)).toEqual(take(new Prng(42), 20));
    expect(take(new Prng(42), 5)).not.toEqual(take(new Prng(43), 5));
    // Seeds above 2^32 use their high half too.
    expect(take(new Prng(2 ** 32 + 1), 5)).not.toEqual(take(new Prng(1), 5));
  });

  it('pins its sequence: a change here changes every simulated stream', () => {
    expect(take(new Prng(1), 4)).toMatchInlineSnapshot(`
      [
        2442144158,
        3238099751,
        3819917871,
        2104621829,
      ]
    `);
  });

  it('returns 32-bit unsigned integers', () => {
    for (const u of take(new Prng(7), 1000)) {
      expect(Number.isInteger(u)).toBe(true);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(2 ** 32);
    }
  });

  it('draws bounded integers without bias over the whole range', () => {
    const r = new Prng(3);
    const counts = [0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 60_000; i++) counts[r.int(6)]!++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    for (let i = 0; i < 1000; i++) {
      const v = r.between(-3, 3);
      expect(v).toBeGreaterThanOrEqual(-3);
      expect(v).toBeLessThanOrEqual(3);
    }
    expect(r.int(1)).toBe(0);
  });

  it('draws bigints below any bound', () => {
    const r = new Prng(5);
    const n = 10n ** 30n + 7n;
    let max = 0n;
    for (let i = 0; i < 2000; i++) {
      const v = r.bigBelow(n);
      expect(v >= 0n && v < n).toBe(true);
      if (v > max) max = v;
    }
    // 2000 uniform draws: the largest is above 99 % of the bound with overwhelming probability.
    expect(max > (n * 99n) / 100n).toBe(true);
    expect(r.bigBelow(1n)).toBe(0n);
  });

  it('picks weighted indices in proportion and never a zero weight', () => {
    const r = new Prng(11);
    const counts = [0, 0, 0];
    for (let i = 0; i < 40_000; i++) counts[r.weighted([1, 0, 3])]!++;
    expect(counts[1]).toBe(0);
    expect(Math.abs(counts[2]! / counts[0]! - 3)).toBeLessThan(0.2);
  });

  it('rejects seeds it cannot represent exactly', () => {
    expect(() => new Prng(-1)).toThrow(/seed/);
    expect(() => new Prng(1.5)).toThrow(/seed/);
    expect(() => new Prng(2 ** 53)).toThrow(/seed/);
  });
});
