import { type Candle, INTERVALS_MS, type Interval, vwap, windowStart } from '../ohlcv/candle.js';
import type { CandleFieldsJson } from '../speed/price-windows.js';

/**
 * `ohlcv` merges two candle sources without gaps or double counting: each window comes from exactly
 * one source, chosen by its start against a boundary.
 *
 *   boundary = max(end of the batch cutoff day, start of the speed layer's oldest stored candle)
 *
 * Windows before the boundary are computed from the lake (the raw zone's trades, with the core candle
 * functions the speed layer uses); windows from the boundary on are the speed layer's Redis candles.
 * The batch is authoritative up to its cutoff (it has trades beyond the speed layer's lateness);
 * Redis is authoritative after it, and where Redis's bounded history no longer reaches back to the
 * cutoff the lake fills the hole. With no Redis candles at all the lake serves the whole range.
 */
export type CandleSource = 'batch' | 'speed';

export interface SourcedCandle {
  readonly candle: Candle;
  /** True when the window can no longer change (speed: past its lateness; batch: always). */
  readonly final: boolean;
  readonly source: CandleSource;
}

export const candleBoundary = (cutoffEnd: number | null, speedEarliest: number | null): number => {
  if (speedEarliest === null) return Number.POSITIVE_INFINITY;
  if (cutoffEnd === null) return speedEarliest;
  return Math.max(cutoffEnd, speedEarliest);
};

/** The window-aligned span [from, to) covering every window that intersects [from, to). */
export const alignedRange = (interval: Interval, from: number, to: number): { from: number; to: number } => {
  const size = INTERVALS_MS[interval];
  return { from: windowStart(from, size), to: windowStart(to - 1, size) + size };
};

export const mergeCandleSeries = (opts: {
  interval: Interval;
  from: number;
  to: number;
  boundary: number;
  lake: readonly Candle[];
  speed: readonly { candle: Candle; final: boolean }[];
}): SourcedCandle[] => {
  const { from, to } = alignedRange(opts.interval, opts.from, opts.to);
  const out = new Map<number, SourcedCandle>();
  for (const c of opts.lake) {
    if (c.start >= from && c.start < to && c.start < opts.boundary) {
      out.set(c.start, { candle: c, final: true, source: 'batch' });
    }
  }
  for (const s of opts.speed) {
    const c = s.candle;
    if (c.start >= from && c.start < to && c.start >= opts.boundary) {
      out.set(c.start, { candle: c, final: s.final, source: 'speed' });
    }
  }
  return [...out.values()].sort((a, b) => a.candle.start - b.candle.start);
};

export interface CandleJsonOut extends CandleFieldsJson {
  final: boolean;
  source: CandleSource;
}

export const sourcedCandleToJson = (s: SourcedCandle): CandleJsonOut => ({
  start: s.candle.start,
  end: s.candle.end,
  open: s.candle.open.toString(),
  high: s.candle.high.toString(),
  low: s.candle.low.toString(),
  close: s.candle.close.toString(),
  volume: s.candle.volume.toString(),
  quoteVolume: s.candle.quoteVolume.toString(),
  trades: s.candle.trades,
  vwap: vwap(s.candle).toString(),
  final: s.final,
  source: s.source,
});
