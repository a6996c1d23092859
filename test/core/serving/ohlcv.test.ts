import { describe, expect, it } from 'vitest';
import { buildCandles, INTERVALS_MS } from '../../../src/core/ohlcv/candle.js';
import { alignedRange, candleBoundary, mergeCandleSeries } from '../../../src/core/serving/ohlcv.js';
import { trade } from '../build.js';

const M = 60_000;
const T = Date.UTC(2026, 10, 20, 23, 55);

describe('ohlcv merge of lake and Redis candles', () => {
  // One trade per minute 23:55 .. 00:04; the batch cutoff ends at 00:00.
  const trades = Array.from({ length: 10 }, (_, i) =>
    trade({ eventId: `t${i}`, symbol: 'BTCUSDT', price: String(100 + i), quantity: '1', eventTime: T + i * M + 1000 }),
  );
  const all = buildCandles(trades, M);
  const cutoffEnd = Date.UTC(2026, 10, 21);

  it('takes each window from exactly one source: lake before the boundary, Redis from it', () => {
    // Redis holds 23:58 .. 00:04 (overlapping the batch's last two minutes) with a distinguishable volume.
    const redis = all.slice(3).map((c) => ({ candle: { ...c, trades: c.trades + 100 }, final: c.start < T + 8 * M }));
    const boundary = candleBoundary(cutoffEnd, redis[0]!.candle.start);
    expect(boundary).toBe(cutoffEnd);
    const out = mergeCandleSeries({ interval: '1m', from: T, to: T + 10 * M, boundary, lake: all, speed: redis });
    expect(out.map((c) => c.candle.start)).toEqual(all.map((c) => c.start));
    expect(out.map((c) => c.source)).toEqual([...Array(5).fill('batch'), ...Array(5).fill('speed')]);
    expect(out.map((c) => c.candle.trades)).toEqual([1, 1, 1, 1, 1, 101, 101, 101, 101, 101]);
    expect(out.at(-1)!.final).toBe(false);
  });

  it('fills from the lake where Redis history no longer reaches the cutoff, and uses the lake alone without Redis', () => {
    const redis = all.slice(7).map((c) => ({ candle: c, final: true }));
    const boundary = candleBoundary(cutoffEnd, redis[0]!.candle.start);
    expect(boundary).toBe(T + 7 * M);
    const out = mergeCandleSeries({ interval: '1m', from: T, to: T + 10 * M, boundary, lake: all, speed: redis });
    expect(out.map((c) => c.source)).toEqual([...Array(7).fill('batch'), ...Array(3).fill('speed')]);
    expect(candleBoundary(cutoffEnd, null)).toBe(Number.POSITIVE_INFINITY);
    expect(candleBoundary(null, 5)).toBe(5);
  });

  it('clips to the window-aligned range', () => {
    expect(alignedRange('5m', T + 1, T + 5 * M + 1)).toEqual({ from: T, to: T + 2 * INTERVALS_MS['5m'] });
    const out = mergeCandleSeries({
      interval: '1m',
      from: T + 2 * M + 30_000,
      to: T + 4 * M,
      boundary: Number.POSITIVE_INFINITY,
      lake: all,
      speed: [],
    });
    expect(out.map((c) => (c.candle.start - T) / M)).toEqual([2, 3]);
  });
});
