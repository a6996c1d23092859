import type { CandleInterval } from '../../adapters/redis/speed-keys.js';
import { CryptolambdaError } from '../../core/errors.js';
import { buildCandles, INTERVALS_MS } from '../../core/ohlcv/candle.js';
import { parseSymbol } from '../../core/serving/input.js';
import {
  alignedRange,
  type CandleJsonOut,
  candleBoundary,
  mergeCandleSeries,
  sourcedCandleToJson,
} from '../../core/serving/ohlcv.js';
import { DAY_MS, dayStart } from '../../core/speed/user-ledger.js';
import type { ServingContext } from './context.js';

export interface OhlcvResult {
  readonly symbol: string;
  readonly interval: CandleInterval;
  readonly from: number;
  readonly to: number;
  /** Windows starting before this come from the lake, from it on from Redis (null: lake only). */
  readonly boundary: number | null;
  readonly batchAsOf: string | null;
  readonly candles: CandleJsonOut[];
}

/** At most this many windows per query (a week of 1m candles): a bigger range is a usage error. */
export const MAX_WINDOWS = 10_080;

export const getOhlcv = async (
  ctx: ServingContext,
  rawSymbol: string,
  interval: CandleInterval,
  from: number,
  to: number,
): Promise<OhlcvResult> => {
  const symbol = parseSymbol(rawSymbol);
  if (!(to > from)) throw new CryptolambdaError('INVALID_ARGUMENT', '--to must be after --from');
  const size = INTERVALS_MS[interval];
  const span = alignedRange(interval, from, to);
  if ((span.to - span.from) / size > MAX_WINDOWS) {
    throw new CryptolambdaError(
      'INVALID_ARGUMENT',
      `the range spans more than ${MAX_WINDOWS} ${interval} windows`,
      'narrow --from/--to or use --interval 5m',
    );
  }
  const cutoff = ctx.warehouse.cutoff();
  const cutoffEnd = cutoff === null ? null : dayStart(cutoff) + DAY_MS;
  const redis = ctx.speed
    ? await ctx.speed.candles(interval, symbol, span.from, span.to)
    : { candles: [], earliest: null };
  const boundary = candleBoundary(cutoffEnd, redis.earliest);
  const lakeTo = Math.min(span.to, boundary);
  const trades = lakeTo > span.from ? await ctx.warehouse.trades(symbol, span.from, lakeTo) : [];
  const candles = mergeCandleSeries({
    interval,
    from,
    to,
    boundary,
    lake: buildCandles(trades, size),
    speed: redis.candles,
  });
  return {
    symbol,
    interval,
    from: span.from,
    to: span.to,
    boundary: Number.isFinite(boundary) ? boundary : null,
    batchAsOf: cutoff,
    candles: candles.map(sourcedCandleToJson),
  };
};
