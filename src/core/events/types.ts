import type { Decimal } from '../money/decimal.js';

/**
 * The domain events every layer shares. Times are integer epoch milliseconds (UTC) in event time.
 * Amounts are exact `Decimal`s at the storage scales of money/decimal.ts:
 * quantities QTY_SCALE, prices PRICE_SCALE (quote currency per unit), amounts USD_SCALE.
 * The quote currency is USD; exchange symbols are `${asset}${QUOTE_ASSET}` (e.g. BTCUSDT),
 * USDT being treated as USD.
 */
export const QUOTE_ASSET = 'USDT';
export const USD = 'USD';

export type EpochMillis = number;

export const PRICE_SOURCES = ['binance', 'replay', 'synthetic'] as const;
export type PriceSource = (typeof PRICE_SOURCES)[number];

/** One trade print on an exchange symbol. */
export interface PriceEvent {
  readonly kind: 'price';
  /** Globally unique and stable across replays: `${source}:${symbol}:${tradeId}`. */
  readonly eventId: string;
  /** Upper-case exchange symbol, e.g. BTCUSDT. */
  readonly symbol: string;
  readonly price: Decimal;
  /** Traded base quantity (volume). */
  readonly quantity: Decimal;
  readonly eventTime: EpochMillis;
  readonly tradeId: string;
  readonly source: PriceSource;
}

export const TRANSACTION_TYPES = ['buy', 'sell', 'deposit', 'withdrawal', 'stake', 'unstake', 'card_spend'] as const;
export type TransactionType = (typeof TRANSACTION_TYPES)[number];

/** A user's action on one asset. */
export interface TransactionEvent {
  readonly kind: 'transaction';
  readonly eventId: string;
  readonly userId: string;
  readonly type: TransactionType;
  /** Asset moved, e.g. BTC; `USD` for card spend from a fiat balance. */
  readonly asset: string;
  /** Always positive; the type gives the direction. */
  readonly quantity: Decimal;
  /** USD per unit of `asset` at the time of the event (1 for USD). */
  readonly price: Decimal;
  /** Fee amount, zero when none; denominated in `feeAsset`. */
  readonly fee: Decimal;
  /** `USD` (quote) or the event's own `asset` (base). */
  readonly feeAsset: string;
  readonly eventTime: EpochMillis;
}

export const REWARD_TYPES = ['cashback', 'staking'] as const;
export type RewardType = (typeof REWARD_TYPES)[number];

/** A reward credited to a user; enters the position at zero cost, its market value is income. */
export interface RewardEvent {
  readonly kind: 'reward';
  readonly eventId: string;
  readonly userId: string;
  readonly rewardType: RewardType;
  readonly asset: string;
  readonly quantity: Decimal;
  /** USD per unit at credit time; income = quantity x price. */
  readonly price: Decimal;
  readonly eventTime: EpochMillis;
  /** For cashback: the card_spend event that earned it. */
  readonly refEventId?: string;
}

export type DomainEvent = PriceEvent | TransactionEvent | RewardEvent;
export type UserEvent = TransactionEvent | RewardEvent;
