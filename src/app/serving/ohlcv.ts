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

/** Symbols either layer knows: the stream's symbol set and the batch cutoff's daily closes. */
export const knownSymbols = async (ctx: ServingContext): Promise<string[]> => {
  const cutoff = ctx.warehouse.cutoff();
  const [speed, closes] = await Promise.all([
    ctx.speed ? ctx.speed.symbols() : Promise.resolve([]),
    cutoff === null ? Promise.resolve(new Map<string, string>()) : ctx.warehouse.closes(cutoff),
  ]);
  return [...new Set([...speed, ...closes.keys()])].sort();
};

/**
 * A query that found no candles: an unknown symbol is NOT_FOUND naming the symbols that exist (a
 * typo must not look like a quiet market); a known one just had no trades in the window.
 */
const assertKnown = async (ctx: ServingContext, symbol: string): Promise<void> => {
  const known = await knownSymbols(ctx);
  if (!known.includes(symbol)) {
    throw new CryptolambdaError(
      'NOT_FOUND',
      `no data for symbol ${symbol}`,
      known.length === 0
        ? 'neither the batch nor the speed layer holds any symbol yet (is the topic prefix right?)'
        : `known symbols: ${known.join(', ')}`,
    );
  }
};

export const getOhlcvChecked = async (
  ctx: ServingContext,
  rawSymbol: string,
  interval: CandleInterval,
  from: number,
  to: number,
): Promise<OhlcvResult> => {
  const r = await getOhlcv(ctx, rawSymbol, interval, from, to);
  if (r.candles.length === 0) await assertKnown(ctx, r.symbol);
  return r;
};

/**
 * The last `limit` windows that have data: anchored at the newest candle of the speed layer, else
 * at the end of the batch cutoff day. (A wall-clock window is empty whenever the data is not live,
 * e.g. right after the demo, which replays past days.)
 */
export const getRecentOhlcv = async (
  ctx: ServingContext,
  rawSymbol: string,
  interval: CandleInterval,
  limit: number,
): Promise<OhlcvResult> => {
  const symbol = parseSymbol(rawSymbol);
  const size = INTERVALS_MS[interval];
  const latest = ctx.speed ? await ctx.speed.latestCandleStart(interval, symbol) : null;
  const cutoff = ctx.warehouse.cutoff();
  const anchor = latest ?? (cutoff === null ? null : dayStart(cutoff) + DAY_MS - size);
  if (anchor === null) {
    await assertKnown(ctx, symbol);
    throw new CryptolambdaError('NO_DATA', `no candles for ${symbol} yet`, 'run `cryptolambda stream` or a batch');
  }
  const to = anchor + size;
  return getOhlcvChecked(ctx, symbol, interval, to - Math.min(limit, MAX_WINDOWS) * size, to);
};
