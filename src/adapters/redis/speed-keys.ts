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
import { symbolPartition, userPartition } from '../../core/partitioning.js';
import type { CandleStateJson } from '../../core/speed/price-windows.js';

const KEY_PART = /^[A-Za-z0-9_-]{1,64}$/;

export const assertKeyPart = (what: string, value: string): string => {
  if (!KEY_PART.test(value)) {
    throw new CryptolambdaError('INVALID_ARGUMENT', `invalid ${what} ${JSON.stringify(value)}`);
  }
  return value;
};

/** A window start (epoch ms) as a key part: a non-negative integer, nothing else. */
const windowStartPart = (start: number): string => {
  if (!Number.isSafeInteger(start) || start < 0)
    throw new CryptolambdaError('INVALID_ARGUMENT', `invalid window start ${start}`);
  return String(start);
};

export const CANDLE_INTERVALS = ['1m', '5m'] as const;
export type CandleInterval = (typeof CANDLE_INTERVALS)[number];

/**
 * Redis Cluster hash tag of partition n: every key a checkpoint of partition n writes carries it, so
 * the partition's state, offsets and outbox live in one slot and commit in one atomic transaction on
 * a cluster as on a single Redis. Readers find a user's (or symbol's) partition with the producer's
 * murmur2 partitioning (core/partitioning.ts).
 */
export const partitionTag = (n: number): string => {
  if (!Number.isInteger(n) || n < 0 || n > 999)
    throw new CryptolambdaError('INVALID_ARGUMENT', `invalid partition ${n}`);
  return `{p${String(n).padStart(2, '0')}}`;
};

/** Key builders under a keyspace (`${topicPrefix}cl:`), so tests and tenants sharing one Redis never collide. */
export const speedKeys = (keyspace: string) => {
  const u = (what: string, userId: string, n?: number) =>
    `${keyspace}${what}:${partitionTag(n ?? userPartition(assertKeyPart('user id', userId)))}:${assertKeyPart('user id', userId)}`;
  return {
    keyspace,
    /** HASH symbol -> LastPriceJson of the symbols of price partition n. */
    lastPrice: (n: number) => `${keyspace}price:last:${partitionTag(n)}`,
    /** ZSET score = window start (ms), member = CandleJson; bounded history, TTL refreshed on write. */
    candles: (interval: CandleInterval, symbol: string, n?: number) =>
      `${keyspace}candles:${partitionTag(n ?? symbolPartition(assertKeyPart('symbol', symbol)))}:${interval}:${assertKeyPart('symbol', symbol)}`,
    /** SET of symbols seen on price partition n. */
    symbols: (n: number) => `${keyspace}symbols:${partitionTag(n)}`,
    /** HASH asset -> PositionJson (all of a user's positions). */
    positions: (userId: string, n?: number) => u('pos', userId, n),
    /** STRING TierJson. */
    tier: (userId: string, n?: number) => u('tier', userId, n),
    /** HASH eventId -> raw event JSON: the events the speed layer applied (or rejected) on one event day (YYYY-MM-DD). */
    delta: (userId: string, day: string, n?: number) => `${u('delta', userId, n)}:${assertKeyPart('day', day)}`,
    /** STRING DayRewardsJson of one user and day (spend, cashback owed vs paid, staking income, tier). */
    dayRewards: (userId: string, day: string, n?: number) => `${u('rw', userId, n)}:${assertKeyPart('day', day)}`,
    /**
     * HASH asset -> PositionJson (with `lotq`: the queue's method and next seq) after the user's last
     * event of that day, and `<asset>|<seq>` -> LotJson for each open lot of that book (reconcile's
     * speed-side view; `eodBook` in speed-store.ts reads it).
     */
    endOfDay: (userId: string, day: string, n?: number) => `${u('eod', userId, n)}:${assertKeyPart('day', day)}`,
    /** SET of user ids of partition n with speed-layer data for a day (lets batch expire covered days, reconcile enumerate). */
    dayUsers: (day: string, n: number) => `${keyspace}days:${partitionTag(n)}:${assertKeyPart('day', day)}`,
    /** HASH of the worker's private state of one user: tierHead, dedupHead (small, always rewritten), days (recent day aggregates). */
    userState: (userId: string, n?: number) => u('stream:user', userId, n),
    /**
     * HASH `<day>|<eventId>` -> SpendJson [eventTime, amount]: the card spends still inside the user's
     * 30-day window, one field each, so a checkpoint writes the spends that came and HDELs those
     * that left (older checkpoints held one `<day>` field per day bucket; `load` migrates them).
     */
    spendDays: (userId: string, n?: number) => u('stream:spend', userId, n),
    /** HASH eventId -> event time: ids of one event day remembered for duplicate detection (append-only). */
    seen: (userId: string, day: string, n?: number) => `${u('stream:seen', userId, n)}:${assertKeyPart('day', day)}`,
    /**
     * Legacy (checkpoints before the partition log): HASH eventId -> {e: raw event, r: rejection|null},
     * the user's events within the user lateness (core/speed/user-history.ts); `load` moves it into
     * `partitionLog`.
     */
    userLog: (userId: string, n?: number) => u('stream:hlog', userId, n),
    /**
     * HASH `<user>|<eventId>` -> {e, r}: the re-application logs of every user of partition n in one
     * key, so a checkpoint writes one HSET / HDEL per partition instead of one per dirty user (the
     * log is private: only the worker's `load` reads it). Replaces `userLog`, which `load` migrates.
     */
    partitionLog: (n: number) => `${keyspace}stream:hlog:${partitionTag(n)}`,
    /** HASH `<day>|<eventId>` -> SpendJson: the card spends of the user's base book (before its log). */
    baseSpend: (userId: string, n?: number) => u('stream:bspend', userId, n),
    /**
     * HASH `<asset>|<seq>` -> LotJson: the open lots of the user's live book, one field per lot, so a
     * checkpoint writes the lots that changed, not a heavy buyer's whole queue (issue 13).
     */
    userLots: (userId: string, n?: number) => u('stream:lots', userId, n),
    /** HASH `<asset>|<seq>` -> LotJson: the open lots of the user's base book (before its log). */
    baseLots: (userId: string, n?: number) => u('stream:blots', userId, n),
    /** HASH eventId -> userId: user events of an event day the speed layer dead-lettered TOO_LATE (reconcile names them). */
    tooLate: (day: string, n: number) => `${keyspace}toolate:${partitionTag(n)}:${assertKeyPart('day', day)}`,
    /** SET of user ids owned by partition n (loaded on acquire so tier expiry reaches every user). */
    partitionUsers: (n: number) => `${keyspace}stream:users:${partitionTag(n)}`,
    /** HASH of partition n's scalars: price max event time, open windows, last prices, counters, user topics' max. */
    partitionState: (n: number) => `${keyspace}stream:part:${partitionTag(n)}`,
    /**
     * SET of the trade event ids of one open candle window of partition n (the coarsest interval's:
     * see core/speed/price-windows.ts), appended per checkpoint, deleted when the window is final.
     */
    tradeIds: (n: number, interval: CandleInterval, symbol: string, start: number) =>
      `${keyspace}stream:trades:${partitionTag(n)}:${interval}:${assertKeyPart('symbol', symbol)}:${windowStartPart(start)}`,
    /** HASH eventId -> JSON list of raw user events waiting in partition n's merge buffer. */
    partitionBuffer: (n: number) => `${keyspace}stream:buffer:${partitionTag(n)}`,
    /** HASH {price, users} -> watermark (ms) of partition n (core/ohlcv/watermark.ts has the stream-wide rule). */
    watermarks: (n: number) => `${keyspace}stream:watermark:${partitionTag(n)}`,
    /** HASH topic|n -> next offset to process, of partition n (written with its state). */
    offsets: (n: number) => `${keyspace}stream:offsets:${partitionTag(n)}`,
    /** STRING fencing epoch of partition n (bumped by every acquire). */
    epoch: (n: number) => `${keyspace}stream:epoch:${partitionTag(n)}`,
    /** LIST of outbox messages of partition n not yet confirmed sent to Kafka. */
    outbox: (n: number) => `${keyspace}stream:outbox:${partitionTag(n)}`,
    /** HASH workerId -> metrics line JSON, written by each worker every metrics interval and at stop. */
    streamStatus: () => `${keyspace}stream:status`,
    /** STRING JSON {date, startedAt, pid}: a bootstrap from the batch is writing (deleted when it finished). */
    bootstrapMarker: () => `${keyspace}stream:bootstrap`,
    /** HASH `topic|n|from` -> RecordedGap JSON: offsets lost from Kafka that a worker accepted (--accept-gap). */
    gaps: () => `${keyspace}stream:gaps`,
  };
};

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
