import { SYMBOL_RE, symbolOf } from '../events/validate.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../money/decimal.js';
import type { RawSnapshot } from './snapshot.js';

/**
 * The ticker's view model, built from one raw snapshot of the speed layer. Pure: the same snapshot
 * always gives the same view, so the Ink screen, the plain non-TTY lines and `--json` agree, and the
 * tests need no Redis. Every number is an exact Decimal; percentages are computed with Decimal
 * division (one HALF-EVEN rounding, at PCT_SCALE) and only rounded again for display.
 */

/** Percent changes carry 4 decimals (0.0001 %) in the model and JSON; the screen shows 2. */
export const PCT_SCALE = 4;
export const MINUTE_MS = 60 * 1000;
export const DAY_MS = 24 * 60 * MINUTE_MS;
export const SPARK_CHARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

export interface TickerOptions {
  /** The view is stale when now - watermark exceeds this (ms). */
  readonly staleAfterMs: number;
  /** Number of 1m closes in the sparkline. */
  readonly sparkWidth: number;
  /** Number of recent 1m candles kept per symbol (the detail table). */
  readonly recentCount: number;
  /** Number of top movers. */
  readonly moversCount: number;
}

export const DEFAULT_TICKER_OPTIONS: TickerOptions = {
  staleAfterMs: 10_000,
  sparkWidth: 20,
  recentCount: 10,
  moversCount: 3,
};

export interface CandleView {
  readonly start: number;
  readonly end: number;
  readonly open: Decimal;
  readonly high: Decimal;
  readonly low: Decimal;
  readonly close: Decimal;
  readonly volume: Decimal;
  readonly trades: number;
  readonly final: boolean;
  /** Close vs open of this candle, percent. */
  readonly change: Decimal | null;
}

export interface SymbolView {
  readonly symbol: string;
  /** Last trade price, or the latest 1m close when the last-price entry is missing. */
  readonly price: Decimal | null;
  readonly priceTime: number | null;
  /** Percent change of `price` vs the open of the current 1m / current 5m candle / 24h ago. */
  readonly change1m: Decimal | null;
  readonly change5m: Decimal | null;
  readonly change24h: Decimal | null;
  /** Start of the 1m candle whose open is the 24h reference (first candle starting at or after now - 24h). */
  readonly ref24hStart: number | null;
  readonly sparkline: string;
  readonly current1m: CandleView | null;
  readonly current5m: CandleView | null;
  /** Latest 1m candles, newest first. */
  readonly recent: readonly CandleView[];
}

export interface Mover {
  readonly symbol: string;
  readonly change: Decimal;
}

export interface PositionView {
  readonly asset: string;
  readonly quantity: Decimal;
  /** USD per unit (1 for USD/USDT), null when no price is known. */
  readonly price: Decimal | null;
  readonly value: Decimal | null;
  readonly costBasis: Decimal;
  readonly unrealizedPnl: Decimal | null;
}

export interface UserView {
  readonly id: string;
  readonly tier: string | null;
  readonly spend30d: Decimal | null;
  readonly tierSince: number | null;
  /** Sums over priced positions only; `unpriced` lists the assets left out. */
  readonly value: Decimal;
  readonly costBasis: Decimal;
  readonly unrealizedPnl: Decimal;
  readonly unrealizedPct: Decimal | null;
  readonly positions: readonly PositionView[];
  readonly unpriced: readonly string[];
}

export interface TickerView {
  readonly now: number;
  /** Stream-wide watermark: the minimum of the partition watermarks. */
  readonly watermark: number | null;
  readonly stale: boolean;
  readonly staleReason: string | null;
  readonly symbols: readonly SymbolView[];
  readonly movers: { readonly basis: '24h' | '5m'; readonly top: readonly Mover[] };
  readonly user: UserView | null;
  /** Entries that failed validation and were left out (corrupt JSON, bad decimals). */
  readonly skipped: number;
}

const HUNDRED = Decimal.fromUnits(100n, 0);
const ONE_USD = Decimal.fromUnits(1n, 0).rescale(PRICE_SCALE);
/** Assets worth exactly one quote unit: the quote currency is USD and USDT is treated as USD. */
const USD_LIKE = new Set(['USD', 'USDT']);

/** (value - ref) / ref in percent, rounded once to PCT_SCALE; null when there is no reference. */
export const pctChange = (value: Decimal | null, ref: Decimal | null): Decimal | null => {
  if (value === null || ref === null || ref.isZero()) return null;
  const diff = value.sub(ref);
  return diff.mul(HUNDRED, diff.scale).div(ref, PCT_SCALE);
};

type Counter = { n: number };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const dec = (v: unknown, scale: number): Decimal | null => {
  if (typeof v !== 'string') return null;
  const d = Decimal.tryParse(v, scale);
  return typeof d === 'string' ? null : d;
};

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

const parseCandle = (raw: unknown, skipped: Counter): CandleView | null => {
  if (!isObj(raw)) {
    skipped.n++;
    return null;
  }
  const open = dec(raw.open, PRICE_SCALE);
  const high = dec(raw.high, PRICE_SCALE);
  const low = dec(raw.low, PRICE_SCALE);
  const close = dec(raw.close, PRICE_SCALE);
  const volume = dec(raw.volume, QTY_SCALE);
  const { start, end, trades } = raw;
  if (
    open === null ||
    high === null ||
    low === null ||
    close === null ||
    volume === null ||
    !isTime(start) ||
    !isTime(end) ||
    !isTime(trades)
  ) {
    skipped.n++;
    return null;
  }
  return {
    start,
    end,
    open,
    high,
    low,
    close,
    volume,
    trades,
    final: raw.final === true,
    change: pctChange(close, open),
  };
};

/** Ascending by start; a window written twice (a racing update) keeps the entry listed last. */
const candleSeries = (raws: readonly unknown[] | undefined, skipped: Counter): CandleView[] => {
  const byStart = new Map<number, CandleView>();
  for (const raw of raws ?? []) {
    const c = parseCandle(raw, skipped);
    if (c) byStart.set(c.start, c);
  }
  return [...byStart.values()].sort((a, b) => a.start - b.start);
};

/**
 * One character per close, scaled exactly between the min and max close: level =
 * floor((close - min) * 7 / (max - min)) in bigint, so no float ever decides a bar.
 * A flat series sits in the middle.
 */
export const sparkline = (closes: readonly Decimal[]): string => {
  if (closes.length === 0) return '';
  const units = closes.map((c) => c.rescale(PRICE_SCALE).units);
  let min = units[0]!;
  let max = units[0]!;
  for (const u of units) {
    if (u < min) min = u;
    if (u > max) max = u;
  }
  const range = max - min;
  const top = BigInt(SPARK_CHARS.length - 1);
  return units.map((u) => SPARK_CHARS[range === 0n ? 3 : Number(((u - min) * top) / range)]).join('');
};

/**
 * The candles of the last `n` minutes up to the current one. By time, not by count: the series also
 * holds the 24h reference candle, and an idle symbol has gaps, neither of which belongs in a
 * "last 20 minutes" sparkline.
 */
const lastMinutes = (m1: readonly CandleView[], n: number): CandleView[] => {
  const current = m1.at(-1);
  if (current === undefined) return [];
  const from = current.start - (n - 1) * MINUTE_MS;
  return m1.filter((c) => c.start >= from).slice(-n);
};

const lastPriceOf = (raw: unknown): { price: Decimal; eventTime: number } | null => {
  if (!isObj(raw) || !isTime(raw.eventTime)) return null;
  const price = dec(raw.price, PRICE_SCALE);
  return price === null ? null : { price, eventTime: raw.eventTime };
};

const buildSymbol = (
  symbol: string,
  snap: RawSnapshot,
  lastPrices: Map<string, { price: Decimal; eventTime: number }>,
  opts: TickerOptions,
  skipped: Counter,
): SymbolView => {
  const m1 = candleSeries(snap.candles1m[symbol], skipped);
  const m5 = candleSeries(snap.candles5m[symbol], skipped);
  const current1m = m1.at(-1) ?? null;
  const current5m = m5.at(-1) ?? null;
  const last = lastPrices.get(symbol) ?? null;
  const price = last?.price ?? current1m?.close ?? null;
  const priceTime = last?.eventTime ?? current1m?.end ?? null;
  const ref24h = m1.find((c) => c.start >= snap.now - DAY_MS) ?? null;
  return {
    symbol,
    price,
    priceTime,
    change1m: pctChange(price, current1m?.open ?? null),
    change5m: pctChange(price, current5m?.open ?? null),
    change24h: pctChange(price, ref24h?.open ?? null),
    ref24hStart: ref24h?.start ?? null,
    sparkline: sparkline(lastMinutes(m1, opts.sparkWidth).map((c) => c.close)),
    current1m,
    current5m,
    recent: lastMinutes(m1, opts.recentCount).reverse(),
  };
};

const topMovers = (symbols: readonly SymbolView[], n: number): TickerView['movers'] => {
  const basis = symbols.some((s) => s.change24h !== null) ? '24h' : '5m';
  const top = symbols
    .flatMap((s) => {
      const change = basis === '24h' ? s.change24h : s.change5m;
      return change === null ? [] : [{ symbol: s.symbol, change }];
    })
    .sort((a, b) => b.change.abs().cmp(a.change.abs()) || (a.symbol < b.symbol ? -1 : 1))
    .slice(0, n);
  return { basis, top };
};

const buildUser = (
  raw: NonNullable<RawSnapshot['user']>,
  lastPrices: Map<string, { price: Decimal; eventTime: number }>,
  skipped: Counter,
): UserView => {
  const positions: PositionView[] = [];
  const unpriced: string[] = [];
  let value = Decimal.zero(USD_SCALE);
  let costBasis = Decimal.zero(USD_SCALE);
  let unrealizedPnl = Decimal.zero(USD_SCALE);
  for (const p of raw.positions) {
    const quantity = isObj(p) ? dec(p.quantity, QTY_SCALE) : null;
    const cost = isObj(p) ? dec(p.costBasis, USD_SCALE) : null;
    if (!isObj(p) || typeof p.asset !== 'string' || quantity === null || cost === null) {
      skipped.n++;
      continue;
    }
    // A closed position (nothing held, nothing invested) is history, not part of the live view.
    if (quantity.isZero() && cost.isZero()) continue;
    const asset = p.asset;
    const price = USD_LIKE.has(asset) ? ONE_USD : (lastPrices.get(symbolOf(asset))?.price ?? null);
    if (price === null) {
      unpriced.push(asset);
      positions.push({ asset, quantity, price: null, value: null, costBasis: cost, unrealizedPnl: null });
      continue;
    }
    const v = quantity.mul(price, USD_SCALE);
    const pnl = v.sub(cost);
    value = value.add(v);
    costBasis = costBasis.add(cost);
    unrealizedPnl = unrealizedPnl.add(pnl);
    positions.push({ asset, quantity, price, value: v, costBasis: cost, unrealizedPnl: pnl });
  }
  positions.sort((a, b) => (a.asset < b.asset ? -1 : a.asset > b.asset ? 1 : 0));
  unpriced.sort();
  let tier: string | null = null;
  let spend30d: Decimal | null = null;
  let tierSince: number | null = null;
  if (raw.tier !== null && raw.tier !== undefined) {
    const t = raw.tier;
    const spend = isObj(t) ? dec(t.spend30d, USD_SCALE) : null;
    if (isObj(t) && typeof t.tier === 'string' && spend !== null && isTime(t.since)) {
      tier = t.tier;
      spend30d = spend;
      tierSince = t.since;
    } else {
      skipped.n++;
    }
  }
  return {
    id: raw.id,
    tier,
    spend30d,
    tierSince,
    value,
    costBasis,
    unrealizedPnl,
    unrealizedPct: pctChange(value, costBasis.isZero() ? null : costBasis),
    positions,
    unpriced,
  };
};

export const buildTickerView = (snap: RawSnapshot, options: Partial<TickerOptions> = {}): TickerView => {
  const opts = { ...DEFAULT_TICKER_OPTIONS, ...options };
  const skipped: Counter = { n: 0 };
  const lastPrices = new Map<string, { price: Decimal; eventTime: number }>();
  for (const [symbol, raw] of Object.entries(snap.lastPrices)) {
    const lp = lastPriceOf(raw);
    if (lp) lastPrices.set(symbol, lp);
    else skipped.n++;
  }
  const names = [...new Set(snap.symbols)].filter((s) => SYMBOL_RE.test(s)).sort();
  const symbols = names.map((s) => buildSymbol(s, snap, lastPrices, opts, skipped));
  const live = snap.watermarks.filter(isTime);
  const watermark = live.length === 0 ? null : Math.min(...live);
  let staleReason: string | null = null;
  if (!symbols.some((s) => s.price !== null)) staleReason = 'no data';
  else if (watermark === null) staleReason = 'no watermark';
  else if (snap.now - watermark > opts.staleAfterMs)
    staleReason = `watermark ${Math.floor((snap.now - watermark) / 1000)}s behind`;
  return {
    now: snap.now,
    watermark,
    stale: staleReason !== null,
    staleReason,
    symbols,
    movers: topMovers(symbols, opts.moversCount),
    user: snap.user ? buildUser(snap.user, lastPrices, skipped) : null,
    skipped: skipped.n,
  };
};
