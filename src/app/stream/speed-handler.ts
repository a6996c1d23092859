import type { ChainableCommander, Redis } from 'ioredis';
import { decodeRecord, encodeDeadLetter } from '../../adapters/avro/codec.js';
import type { ConsumedRecord } from '../../adapters/kafka/consumer.js';
import {
  type CommittedChangesSink,
  type LiveCandle,
  LiveFeedWriter,
  type PriceChange,
} from '../../adapters/redis/live-feed.js';
import { type CandleInterval, keyspaceFor, type SpeedKeys, speedKeys } from '../../adapters/redis/speed-keys.js';
import type { Config } from '../../config/config.js';
import { CryptolambdaError } from '../../core/errors.js';
import { eventToRaw, userEventFromRaw } from '../../core/events/json.js';
import type { UserEvent } from '../../core/events/types.js';
import { deadLetterCategory } from '../../core/metrics/dead-letter.js';
import { Decimal, PRICE_SCALE } from '../../core/money/decimal.js';
import type { Interval } from '../../core/ohlcv/candle.js';
import { NO_WATERMARK } from '../../core/ohlcv/watermark.js';
import { positionToJson } from '../../core/portfolio/codec.js';
import { compareEvents, type Position } from '../../core/portfolio/position.js';
import { DEFAULT_TIERS, type TierChange, type TierDef } from '../../core/rewards/tiers.js';
import {
  type CandleStateJson,
  candleFromJson,
  candleToJson,
  type LastPrice,
  PriceWindows,
} from '../../core/speed/price-windows.js';
import {
  advanceUser,
  applyUserEvent,
  DAY_MS,
  type DayRewards,
  type DayRewardsJson,
  dayFromJson,
  dayOf,
  dayToJson,
  emptyUser,
  type UserState,
  type UserStateJson,
  userFromJson,
  userToJson,
} from '../../core/speed/user-ledger.js';
import { topicName } from '../../core/topics.js';
import type { OutboxMessage, PartitionHandler } from './runtime.js';

export interface SpeedOptions {
  /** Bounded out-of-orderness of event time (ms). */
  readonly outOfOrdernessMs: number;
  /** How long a closed window still accepts late trades (ms). */
  readonly allowedLatenessMs: number;
  /** Processing time without new user events after which buffered user events are released (ms). */
  readonly userIdleMs: number;
  readonly tiers: readonly TierDef[];
  /** Candles kept per symbol and interval. */
  readonly history: Readonly<Record<CandleInterval, number>>;
  /** TTL (s) of per-day keys (deltas, day rewards, end-of-day positions); batch shortens it once a day is covered. */
  readonly dayTtlSec: number;
}

export const DEFAULT_SPEED_OPTIONS: SpeedOptions = {
  outOfOrdernessMs: 5_000,
  allowedLatenessMs: 30_000,
  userIdleMs: 2_000,
  tiers: DEFAULT_TIERS,
  history: { '1m': 1440, '5m': 2016 },
  dayTtlSec: 8 * 24 * 3600,
};

const INTERVALS: readonly Interval[] = ['1m', '5m'];
const USER_TABLES = ['transactions', 'rewards'] as const;

interface UserEntry {
  state: UserState;
  /** Day aggregates of recent days (older ones are final and already written). */
  days: Map<string, DayRewards>;
}

interface UserDirty {
  assets: Set<string>;
  days: Set<string>;
  /**
   * Final aggregates of dirty days that left the worker's three-day memory before the checkpoint
   * (a replay or catch-up can cover many days of one user between two checkpoints).
   */
  retired: Map<string, DayRewards>;
  /** Events applied per day (for the Lambda merge's per-day event sets). */
  deltas: Map<string, Map<string, string>>;
  /**
   * Per day, the user's book right after their latest applied event of that day. A flush can hold
   * events of two days; the end of day D must not see day D+1's events. The ledger updates the book
   * in place, so the open day (`eodOpen`) is read from the live book at flush time and copied only
   * when an event of a later day arrives (once per user and day, not per event).
   */
  eod: Map<string, ReadonlyMap<string, Position>>;
  eodOpen?: string;
  tier: boolean;
}

interface PartitionState {
  readonly prices: PriceWindows;
  readonly users: Map<string, UserEntry>;
  readonly dirty: Map<string, UserDirty>;
  /** Processing time the partition was acquired (idleness of a user topic that never had a record). */
  readonly acquiredAt: number;
  /** User events waiting for both user topics' event time to pass them (see `releaseBuffer`). */
  buffer: UserEvent[];
  /** Max event time seen per user topic on this partition. */
  readonly userMax: Map<string, number>;
  /** Processing time of the last record per user topic (idleness; not checkpointed). */
  readonly lastRecordAt: Map<string, number>;
  /** Event time up to which user events have been released (the users' watermark). */
  userFrontier: number;
  readonly outbox: OutboxMessage[];
  readonly counts: {
    userEvents: number;
    duplicates: number;
    rejected: number;
    invalid: number;
    lateUser: number;
    tierChanges: number;
  };
  stateDirty: boolean;
}

interface UserBlob extends UserStateJson {
  days: [string, DayRewardsJson][];
}

/**
 * The speed layer's logic per partition n (prices, transactions and rewards partition n all belong
 * to one worker at a time): candles from raw.prices, positions / tiers / day aggregates from the
 * user topics. Everything it writes goes into the runtime's checkpoint MULTI/EXEC, together with
 * the offsets, so a crash never leaves state and offsets disagreeing.
 *
 * User events from the two user topics are merged in (eventTime, eventId) order before they touch
 * accounting (average cost depends on order): an event is released once both topics' max event
 * time minus the out-of-orderness has passed it, which makes the order independent of how Kafka
 * interleaves the two topics' batches. When the user topics go quiet (userIdleMs of processing
 * time), the buffer is released so the last events of a stream do not wait forever.
 */
export class SpeedHandler implements PartitionHandler {
  readonly keys: SpeedKeys;
  private readonly parts = new Map<number, PartitionState>();
  /** Dead letters this process sent, by `topic|category` (metrics; monotonic, survives rebalances). */
  readonly deadLetters = new Map<string, number>();
  readonly topics: { prices: string; transactions: string; rewards: string; dlq: string; late: string; tiers: string };

  constructor(
    config: Config,
    readonly opts: SpeedOptions = DEFAULT_SPEED_OPTIONS,
    private readonly now: () => number = Date.now,
    /** Told, inside the checkpoint transaction, what it commits (the live push reads this feed). */
    private readonly live: CommittedChangesSink = new LiveFeedWriter(keyspaceFor(config.topicPrefix)),
  ) {
    this.keys = speedKeys(keyspaceFor(config.topicPrefix));
    const p = config.topicPrefix;
    this.topics = {
      prices: topicName(p, 'prices'),
      transactions: topicName(p, 'transactions'),
      rewards: topicName(p, 'rewards'),
      dlq: topicName(p, 'deadLetter'),
      late: topicName(p, 'latePrices'),
      tiers: topicName(p, 'tierChanges'),
    };
  }

  partitions(): ReadonlyMap<number, PartitionState> {
    return this.parts;
  }

  async acquire(n: number, redis: Redis): Promise<void> {
    const prices = new PriceWindows({
      intervals: INTERVALS,
      outOfOrdernessMs: this.opts.outOfOrdernessMs,
      allowedLatenessMs: this.opts.allowedLatenessMs,
    });
    const part: PartitionState = {
      prices,
      users: new Map(),
      dirty: new Map(),
      buffer: [],
      userMax: new Map(),
      userFrontier: NO_WATERMARK,
      lastRecordAt: new Map(),
      acquiredAt: this.now(),
      outbox: [],
      counts: { userEvents: 0, duplicates: 0, rejected: 0, invalid: 0, lateUser: 0, tierChanges: 0 },
      stateDirty: false,
    };
    const h = await redis.hgetall(this.keys.partitionState(n));
    if (h.maxEventTime !== undefined) {
      const open = JSON.parse(h.open ?? '[]') as [Interval, CandleStateJson][];
      const last = new Map<string, LastPrice>(
        (JSON.parse(h.last ?? '[]') as [string, { price: string; eventTime: number; eventId: string }][]).map(
          ([s, p]) => [s, { price: Decimal.parse(p.price, PRICE_SCALE), eventTime: p.eventTime, eventId: p.eventId }],
        ),
      );
      prices.restore(
        storedTime(h.maxEventTime),
        open.map(([interval, c]) => ({ interval, candle: candleFromJson(c), final: false })),
        last,
      );
      prices.counts = JSON.parse(h.priceCounts ?? '{}');
      Object.assign(part.counts, JSON.parse(h.userCounts ?? '{}'));
      for (const [t, m] of JSON.parse(h.userMax ?? '[]') as [string, number][]) part.userMax.set(t, m);
      part.userFrontier = storedTime(h.userFrontier);
      part.buffer = (JSON.parse(h.buffer ?? '[]') as string[]).map((b) => decodeBuffered(b));
    }
    // Load every user of the partition so tier expiry reaches users without new events.
    const ids = await redis.smembers(this.keys.partitionUsers(n));
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      const blobs = await redis.mget(...chunk.map((u) => this.keys.userState(u)));
      blobs.forEach((b, j) => {
        if (b === null) return;
        const blob = JSON.parse(b) as UserBlob;
        part.users.set(chunk[j]!, {
          state: userFromJson(blob),
          days: new Map(blob.days.map(([d, j2]) => [d, dayFromJson(j2)])),
        });
      });
    }
    this.parts.set(n, part);
  }

  release(n: number): void {
    this.parts.delete(n);
  }

  async apply(topic: string, n: number, records: readonly ConsumedRecord[]): Promise<void> {
    const part = this.parts.get(n);
    if (part === undefined) throw new Error(`partition ${n} applied before acquire`);
    if (topic === this.topics.prices) this.applyPrices(part, records);
    else this.applyUsers(part, topic, records);
  }

  private deadLetter(part: PartitionState, r: ConsumedRecord, reason: string): void {
    const cat = `${r.topic}|${deadLetterCategory(reason)}`;
    this.deadLetters.set(cat, (this.deadLetters.get(cat) ?? 0) + 1);
    part.outbox.push({
      topic: this.topics.dlq,
      key: `stream:${r.topic}`,
      value: encodeDeadLetter({
        source: `stream:${r.topic}[${r.partition}]@${r.offset}`,
        reason,
        payload: r.value ?? Buffer.alloc(0),
        receivedAt: Number(r.timestamp),
        ...(r.key === null ? {} : { key: r.key }),
      }),
    });
  }

  private applyPrices(part: PartitionState, records: readonly ConsumedRecord[]): void {
    for (const r of records) {
      if (r.value === null) {
        part.counts.invalid++;
        this.deadLetter(part, r, 'empty message value');
        continue;
      }
      const d = decodeRecord('prices', r.value);
      if (!d.ok) {
        part.counts.invalid++;
        this.deadLetter(part, r, d.reason);
        continue;
      }
      const out = part.prices.add(d.event);
      if (out.lateFor.includes('1m')) {
        part.outbox.push({ topic: this.topics.late, key: d.event.symbol, value: r.value });
      }
    }
    part.stateDirty = true;
  }

  private applyUsers(part: PartitionState, topic: string, records: readonly ConsumedRecord[]): void {
    const table: 'transactions' | 'rewards' = topic === this.topics.transactions ? 'transactions' : 'rewards';
    let max = part.userMax.get(table) ?? NO_WATERMARK;
    for (const r of records) {
      const d =
        r.value === null
          ? { ok: false as const, reason: 'empty message value' }
          : table === 'transactions'
            ? decodeRecord('transactions', r.value)
            : decodeRecord('rewards', r.value);
      if (!d.ok) {
        part.counts.invalid++;
        this.deadLetter(part, r, d.reason);
        continue;
      }
      const e = d.event;
      if (e.eventTime > max) max = e.eventTime;
      if (e.eventTime <= part.userFrontier) {
        // Behind the users' watermark: apply now (money is never dropped); it may land out of order.
        part.counts.lateUser++;
        this.applyUser(part, e);
      } else part.buffer.push(e);
    }
    part.userMax.set(table, max);
    part.lastRecordAt.set(table, this.now());
    part.stateDirty = true;
    this.releaseBuffer(part, new Set());
  }

  /**
   * Release buffered user events up to the users' frontier, in event order. The frontier is the
   * minimum over the user topics that are not idle of (max event time - out-of-orderness - 1); an idle
   * topic (processed up to its high watermark and quiet for userIdleMs) does not hold it back, and
   * when both are idle everything buffered is released.
   */
  private releaseBuffer(part: PartitionState, idle: ReadonlySet<string>): void {
    if (part.buffer.length === 0) return;
    const active = USER_TABLES.filter((t) => !idle.has(t));
    const frontier =
      active.length === 0
        ? Math.max(...USER_TABLES.map((t) => part.userMax.get(t) ?? NO_WATERMARK))
        : Math.min(...active.map((t) => part.userMax.get(t) ?? NO_WATERMARK)) - this.opts.outOfOrdernessMs - 1;
    if (frontier <= NO_WATERMARK) return;
    part.buffer.sort(compareEvents);
    let i = 0;
    while (i < part.buffer.length && part.buffer[i]!.eventTime <= frontier) this.applyUser(part, part.buffer[i++]!);
    if (i === 0) return;
    part.buffer = part.buffer.slice(i);
    if (frontier > part.userFrontier) part.userFrontier = frontier;
    part.stateDirty = true;
    this.expireTiers(part);
  }

  /** Tiers drop as old spend leaves the 30-day window: advance every user to the users' watermark. */
  private expireTiers(part: PartitionState): void {
    if (part.userFrontier === NO_WATERMARK) return;
    for (const [userId, u] of part.users) {
      const r = advanceUser(u.state, part.userFrontier, this.opts.tiers);
      if (!r.changed) continue;
      const dirty = this.dirtyOf(part, userId);
      dirty.tier = true;
      this.emitTierChanges(part, userId, r.changes);
    }
  }

  private emitTierChanges(part: PartitionState, userId: string, changes: readonly TierChange[]): void {
    for (const c of changes) {
      part.counts.tierChanges++;
      part.outbox.push({
        topic: this.topics.tiers,
        key: userId,
        value: Buffer.from(
          JSON.stringify({ userId, at: c.at, from: c.from, to: c.to, spend30d: c.spend30d.toString() }),
          'utf8',
        ),
      });
    }
  }

  private dirtyOf(part: PartitionState, userId: string): UserDirty {
    let d = part.dirty.get(userId);
    if (d === undefined) {
      d = { assets: new Set(), days: new Set(), retired: new Map(), deltas: new Map(), eod: new Map(), tier: false };
      part.dirty.set(userId, d);
    }
    return d;
  }

  private applyUser(part: PartitionState, e: UserEvent): void {
    let u = part.users.get(e.userId);
    if (u === undefined) {
      u = { state: emptyUser(e.userId, this.opts.tiers), days: new Map() };
      part.users.set(e.userId, u);
    }
    const day = dayOf(e.eventTime);
    const open = part.dirty.get(e.userId)?.eodOpen;
    if (open !== undefined && open !== day) {
      const dirty = this.dirtyOf(part, e.userId);
      dirty.eod.set(open, new Map(u.state.positions));
      delete dirty.eodOpen;
    }
    const step = applyUserEvent(u.state, e, u.days.get(day), this.opts.tiers);
    if (step.outcome.kind === 'duplicate') {
      part.counts.duplicates++;
      return;
    }
    part.counts.userEvents++;
    u.days.set(day, step.day!);
    const dirty = this.dirtyOf(part, e.userId);
    dirty.days.add(day);
    dirty.retired.delete(day);
    // Keep three days of aggregates in the worker; older days no longer receive on-time events.
    for (const [d, agg] of u.days) {
      if (Date.parse(d) >= Date.parse(day) - 2 * DAY_MS) continue;
      u.days.delete(d);
      if (dirty.days.has(d)) dirty.retired.set(d, agg);
    }
    dirty.tier = true;
    if (step.outcome.kind === 'rejected') {
      part.counts.rejected++;
      part.outbox.push({
        topic: this.topics.dlq,
        key: `stream:accounting`,
        value: encodeDeadLetter({
          source: 'stream:accounting',
          reason: `${step.outcome.code}: ${step.outcome.reason}`,
          payload: Buffer.from(JSON.stringify(eventToRaw(e)), 'utf8'),
          receivedAt: e.eventTime,
          key: e.userId,
        }),
      });
    } else {
      if (step.asset !== undefined) dirty.assets.add(step.asset);
      dirty.eodOpen = day;
    }
    let deltas = dirty.deltas.get(day);
    if (deltas === undefined) {
      deltas = new Map();
      dirty.deltas.set(day, deltas);
    }
    deltas.set(e.eventId, JSON.stringify(eventToRaw(e)));
    this.emitTierChanges(part, e.userId, step.tierChanges);
  }

  /**
   * Runtime timer hook: a user topic of partition n is idle once it is processed up to its high
   * watermark and has been quiet for userIdleMs; idle topics stop holding the buffer back. Requiring
   * "caught up" keeps the merge order independent of fetch timing: records still waiting in Kafka
   * are never overtaken (a restarted or slower worker releases exactly what an uninterrupted one does).
   */
  tick(n: number, caughtUp: (topic: string) => boolean): boolean {
    const part = this.parts.get(n);
    if (part === undefined || part.buffer.length === 0) return false;
    const now = this.now();
    const idle = new Set(
      USER_TABLES.filter(
        (t) => caughtUp(this.topics[t]) && now - (part.lastRecordAt.get(t) ?? part.acquiredAt) >= this.opts.userIdleMs,
      ),
    );
    if (idle.size === 0) return false;
    const before = part.buffer.length;
    this.releaseBuffer(part, idle);
    return part.buffer.length !== before;
  }

  flush(n: number, tx: ChainableCommander): OutboxMessage[] {
    const part = this.parts.get(n);
    if (part === undefined) return [];
    const k = this.keys;
    const ttl = this.opts.dayTtlSec;
    const touched = new Set<string>();
    const liveCandles = new Map<string, Map<string, LiveCandle>>();
    for (const c of part.prices.drain()) {
      const key = k.candles(c.interval, c.candle.symbol);
      const json = candleToJson(c.candle, c.final);
      tx.zremrangebyscore(key, c.candle.start, c.candle.start);
      tx.zadd(key, c.candle.start, JSON.stringify(json));
      touched.add(`${c.interval}|${key}`);
      liveCandle(liveCandles, c.interval, json);
    }
    for (const t of touched) {
      const [interval, key] = t.split('|') as [CandleInterval, string];
      const keep = this.opts.history[interval];
      tx.zremrangebyrank(key, 0, -(keep + 1));
      // History span plus an hour: a symbol that stops trading ages out on its own.
      tx.expire(key, keep * (interval === '1m' ? 60 : 300) + 3600);
    }
    if (part.prices.dirtySymbols.size > 0) {
      const fields: Record<string, string> = {};
      for (const s of part.prices.dirtySymbols) {
        const p = part.prices.last.get(s)!;
        fields[s] = JSON.stringify({ price: p.price.toString(), eventTime: p.eventTime });
      }
      tx.hset(k.lastPrice(), fields);
      tx.sadd(k.symbols(), ...part.prices.dirtySymbols);
      this.live.prices(tx, priceChanges(part.prices.dirtySymbols, part.prices.last, liveCandles));
      part.prices.dirtySymbols.clear();
    }
    this.live.users(tx, [...part.dirty.keys()]);
    for (const [userId, d] of part.dirty) {
      const u = part.users.get(userId)!;
      const blob: UserBlob = { ...userToJson(u.state), days: [...u.days].map(([day, v]) => [day, dayToJson(v)]) };
      tx.set(k.userState(userId), JSON.stringify(blob));
      tx.sadd(k.partitionUsers(n), userId);
      if (d.assets.size > 0) {
        const fields: Record<string, string> = {};
        for (const a of d.assets) fields[a] = JSON.stringify(positionToJson(u.state.positions.get(a)!));
        tx.hset(k.positions(userId), fields);
      }
      if (d.tier) {
        tx.set(
          k.tier(userId),
          JSON.stringify({
            tier: u.state.tier.tier,
            spend30d: u.state.tier.spend30d.toString(),
            since: u.state.tier.since,
          }),
        );
      }
      for (const day of d.days) {
        const agg = u.days.get(day) ?? d.retired.get(day);
        if (agg === undefined)
          throw new CryptolambdaError('INTERNAL', `day ${day} of ${userId} lost before checkpoint`);
        tx.set(k.dayRewards(userId, day), JSON.stringify(dayToJson(agg)), 'EX', ttl);
        tx.sadd(k.dayUsers(day), userId);
        tx.expire(k.dayUsers(day), ttl);
      }
      for (const [day, events] of d.deltas) {
        tx.hset(k.delta(userId, day), Object.fromEntries(events));
        tx.expire(k.delta(userId, day), ttl);
      }
      if (d.eodOpen !== undefined) d.eod.set(d.eodOpen, u.state.positions);
      for (const [day, book] of d.eod) {
        // The whole book after the user's latest event of that day: complete for reconcile.
        const fields: Record<string, string> = {};
        for (const [a, p] of book) fields[a] = JSON.stringify(positionToJson(p));
        if (Object.keys(fields).length > 0) {
          tx.hset(k.endOfDay(userId, day), fields);
          tx.expire(k.endOfDay(userId, day), ttl);
        }
      }
    }
    part.dirty.clear();
    if (part.stateDirty) {
      const wm = part.prices.watermark();
      // Canonical order (not Map insertion order, which follows how Kafka interleaved the topics'
      // batches): the checkpoint of the same input must be byte-identical whatever the run history.
      tx.hset(k.partitionState(n), {
        maxEventTime: String(part.prices.maxEventTime === NO_WATERMARK ? -1 : part.prices.maxEventTime),
        open: JSON.stringify(
          part.prices
            .openWindows()
            .sort(
              (a, b) =>
                byText(a.interval, b.interval) ||
                byText(a.candle.symbol, b.candle.symbol) ||
                a.candle.start - b.candle.start,
            )
            .map((w) => [w.interval, candleToJson(w.candle, false)]),
        ),
        last: JSON.stringify(
          [...part.prices.last]
            .sort(([a], [b]) => byText(a, b))
            .map(([s, p]) => [s, { price: p.price.toString(), eventTime: p.eventTime, eventId: p.eventId }]),
        ),
        priceCounts: JSON.stringify(part.prices.counts),
        userCounts: JSON.stringify(part.counts),
        userMax: JSON.stringify([...part.userMax].sort(([a], [b]) => byText(a, b))),
        userFrontier: String(part.userFrontier === NO_WATERMARK ? -1 : part.userFrontier),
        buffer: JSON.stringify(part.buffer.map((e) => JSON.stringify(eventToRaw(e)))),
      });
      if (wm !== NO_WATERMARK) tx.hset(k.watermarks(), String(n), String(wm));
      if (part.userFrontier !== NO_WATERMARK) tx.hset(k.watermarks(), `users:${n}`, String(part.userFrontier));
      part.stateDirty = false;
    }
    return part.outbox.splice(0, part.outbox.length);
  }
}

const decodeBuffered = (s: string): UserEvent => {
  const r = userEventFromRaw(JSON.parse(s));
  if (!r.ok) throw new CryptolambdaError('INTERNAL', `corrupt buffered event in checkpoint: ${r.reason}`);
  return r.event;
};

/** Keep the newest state of each (interval, window) a checkpoint wrote, per symbol, for the live feed. */
const liveCandle = (acc: Map<string, Map<string, LiveCandle>>, interval: Interval, c: CandleStateJson): void => {
  let m = acc.get(c.symbol);
  if (m === undefined) {
    m = new Map();
    acc.set(c.symbol, m);
  }
  const { symbol: _s, openKey: _o, closeKey: _c, ...fields } = c;
  m.set(`${interval}|${c.start}`, { interval, ...fields });
};

const priceChanges = (
  symbols: ReadonlySet<string>,
  last: ReadonlyMap<string, LastPrice>,
  candles: ReadonlyMap<string, Map<string, LiveCandle>>,
): PriceChange[] =>
  [...symbols].sort(byText).map((s) => {
    const p = last.get(s)!;
    return {
      symbol: s,
      price: p.price.toString(),
      eventTime: p.eventTime,
      candles: [...(candles.get(s)?.values() ?? [])],
    };
  });

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** -1 is how "no event yet" is stored. */
const storedTime = (s: string | undefined): number => (s === undefined || s === '-1' ? NO_WATERMARK : Number(s));
