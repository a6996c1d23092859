import type { PriceEvent } from '../events/types.js';
import { validatePrice } from '../events/validate.js';
import { toEpochMillis } from './timestamps.js';

/**
 * Binance public-data CSV (data.binance.vision, spot), parsed line by line without I/O.
 *
 *   trades: id,price,qty,quote_qty,time,is_buyer_maker,is_best_match                      (7 columns)
 *   klines: open_time,open,high,low,close,volume,close_time,quote_volume,count,
 *           taker_buy_base,taker_buy_quote,ignore                                          (12 columns)
 *
 * The files have no header row, but a header on the first line is tolerated (skipped). Spot
 * timestamps are ms before 2025-01-01 and µs after; the unit is detected per row by magnitude.
 *
 * A kline row becomes ONE PriceEvent for its close: price = close, quantity = the interval's base
 * volume, eventTime = close_time (the interval's last millisecond), tradeId =
 * `kline:<interval>:<open_time ms>`. The close is the price in force at the end of the interval,
 * which is what valuations and candle closes downstream need; the intra-interval open/high/low are
 * not trades and are not invented as such.
 *
 * eventIds are `replay:${symbol}:${tradeId}` and depend only on the row, so replaying the same
 * file twice yields identical ids (idempotent downstream).
 */
export type CsvKind = 'trades' | 'klines';

export const CSV_COLUMNS: Record<CsvKind, number> = { trades: 7, klines: 12 };

export type CsvRow =
  | { readonly kind: 'event'; readonly event: PriceEvent }
  | { readonly kind: 'skip'; readonly why: 'blank' | 'header' }
  | { readonly kind: 'bad'; readonly reason: string };

export interface CsvFileInfo {
  readonly symbol: string;
  readonly kind?: CsvKind;
  readonly interval?: string;
}

/** Symbol and kind from Binance's file names: BTCUSDT-trades-2024-01-01.csv, BTCUSDT-1m-2024-01.csv. */
export const csvFileInfo = (fileName: string): CsvFileInfo | undefined => {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  const m = /^([A-Z0-9]{2,20})-(trades|\d+[smhdwM])-/.exec(base);
  if (!m) return undefined;
  if (m[2] === 'trades') return { symbol: m[1]!, kind: 'trades' };
  return { symbol: m[1]!, kind: 'klines', interval: m[2]! };
};

const UNITS: [number, string][] = [
  [7 * 86_400_000, 'w'],
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'm'],
  [1000, 's'],
];

/** "1m", "4h", "1d" from an interval length in ms (Binance's names, `ms` when nothing fits). */
export const intervalLabel = (ms: number): string => {
  for (const [unit, name] of UNITS) if (ms % unit === 0) return `${ms / unit}${name}`;
  return `${ms}ms`;
};

const BOOL_RE = /^(true|false)$/i;

export interface CsvContext {
  readonly symbol: string;
  /** Expected row shape; detected from the column count when undefined. */
  readonly kind?: CsvKind;
  /** True for the file's first line, the only place a header is tolerated. */
  readonly firstLine?: boolean;
}

const time = (field: string, text: string): number | string => {
  const t = toEpochMillis(text);
  return typeof t === 'string' ? `${field}: ${t}` : t;
};

export const parseBinanceCsvLine = (line: string, ctx: CsvContext): CsvRow => {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.trim() === '') return { kind: 'skip', why: 'blank' };
  const cols = text.split(',').map((c) => c.trim());
  if (ctx.firstLine && /^[A-Za-z_]/.test(cols[0] ?? '')) return { kind: 'skip', why: 'header' };
  const kind: CsvKind | undefined =
    ctx.kind ??
    (cols.length === CSV_COLUMNS.trades ? 'trades' : cols.length === CSV_COLUMNS.klines ? 'klines' : undefined);
  if (!kind) return { kind: 'bad', reason: `expected 7 (trades) or 12 (klines) columns, got ${cols.length}` };
  if (cols.length !== CSV_COLUMNS[kind]) {
    return { kind: 'bad', reason: `expected ${CSV_COLUMNS[kind]} columns (${kind}), got ${cols.length}` };
  }
  let raw: Record<string, unknown>;
  if (kind === 'trades') {
    const [id, price, qty, , t, maker, best] = cols as [string, string, string, string, string, string, string];
    if (!/^\d{1,20}$/.test(id)) return { kind: 'bad', reason: `id: ${JSON.stringify(id)} is not a trade id` };
    if (!BOOL_RE.test(maker) || !BOOL_RE.test(best)) {
      return { kind: 'bad', reason: `is_buyer_maker/is_best_match must be true or false, got ${maker}/${best}` };
    }
    const eventTime = time('time', t);
    if (typeof eventTime === 'string') return { kind: 'bad', reason: eventTime };
    raw = { eventId: `replay:${ctx.symbol}:${id}`, tradeId: id, price, quantity: qty, eventTime };
  } else {
    const [openT, , , , close, volume, closeT] = cols as [string, string, string, string, string, string, string];
    const open = time('open_time', openT);
    if (typeof open === 'string') return { kind: 'bad', reason: open };
    const end = time('close_time', closeT);
    if (typeof end === 'string') return { kind: 'bad', reason: end };
    if (end < open) return { kind: 'bad', reason: `close_time ${closeT} is before open_time ${openT}` };
    const tradeId = `kline:${intervalLabel(end - open + 1)}:${open}`;
    raw = { eventId: `replay:${ctx.symbol}:${tradeId}`, tradeId, price: close, quantity: volume, eventTime: end };
  }
  const v = validatePrice({ kind: 'price', symbol: ctx.symbol, source: 'replay', ...raw });
  return v.ok ? { kind: 'event', event: v.event } : { kind: 'bad', reason: v.reason };
};

/**
 * Wall-clock delay before emitting an event when replaying at `speed` (1 = original pacing from
 * event times, N = N times faster, 0 = as fast as possible). Pure: the caller passes the clock.
 */
export const paceDelayMs = (
  speed: number,
  firstEventTime: number,
  eventTime: number,
  startedAtMs: number,
  nowMs: number,
): number => {
  if (!(speed > 0)) return 0;
  const due = startedAtMs + (eventTime - firstEventTime) / speed;
  return Math.max(0, Math.ceil(due - nowMs));
};
