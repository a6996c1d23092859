import { describe, expect, it } from 'vitest';
import { mapBounded } from '../../src/core/bounded.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('mapBounded', () => {
  it('keeps at most `limit` calls in flight and returns results in input order', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapBounded([5, 1, 4, 2, 3, 0], 3, async (x) => {
      peak = Math.max(peak, ++inFlight);
      for (let i = 0; i < x; i++) await tick();
      inFlight--;
      return x * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0]);
    expect(peak).toBe(3);
  });

  it('starts nothing after a failure, lets the running calls settle, throws the first error', async () => {
    const started: number[] = [];
    const settled: number[] = [];
    const run = mapBounded([0, 1, 2, 3, 4], 2, async (x) => {
      started.push(x);
      await tick();
      if (x === 0) throw new Error('boom 0');
      await tick();
      settled.push(x);
      return x;
    });
    await expect(run).rejects.toThrow('boom 0');
    expect(started).toEqual([0, 1]);
    expect(settled).toEqual([1]);
  });

  it('limit larger than the input, an empty input, a bad limit', async () => {
    expect(await mapBounded([1, 2], 10, async (x) => x + 1)).toEqual([2, 3]);
    expect(await mapBounded([], 3, async (x) => x)).toEqual([]);
    await expect(mapBounded([1], 0, async (x) => x)).rejects.toThrow(RangeError);
  });
});
