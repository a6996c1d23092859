import type { PriceEvent } from '../events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../money/decimal.js';

/**
 * OHLCV candles over tumbling event-time windows [start, start + size). Every field is an
 * order-independent function of the window's set of trades, so a replay, a live stream and the
 * batch layer build the same candle from the same trades in any arrival order:
 * open/close are the trades with the smallest/largest (eventTime, eventId), high/low are max/min,
 * volume and quote volume are exact sums, VWAP = quoteVolume / volume.
 */
export const INTERVALS_MS = { '1m': 60_000, '5m': 300_000 } as const;
export type Interval = keyof typeof INTERVALS_MS;

/** Start of the tumbling window of `size` ms containing `t` (windows aligned to the epoch; works for t < 0). */
export const windowStart = (t: number, size: number): number => t - (((t % size) + size) % size);

export interface Candle {
  readonly symbol: string;
  readonly start: number;
  /** Exclusive end. */
  readonly end: number;
  readonly open: Decimal;
  readonly high: Decimal;
  readonly low: Decimal;
  readonly close: Decimal;
  /** Sum of traded base quantity (QTY_SCALE). */
  readonly volume: Decimal;
  /** Sum of price x quantity per trade, each rounded HALF-EVEN to USD_SCALE. */
  readonly quoteVolume: Decimal;
  readonly trades: number;
  /** Ordering keys of the open and close trades. */
  readonly openKey: TradeKey;
  readonly closeKey: TradeKey;
}

export interface TradeKey {
  readonly t: number;
  readonly id: string;
}

/** Order of trades inside a window: (eventTime, eventId). */
export const keyCmp = (a: TradeKey, b: TradeKey): number => a.t - b.t || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export const candleOf = (e: PriceEvent, size: number): Candle => {
  const start = windowStart(e.eventTime, size);
  const k = { t: e.eventTime, id: e.eventId };
  const p = e.price.rescale(PRICE_SCALE);
  return {
    symbol: e.symbol,
    start,
    end: start + size,
    open: p,
    high: p,
    low: p,
    close: p,
    volume: e.quantity.rescale(QTY_SCALE),
    quoteVolume: e.quantity.mul(e.price, USD_SCALE),
    trades: 1,
    openKey: k,
    closeKey: k,
  };
};

/** Merge two candles of the same symbol and window. Associative and commutative. */
export const mergeCandles = (a: Candle, b: Candle): Candle => ({
  symbol: a.symbol,
  start: a.start,
  end: a.end,
  open: keyCmp(a.openKey, b.openKey) <= 0 ? a.open : b.open,
  openKey: keyCmp(a.openKey, b.openKey) <= 0 ? a.openKey : b.openKey,
  close: keyCmp(a.closeKey, b.closeKey) >= 0 ? a.close : b.close,
  closeKey: keyCmp(a.closeKey, b.closeKey) >= 0 ? a.closeKey : b.closeKey,
  high: Decimal.max(a.high, b.high),
  low: Decimal.min(a.low, b.low),
  volume: a.volume.add(b.volume),
  quoteVolume: a.quoteVolume.add(b.quoteVolume),
  trades: a.trades + b.trades,
});

/** Add one trade to a window's candle (or start it). */
export const addTrade = (c: Candle | undefined, e: PriceEvent, size: number): Candle =>
  c === undefined ? candleOf(e, size) : mergeCandles(c, candleOf(e, size));

/** Volume-weighted average price (PRICE_SCALE, HALF-EVEN); the close when volume is zero. */
export const vwap = (c: Candle): Decimal => (c.volume.isZero() ? c.close : c.quoteVolume.div(c.volume, PRICE_SCALE));

/**
 * Candles of `size` for a set of trades, keyed by `${symbol}|${start}` and sorted by symbol then start.
 * Duplicate trades (same eventId) count once, as in the speed layer.
 */
export const buildCandles = (trades: readonly PriceEvent[], size: number): Candle[] => {
  const seen = new Set<string>();
  const byKey = new Map<string, Candle>();
  for (const e of trades) {
    if (seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    const k = `${e.symbol}|${windowStart(e.eventTime, size)}`;
    byKey.set(k, addTrade(byKey.get(k), e, size));
  }
  return [...byKey.values()].sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.start - b.start));
};
