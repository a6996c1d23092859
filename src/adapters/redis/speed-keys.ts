/**
 * The speed layer's Redis key layout: the single place key names are built. Every id placed in a key
 * has already passed core validation (src/core/events/validate.ts: user ids `[A-Za-z0-9_-]{1,64}`,
 * symbols `[A-Z0-9]{2,20}`, assets `[A-Z0-9]{1,12}`), and `assertKeyPart` re-checks here so no
 * user input can reach a key unescaped (no `:`, `*`, spaces or glob characters).
 *
 * Values are JSON with every exact number as a canonical decimal string (Decimal.toString()).
 * docs/redis-keys.md lists each key with its type, TTL and writer.
 */
import { CryptolambdaError } from '../../core/errors.js';
import type { CandleStateJson } from '../../core/speed/price-windows.js';

const KEY_PART = /^[A-Za-z0-9_-]{1,64}$/;

export const assertKeyPart = (what: string, value: string): string => {
  if (!KEY_PART.test(value)) {
    throw new CryptolambdaError('INVALID_ARGUMENT', `invalid ${what} ${JSON.stringify(value)}`);
  }
  return value;
};

export const CANDLE_INTERVALS = ['1m', '5m'] as const;
export type CandleInterval = (typeof CANDLE_INTERVALS)[number];

/** Key builders under a keyspace (`${topicPrefix}cl:`), so tests and tenants sharing one Redis never collide. */
export const speedKeys = (keyspace: string) => ({
  keyspace,
  /** HASH symbol -> LastPriceJson. */
  lastPrice: () => `${keyspace}price:last`,
  /** ZSET score = window start (ms), member = CandleJson; bounded history, TTL refreshed on write. */
  candles: (interval: CandleInterval, symbol: string) =>
    `${keyspace}candles:${interval}:${assertKeyPart('symbol', symbol)}`,
  /** SET of symbols seen. */
  symbols: () => `${keyspace}symbols`,
  /** HASH asset -> PositionJson (all of a user's positions). */
  positions: (userId: string) => `${keyspace}pos:${assertKeyPart('user id', userId)}`,
  /** STRING TierJson. */
  tier: (userId: string) => `${keyspace}tier:${assertKeyPart('user id', userId)}`,
  /** HASH eventId -> raw event JSON: the events the speed layer applied (or rejected) on one event day (YYYY-MM-DD). */
  delta: (userId: string, day: string) =>
    `${keyspace}delta:${assertKeyPart('user id', userId)}:${assertKeyPart('day', day)}`,
  /** HASH field -> DayRewardsJson of one user and day (spend, cashback owed vs paid, staking income, tier). */
  dayRewards: (userId: string, day: string) =>
    `${keyspace}rw:${assertKeyPart('user id', userId)}:${assertKeyPart('day', day)}`,
  /** HASH asset -> PositionJson after the user's last event of that day (reconcile's speed-side view). */
  endOfDay: (userId: string, day: string) =>
    `${keyspace}eod:${assertKeyPart('user id', userId)}:${assertKeyPart('day', day)}`,
  /** SET of user ids with speed-layer data for a day (lets batch expire covered days, reconcile enumerate). */
  dayUsers: (day: string) => `${keyspace}days:${assertKeyPart('day', day)}`,
  /** STRING UserStateJson + recent day aggregates: the worker's private state of one user. */
  userState: (userId: string) => `${keyspace}stream:user:${assertKeyPart('user id', userId)}`,
  /** SET of user ids owned by partition n (loaded on acquire so tier expiry reaches every user). */
  partitionUsers: (n: number) => `${keyspace}stream:users:${n}`,
  /** HASH of partition n's price state: max event time, open windows, last prices, counters. */
  partitionState: (n: number) => `${keyspace}stream:part:${n}`,
  /** HASH partition -> watermark (ms) of that partition; the stream-wide watermark is the min of live ones. */
  watermarks: () => `${keyspace}stream:watermark`,
  /** HASH workerId -> metrics line JSON, written by each worker every metrics interval and at stop. */
  streamStatus: () => `${keyspace}stream:status`,
  /** HASH `topic|n|from` -> RecordedGap JSON: offsets lost from Kafka that a worker accepted (--accept-gap). */
  gaps: () => `${keyspace}stream:gaps`,
});

export type SpeedKeys = ReturnType<typeof speedKeys>;

export const keyspaceFor = (topicPrefix: string): string => `${topicPrefix}cl:`;

/** JSON shapes stored in the keys above. Decimal fields are canonical decimal strings. */
export interface LastPriceJson {
  price: string;
  eventTime: number;
}

/** A member of a candles ZSET (see core/speed/price-windows.ts). */
export type CandleJson = CandleStateJson;

export interface TierJson {
  tier: string;
  spend30d: string;
  /** Event time the current tier took effect. */
  since: number;
}
