import type { PriceEvent, RewardEvent, TransactionEvent } from '../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../../src/core/money/decimal.js';

/** Typed builders for core tests: defaults make a valid event, overrides take plain strings. */
export const T0 = Date.UTC(2024, 0, 1); // 1704067200000
export const MIN = 60_000;
export const DAY = 86_400_000;

const q = (s: string) => Decimal.parse(s, QTY_SCALE);
const p = (s: string) => Decimal.parse(s, PRICE_SCALE);

export interface TxOpts {
  eventId?: string;
  userId?: string;
  asset?: string;
  quantity?: string;
  price?: string;
  fee?: string;
  feeAsset?: string;
  eventTime?: number;
}

let seq = 0;
const nextId = (prefix: string) => `${prefix}-${String(++seq).padStart(6, '0')}`;

export const tx = (type: TransactionEvent['type'], o: TxOpts = {}): TransactionEvent => {
  const asset = o.asset ?? 'BTC';
  const feeAsset = o.feeAsset ?? 'USD';
  return {
    kind: 'transaction',
    eventId: o.eventId ?? nextId('tx'),
    userId: o.userId ?? 'alice',
    type,
    asset,
    quantity: q(o.quantity ?? '1'),
    price: p(o.price ?? '100'),
    fee: Decimal.parse(o.fee ?? '0', feeAsset === 'USD' ? USD_SCALE : QTY_SCALE),
    feeAsset,
    eventTime: o.eventTime ?? T0,
  };
};

export const reward = (
  o: Omit<TxOpts, 'fee' | 'feeAsset'> & { rewardType?: RewardEvent['rewardType'] } = {},
): RewardEvent => ({
  kind: 'reward',
  eventId: o.eventId ?? nextId('rw'),
  userId: o.userId ?? 'alice',
  rewardType: o.rewardType ?? 'staking',
  asset: o.asset ?? 'BTC',
  quantity: q(o.quantity ?? '1'),
  price: p(o.price ?? '100'),
  eventTime: o.eventTime ?? T0,
});

export const trade = (
  o: { eventId?: string; symbol?: string; price?: string; quantity?: string; eventTime?: number } = {},
): PriceEvent => {
  const symbol = o.symbol ?? 'BTCUSDT';
  const eventId = o.eventId ?? nextId(`binance:${symbol}`);
  return {
    kind: 'price',
    eventId,
    symbol,
    price: p(o.price ?? '100'),
    quantity: q(o.quantity ?? '1'),
    eventTime: o.eventTime ?? T0,
    tradeId: eventId.split(':').pop() ?? eventId,
    source: 'binance',
  };
};

/** A raw (pre-validation) transaction as it arrives from JSON/Avro. */
export const rawTx = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  kind: 'transaction',
  eventId: 'tx-1',
  userId: 'alice',
  type: 'buy',
  asset: 'BTC',
  quantity: '1',
  price: '30000',
  fee: '0',
  feeAsset: 'USD',
  eventTime: T0,
  ...over,
});

export const rawReward = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  kind: 'reward',
  eventId: 'rw-1',
  userId: 'alice',
  rewardType: 'staking',
  asset: 'SOL',
  quantity: '0.5',
  price: '100',
  eventTime: T0,
  ...over,
});

export const rawPrice = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  kind: 'price',
  eventId: 'binance:BTCUSDT:1',
  symbol: 'BTCUSDT',
  price: '42000',
  quantity: '0.5',
  eventTime: T0,
  tradeId: '1',
  source: 'binance',
  ...over,
});
