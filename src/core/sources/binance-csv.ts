import type { PriceEvent } from '../events/types.js';
import { validatePrice } from '../events/validate.js';
import { toEpochMillis } from './timestamps.js';

/**
 * Binance public-data CSV (data.binance.vision), parsed line by line without I/O. Layouts:
 *
 *   spot trades:      id,price,qty,quote_qty,time,is_buyer_maker,is_best_match              (7, no header)
 *   spot aggTrades:   agg_id,price,qty,first_trade_id,last_trade_id,time,is_buyer_maker,
 *                     is_best_match                                                          (8, no header)
 *   USD-M trades:     id,price,qty,quote_qty,time,is_buyer_maker                             (6, header)
 *   USD-M aggTrades:  agg_trade_id,price,quantity,first_trade_id,last_trade_id,
 *                     transact_time,is_buyer_maker                                           (7, header)
 *   klines:           open_time,open,high,low,close,volume,close_time,quote_volume,count,
 *                     taker_buy_base,taker_buy_quote,ignore                                  (12)
 *
 * Spot files have no header; USD-M futures files do, and the header is what tells a futures
 * aggTrades file (7 columns) from a spot trades file (7 columns). Spot timestamps are ms before
 * 2025-01-01 and µs after; the unit is detected per value by magnitude.
 *
 * Klines are NOT turned into price events: a candle is not a trade, and replaying one as a trade
 * at its close would invent a print (O=H=L=C) and add its volume to the real trades of the same
 * minute. They are recognised and refused with a reason (see KLINES_REFUSED).
 *
 * eventIds depend only on the row, so replaying the same file twice yields identical ids
 * (idempotent downstream). The id spaces differ per layout, so they are kept apart:
 * `replay:S:<id>` (spot trade), `replay:S:agg:<id>`, `replay:S:um:<id>`, `replay:S:um-agg:<id>`.
 */
export type ArchiveKind = 'trades' | 'aggTrades' | 'klines';
export type Market = 'spot' | 'um';

export interface RowShape {
  readonly kind: ArchiveKind;
  readonly market: Market;
}

const SHAPES: readonly (RowShape & { readonly columns: number; readonly header?: string })[] = [
  { kind: 'trades', market: 'spot', columns: 7 },
  { kind: 'aggTrades', market: 'spot', columns: 8 },
  { kind: 'trades', market: 'um', columns: 6, header: 'id,price,qty,quote_qty,time,is_buyer_maker' },
  {
    kind: 'aggTrades',
    market: 'um',
    columns: 7,
    header: 'agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker',
  },
  { kind: 'klines', market: 'spot', columns: 12 },
];

export const KLINES_REFUSED =
  'klines are candles, not trades: replaying them would invent trades at each close and add their volume to the real trades of the same minute; replay the trades or aggTrades archive of the same days';

const columnsOf = (s: RowShape): number =>
  s.kind === 'klines' ? 12 : SHAPES.find((x) => x.kind === s.kind && x.market === s.market)!.columns;

export type CsvRow =
  | { readonly kind: 'event'; readonly event: PriceEvent }
  | { readonly kind: 'skip'; readonly why: 'blank' | 'header'; readonly shape?: RowShape }
  | { readonly kind: 'bad'; readonly reason: string };

export interface CsvFileInfo {
  readonly symbol: string;
  readonly kind: ArchiveKind;
  readonly interval?: string;
}

/**
 * Symbol and kind from Binance's file names: BTCUSDT-trades-2024-01-01.csv,
 * BTCUSDT-aggTrades-2024-01.zip, BTCUSDT-1m-2024-01-01.csv.
 */
export const csvFileInfo = (fileName: string): CsvFileInfo | undefined => {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  const m = /^([A-Z0-9]{2,20})-(trades|aggTrades|\d+[smhdwM])-\d{4}-\d{2}(-\d{2})?\.(csv|zip)$/.exec(base);
  if (!m) return undefined;
  if (m[2] === 'trades' || m[2] === 'aggTrades') return { symbol: m[1]!, kind: m[2] };
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
const ID_RE = /^\d{1,20}$/;

export interface CsvContext {
  readonly symbol: string;
  /** The file's layout (from its header or the first row); detected from the column count when undefined. */
  readonly shape?: RowShape;
  /** Expected kind from the file name; a row of another kind is bad. */
  readonly kind?: ArchiveKind;
  /** True for the file's first line, the only place a header is tolerated. */
  readonly firstLine?: boolean;
}

const time = (field: string, text: string): number | string => {
  const t = toEpochMillis(text);
  return typeof t === 'string' ? `${field}: ${t}` : t;
};

/** The layout a header names (USD-M files; a spot header is tolerated too). */
const shapeOfHeader = (cols: readonly string[]): RowShape | undefined => {
  const h = cols.join(',').toLowerCase();
  const exact = SHAPES.find((s) => s.header === h);
  if (exact) return { kind: exact.kind, market: exact.market };
  if (cols.length === 7 && cols[0] === 'id') return { kind: 'trades', market: 'spot' };
  if (cols.length === 12 && cols[0] === 'open_time') return { kind: 'klines', market: 'spot' };
  return undefined;
};

const shapeOfRow = (n: number, kind: ArchiveKind | undefined): RowShape | undefined => {
  const s = SHAPES.find((x) => x.columns === n && (kind === undefined || x.kind === kind) && x.header === undefined);
  return s ? { kind: s.kind, market: s.market } : undefined;
};

const tradeRow = (cols: readonly string[], shape: RowShape, symbol: string): Record<string, unknown> | string => {
  const agg = shape.kind === 'aggTrades';
  const id = cols[0]!;
  const price = cols[1]!;
  const qty = cols[2]!;
  const t = cols[agg ? 5 : 4]!;
  const flags = cols.slice(agg ? 6 : 5);
  if (!ID_RE.test(id)) return `id: ${JSON.stringify(id.slice(0, 40))} is not a trade id`;
  if (!flags.every((f) => BOOL_RE.test(f))) {
    return `${shape.market === 'spot' ? 'is_buyer_maker/is_best_match' : 'is_buyer_maker'} must be true or false, got ${flags.join('/')}`;
  }
  const eventTime = time(agg ? 'transact_time' : 'time', t);
  if (typeof eventTime === 'string') return eventTime;
  const space = `${shape.market === 'um' ? (agg ? 'um-agg:' : 'um:') : agg ? 'agg:' : ''}${id}`;
  return { eventId: `replay:${symbol}:${space}`, tradeId: space.replace(':', '-'), price, quantity: qty, eventTime };
};

/** The layout of a data row (not a header) from its column count, narrowed by the file name's kind. */
export const rowShape = (line: string, kind?: ArchiveKind): RowShape | undefined =>
  shapeOfRow(line.split(',').length, kind);

/** "spot trades", "USD-M aggTrades": how a layout is named in messages. */
export const shapeLabel = (s: RowShape): string => `${s.market === 'um' ? 'USD-M' : 'spot'} ${s.kind}`;

/** One CSV line; `ctx.shape` carries the layout a header (or the first row) established. */
export const parseBinanceCsvLine = (line: string, ctx: CsvContext): CsvRow => {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.trim() === '') return { kind: 'skip', why: 'blank' };
  const cols = text.split(',').map((c) => c.trim());
  if (ctx.firstLine && /^[A-Za-z_]/.test(cols[0] ?? '')) {
    const shape = shapeOfHeader(cols);
    return shape ? { kind: 'skip', why: 'header', shape } : { kind: 'skip', why: 'header' };
  }
  const shape = ctx.shape ?? shapeOfRow(cols.length, ctx.kind);
  if (!shape && ctx.kind) {
    const n = SHAPES.filter((x) => x.kind === ctx.kind)
      .map((x) => x.columns)
      .sort((a, b) => a - b);
    return { kind: 'bad', reason: `expected ${n.join(' or ')} columns (${ctx.kind}), got ${cols.length}` };
  }
  if (!shape) {
    return {
      kind: 'bad',
      reason: `expected 6, 7 or 8 (trades, aggTrades) or 12 (klines) columns, got ${cols.length}`,
    };
  }
  if (cols.length !== columnsOf(shape)) {
    return { kind: 'bad', reason: `expected ${columnsOf(shape)} columns (${shape.kind}), got ${cols.length}` };
  }
  if (shape.kind === 'klines') return { kind: 'bad', reason: KLINES_REFUSED };
  const raw = tradeRow(cols, shape, ctx.symbol);
  if (typeof raw === 'string') return { kind: 'bad', reason: raw };
  const v = validatePrice({ kind: 'price', symbol: ctx.symbol, source: 'replay', ...raw });
  return v.ok ? { kind: 'event', event: v.event } : { kind: 'bad', reason: v.reason };
};

/**
 * The dead-letter summary groups reasons by what went wrong, not by the offending value:
 * `price: not a decimal number: "abc"` and `… "x1"` are one line of the summary.
 */
export const reasonClass = (reason: string): string =>
  reason
    .replace(/"(?:[^"\\]|\\.)*"/g, '…')
    .replace(/\d{4,}/g, 'N')
    .slice(0, 66);

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
