import type { PriceEvent } from '../events/types.js';
import { validatePrice } from '../events/validate.js';
import { toEpochMillis } from './timestamps.js';

/**
 * Binance spot combined-stream frames (`/stream?streams=btcusdt@trade/...`), parsed without I/O.
 *
 * A frame is `{"stream":"btcusdt@trade","data":{...}}`. The trade payload:
 *   e "trade", E event time (ms), s symbol, t trade id, p price, q quantity, T trade time (ms),
 *   m buyer is maker, M ignore.
 * Until 2025 the payload also carried `b` and `a` (buyer / seller order ids); both shapes are
 * accepted and the order ids are ignored. Prices and quantities arrive as strings and are parsed
 * exactly; a number there would already have lost precision in JSON.parse, so it is rejected.
 *
 * eventTime is T (when the trade happened), not E (when the frame was built): event time is the
 * time of the fact. eventId is `binance:${symbol}:${t}`, stable across reconnects, so duplicates
 * from an overlapping reconnect are idempotent downstream.
 */
export type BinanceFrame =
  | { readonly kind: 'trade'; readonly stream: string; readonly event: PriceEvent }
  /** Well-formed but not a trade (subscription acknowledgements, other event types): counted, not dead-lettered. */
  | { readonly kind: 'ignored'; readonly reason: string }
  /** Unusable input: goes to the dead-letter topic with the reason. */
  | { readonly kind: 'malformed'; readonly reason: string; readonly stream?: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const malformed = (reason: string, stream?: string): BinanceFrame =>
  stream === undefined ? { kind: 'malformed', reason } : { kind: 'malformed', reason, stream };

export const parseBinanceFrame = (text: string): BinanceFrame => {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch (err) {
    return malformed(`not JSON: ${(err as Error).message}`);
  }
  if (!isObject(frame)) return malformed('frame is not a JSON object');
  if (frame.stream === undefined && 'id' in frame && ('result' in frame || 'error' in frame)) {
    return { kind: 'ignored', reason: `control response id=${JSON.stringify(frame.id)}` };
  }
  const stream = frame.stream;
  const data = frame.data;
  if (typeof stream !== 'string' || !isObject(data)) {
    return malformed('not a combined-stream frame: expected {"stream": string, "data": object}');
  }
  if (typeof data.e !== 'string') return malformed('data.e (event type) missing', stream);
  if (data.e !== 'trade') return { kind: 'ignored', reason: `non-trade event ${JSON.stringify(data.e)} on ${stream}` };

  const s = data.s;
  if (typeof s !== 'string') return malformed('data.s (symbol) missing', stream);
  const streamSymbol = stream.split('@')[0] ?? '';
  if (streamSymbol.toUpperCase() !== s) {
    return malformed(`symbol ${JSON.stringify(s)} does not match stream ${JSON.stringify(stream)}`, stream);
  }
  const t = data.t;
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) {
    return malformed(`data.t (trade id) must be a non-negative integer, got ${JSON.stringify(t)}`, stream);
  }
  for (const f of ['p', 'q'] as const) {
    if (typeof data[f] !== 'string') {
      return malformed(`data.${f} must be a decimal string, got ${JSON.stringify(data[f])}`, stream);
    }
  }
  const T = data.T;
  if (typeof T !== 'number')
    return malformed(`data.T (trade time) must be an integer, got ${JSON.stringify(T)}`, stream);
  const eventTime = toEpochMillis(T);
  if (typeof eventTime === 'string') return malformed(`data.T: ${eventTime}`, stream);

  const v = validatePrice({
    kind: 'price',
    eventId: `binance:${s}:${t}`,
    symbol: s,
    price: data.p,
    quantity: data.q,
    eventTime,
    tradeId: String(t),
    source: 'binance',
  });
  if (!v.ok) return malformed(v.reason, stream);
  return { kind: 'trade', stream, event: v.event };
};

/** Stream name for a symbol's trade stream (Binance wants lower case). */
export const tradeStreamName = (symbol: string): string => `${symbol.toLowerCase()}@trade`;
