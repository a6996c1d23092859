import { Decimal, PRICE_SCALE, pow10, QTY_SCALE, USD_SCALE } from '../money/decimal.js';
import {
  PRICE_SOURCES,
  type PriceEvent,
  REWARD_TYPES,
  type RewardEvent,
  TRANSACTION_TYPES,
  type TransactionEvent,
  USD,
} from './types.js';

/**
 * Validation at the boundary: raw objects (decoded Avro, CSV rows, JSON) become typed events or a
 * reason. Never throws for bad input: a reason string travels to the dead-letter topic.
 *
 * Ids are restricted to safe characters because they end up in Redis keys and file names:
 * user ids `[A-Za-z0-9_-]{1,64}`, symbols `[A-Z0-9]{2,20}`, assets `[A-Z0-9]{1,12}`,
 * event ids `[A-Za-z0-9._:-]{1,128}`.
 */
export type Validated<T> = { ok: true; event: T } | { ok: false; reason: string };

export const USER_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
export const SYMBOL_RE = /^[A-Z0-9]{2,20}$/;
export const ASSET_RE = /^[A-Z0-9]{1,12}$/;
export const EVENT_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** 2009-01-03 (genesis block) .. 2100-01-01: anything outside is a unit mistake (seconds, micros). */
export const MIN_EVENT_TIME = Date.UTC(2009, 0, 3);
export const MAX_EVENT_TIME = Date.UTC(2100, 0, 1);

class Invalid extends Error {}

const fail = (reason: string): never => {
  throw new Invalid(reason);
};

const obj = (raw: unknown): Record<string, unknown> =>
  typeof raw === 'object' && raw !== null && !Array.isArray(raw)
    ? (raw as Record<string, unknown>)
    : fail('event is not an object');

const str = (o: Record<string, unknown>, field: string, re: RegExp): string => {
  const v = o[field];
  if (typeof v !== 'string') return fail(`${field}: expected a string`);
  if (!re.test(v)) return fail(`${field}: invalid value ${JSON.stringify(v.slice(0, 80))}`);
  return v;
};

/**
 * The warehouse keeps quantities as DECIMAL(38,18) and USD amounts as DECIMAL(38,12): at most 20 and
 * 26 integer digits. Each decimal field is held to its column by `Decimal.tryParse` (precision 38);
 * the amounts an event PRODUCES (quantity x price, a base fee's value) are checked here, so a valid
 * event can never make a build or a valuation overflow a column for everyone (issue 16): beyond
 * that it is refused at the boundary with the reason (dead letter in `stream` and `ingest`).
 */
export const MAX_EVENT_USD = Decimal.parse('99999999999999999999999999.999999999999', USD_SCALE);

/** MAX_EVENT_USD's units at scale USD_SCALE + k: an exact product at or below it rounds to at most the maximum. */
const maxUsdAt: bigint[] = [];

const fitsUsd = (label: string, q: Decimal, price: Decimal): void => {
  // Every event is checked (prices at 100k/s): the exact product against the bound at its own scale
  // settles nearly all of them without the rounding division `mul` does; only a product above the
  // bound (which may still round down to it) takes the exact path.
  const k = q.scale + price.scale - USD_SCALE;
  if (k >= 0) {
    maxUsdAt[k] ??= MAX_EVENT_USD.units * pow10(k);
    if (q.units * price.units <= maxUsdAt[k]) return;
  }
  const v = q.mul(price, USD_SCALE);
  if (v.gt(MAX_EVENT_USD))
    fail(`${label}: ${v.toPlain()} USD does not fit the warehouse (at most 26 integer digits, DECIMAL(38,12))`);
};

type Sign = 'positive' | 'non-negative';

/**
 * A Decimal (read from a DECIMAL column: the batch's raw zone) at `scale` when that is exact and
 * fits, without its text: what tryParse of its text would return. undefined sends it down the text
 * path, which gives the reason.
 */
const exactAt = (v: Decimal, scale: number): Decimal | undefined => {
  let d: Decimal;
  if (v.scale === scale) d = v;
  else if (v.scale < scale) d = Decimal.fromUnits(v.units * pow10(scale - v.scale), scale);
  else {
    const f = pow10(v.scale - scale);
    if (v.units % f !== 0n) return undefined;
    d = Decimal.fromUnits(v.units / f, scale);
  }
  return d.fits() ? d : undefined;
};

const dec = (o: Record<string, unknown>, field: string, scale: number, sign: Sign): Decimal => {
  const v = o[field];
  const exact = v instanceof Decimal ? exactAt(v, scale) : undefined;
  // The text only when needed (the batch validates millions of Decimals read from Parquet).
  const text = exact !== undefined ? undefined : v instanceof Decimal ? v.toString() : v;
  if (exact === undefined && typeof text !== 'string') return fail(`${field}: expected a decimal string`);
  const d = exact ?? Decimal.tryParse(text as string, scale);
  if (typeof d === 'string') return fail(`${field}: ${d}`);
  if (sign === 'positive' && !d.isPositive()) return fail(`${field}: must be > 0, got ${text ?? String(v)}`);
  if (sign === 'non-negative' && d.isNegative()) return fail(`${field}: must be >= 0, got ${text ?? String(v)}`);
  return d;
};

const time = (o: Record<string, unknown>, field: string): number => {
  const v = o[field];
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) return fail(`${field}: expected integer epoch milliseconds`);
  if (n < MIN_EVENT_TIME || n >= MAX_EVENT_TIME) {
    return fail(`${field}: ${n} is outside 2009-01-03..2100-01-01 (milliseconds expected)`);
  }
  return n;
};

const oneOf = <T extends string>(o: Record<string, unknown>, field: string, values: readonly T[]): T => {
  const v = o[field];
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    return fail(`${field}: expected one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
};

const kind = (o: Record<string, unknown>, expected: string): void => {
  if (o.kind !== undefined && o.kind !== expected) fail(`kind: expected ${expected}, got ${JSON.stringify(o.kind)}`);
};

const guard = <T>(fn: () => T): Validated<T> => {
  try {
    return { ok: true, event: fn() };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, reason: e.message };
    throw e;
  }
};

export const validatePrice = (raw: unknown): Validated<PriceEvent> =>
  guard(() => {
    const o = obj(raw);
    kind(o, 'price');
    const price = dec(o, 'price', PRICE_SCALE, 'positive');
    const quantity = dec(o, 'quantity', QTY_SCALE, 'non-negative');
    // A trade's quote volume (candles, fact_price_daily) is quantity x price.
    fitsUsd('quantity x price', quantity, price);
    return {
      kind: 'price',
      eventId: str(o, 'eventId', EVENT_ID_RE),
      symbol: str(o, 'symbol', SYMBOL_RE),
      price,
      quantity,
      eventTime: time(o, 'eventTime'),
      tradeId: str(o, 'tradeId', EVENT_ID_RE),
      source: oneOf(o, 'source', PRICE_SOURCES),
    };
  });

export const validateTransaction = (raw: unknown): Validated<TransactionEvent> =>
  guard(() => {
    const o = obj(raw);
    kind(o, 'transaction');
    const type = oneOf(o, 'type', TRANSACTION_TYPES);
    const asset = str(o, 'asset', ASSET_RE);
    if (asset === USD && type !== 'card_spend') fail(`asset: USD is only valid for card_spend, not ${type}`);
    const feeAsset = str(o, 'feeAsset', ASSET_RE);
    if (feeAsset !== USD && feeAsset !== asset) fail(`feeAsset: must be USD or the event's asset ${asset}`);
    const quantity = dec(o, 'quantity', QTY_SCALE, 'positive');
    const price = dec(o, 'price', PRICE_SCALE, 'positive');
    if (asset === USD && !price.eq(Decimal.fromUnits(1n, 0))) fail('price: must be 1 for USD');
    const fee = dec(o, 'fee', feeAsset === USD ? USD_SCALE : QTY_SCALE, 'non-negative');
    // A base-asset fee on an acquisition is taken from the units received: more fee than units would
    // make the holding shrink on a buy/deposit (negative quantity on an empty position).
    if ((type === 'buy' || type === 'deposit') && feeAsset === asset && fee.gt(quantity))
      fail(`fee: a base-asset fee cannot exceed the quantity ${type === 'buy' ? 'bought' : 'deposited'}`);
    fitsUsd('quantity x price', quantity, price);
    if (feeAsset !== USD) fitsUsd('fee x price', fee, price);
    return {
      kind: 'transaction',
      eventId: str(o, 'eventId', EVENT_ID_RE),
      userId: str(o, 'userId', USER_ID_RE),
      type,
      asset,
      quantity,
      price,
      fee,
      feeAsset,
      eventTime: time(o, 'eventTime'),
    };
  });

export const validateReward = (raw: unknown): Validated<RewardEvent> =>
  guard(() => {
    const o = obj(raw);
    kind(o, 'reward');
    const asset = str(o, 'asset', ASSET_RE);
    if (asset === USD) fail('asset: rewards are credited in a crypto asset, not USD');
    const refEventId =
      o.refEventId === undefined || o.refEventId === null ? undefined : str(o, 'refEventId', EVENT_ID_RE);
    const ev: RewardEvent = {
      kind: 'reward',
      eventId: str(o, 'eventId', EVENT_ID_RE),
      userId: str(o, 'userId', USER_ID_RE),
      rewardType: oneOf(o, 'rewardType', REWARD_TYPES),
      asset,
      quantity: dec(o, 'quantity', QTY_SCALE, 'positive'),
      price: dec(o, 'price', PRICE_SCALE, 'positive'),
      eventTime: time(o, 'eventTime'),
      ...(refEventId === undefined ? {} : { refEventId }),
    };
    fitsUsd('quantity x price', ev.quantity, ev.price);
    return ev;
  });

/** Exchange symbol of an asset priced in the quote currency (BTC -> BTCUSDT). */
export const symbolOf = (asset: string): string => `${asset}USDT`;
/** Asset of an exchange symbol quoted in USDT (BTCUSDT -> BTC), or undefined for other quotes. */
export const assetOf = (symbol: string): string | undefined =>
  symbol.endsWith('USDT') && symbol.length > 4 ? symbol.slice(0, -4) : undefined;
