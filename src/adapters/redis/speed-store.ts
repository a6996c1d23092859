import type { ChainableCommander } from 'ioredis';
import { CryptolambdaError } from '../../core/errors.js';
import { eventToRaw, userEventFromRaw } from '../../core/events/json.js';
import type { UserEvent } from '../../core/events/types.js';
import { Decimal, PRICE_SCALE } from '../../core/money/decimal.js';
import type { Interval } from '../../core/ohlcv/candle.js';
import { NO_WATERMARK, type StreamWatermarks, streamWatermarks } from '../../core/ohlcv/watermark.js';
import { SPEED_PARTITIONS } from '../../core/partitioning.js';
import { type PositionJson, positionToJson } from '../../core/portfolio/codec.js';
import {
  type CostMethod,
  type LotChanges,
  type LotJson,
  type LotQueue,
  type LotQueueJson,
  lotChanges,
  lotToJson,
} from '../../core/portfolio/lots.js';
import type { Position } from '../../core/portfolio/position.js';
import { compareEvents } from '../../core/portfolio/position.js';
import {
  bucketsFromSpends,
  type SpendBucketJson,
  type SpendJson,
  spendEntriesOfBucket,
  type TierHeadJson,
} from '../../core/rewards/tiers.js';
import type { EodPositionJson } from '../../core/serving/reconcile.js';
import type { DedupBucketJson, DedupHeadJson } from '../../core/speed/dedup.js';
import type {
  HistChanges,
  PartitionCounts,
  PartitionSnapshot,
  SpeedChanges,
  StoredUser,
} from '../../core/speed/engine.js';
import {
  type CandleStateJson,
  candleFromJson,
  candleToJson,
  type LastPrice,
  windowKey,
} from '../../core/speed/price-windows.js';
import { type EventKey, type Rejection, UserHistory } from '../../core/speed/user-history.js';
import {
  DAY_MS,
  type DayRewards,
  type DayRewardsJson,
  DEDUP_WINDOW_MS,
  dayFromJson,
  dayOf,
  dayToJson,
  emptyUser,
  userFromParts,
} from '../../core/speed/user-ledger.js';

/** Event days from the one holding frontier - window up to the frontier's (at most three). */
const windowDays = (frontier: number): string[] => {
  const out: string[] = [];
  for (let t = Date.parse(dayOf(frontier - DEDUP_WINDOW_MS)); t <= frontier; t += DAY_MS) out.push(dayOf(t));
  return out;
};

const results = async (p: ChainableCommander): Promise<Record<string, string>[]> =>
  ((await p.exec()) ?? []).map(([err, v]) => {
    if (err) throw err;
    return v as Record<string, string>;
  });

import type { CheckpointTx } from './checkpoint-tx.js';
import { crossSlotPipeline, type RedisConn } from './client.js';
import type { CandleInterval, SpeedKeys, TierJson } from './speed-keys.js';

export interface SpeedStoreOptions {
  /** Candles kept per symbol and interval. */
  readonly history: Readonly<Record<CandleInterval, number>>;
  /** TTL (s) of per-day keys (deltas, day rewards, end-of-day positions); batch shortens it once a day is covered. */
  readonly dayTtlSec: number;
  /** The deployment's cost-basis method: restored lots must have been kept by it (FIFO when absent). */
  readonly costMethod?: CostMethod;
}

/** What `load` rebuilds for one partition from earlier checkpoints. */
export interface LoadedPartition {
  readonly snapshot?: PartitionSnapshot;
  /** Trade ids of the snapshot's open windows, by `windowKey` (only windows that hold ids). */
  readonly tradeIds: Map<string, string[]>;
  readonly buffer: UserEvent[];
  readonly users: [string, StoredUser][];
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** -1 is how "no event yet" is stored. */
const storedTime = (s: string | undefined | null): number =>
  s === undefined || s === null || s === '-1' ? NO_WATERMARK : Number(s);
const timeField = (t: number): string => String(t === NO_WATERMARK ? -1 : t);
const rawJson = (e: UserEvent): string => JSON.stringify(eventToRaw(e));

/**
 * Lots are stored one field per open lot, `<asset>|<seq>` (assets are [A-Z0-9]{1,12}, so the bar
 * separates), with the queue's method and next seq beside the position: a checkpoint writes the
 * lots that changed (`lotChanges`), never a heavy buyer's whole queue.
 */
const lotField = (asset: string, seq: number): string => `${asset}|${seq}`;
const lotMeta = (q: LotQueue): string => JSON.stringify({ method: q.method, nextSeq: q.seq });
const lotPuts = (asset: string, c: LotChanges): [string, string][] =>
  c.put.map((l) => [lotField(asset, l.seq), JSON.stringify(lotToJson(l))]);
const writeLots = (tx: CheckpointTx, key: string, asset: string, c: LotChanges): void => {
  if (c.put.length > 0)
    tx.hset(
      key,
      c.put.map((l) => [lotField(asset, l.seq), JSON.stringify(lotToJson(l))] as const),
    );
  if (c.del.length > 0)
    tx.list(
      'HDEL',
      key,
      c.del.map((seq) => lotField(asset, seq)),
    );
};

/** Group `<asset>|<seq>` lot fields by asset, each list in acquisition order. */
export const groupLots = (fields: Record<string, string>, where: string): Map<string, LotJson[]> => {
  const out = new Map<string, LotJson[]>();
  for (const [f, v] of Object.entries(fields)) {
    const bar = f.indexOf('|');
    if (bar < 0) continue;
    const asset = f.slice(0, bar);
    let l: LotJson;
    try {
      l = JSON.parse(v) as LotJson;
    } catch (err) {
      throw new CryptolambdaError('INTERNAL', `corrupt lot in ${where}`, undefined, { cause: err });
    }
    const list = out.get(asset);
    if (list === undefined) out.set(asset, [l]);
    else list.push(l);
  }
  for (const list of out.values()) list.sort((a, b) => a.seq - b.seq);
  return out;
};

/** A spend field (`<day>|<eventId>`, core/rewards/tiers.ts `spendField`); anything else is a legacy day bucket. */
const isSpendField = (f: string): boolean => f.length > 11 && f[10] === '|';

/**
 * THE reader of the spend shape (`stream:spend` / `stream:bspend`): one field per spend in the
 * window, grouped into day buckets in window order ((eventTime, eventId), as the window keeps them)
 * so the window is rebuilt by appending. A checkpoint written before spends were stored one by one
 * holds a whole day's bucket in a `<day>` field (`migrateLegacySpends` rewrites those first).
 */
export const spendBuckets = (fields: Record<string, string>, where: string): [string, SpendBucketJson][] => {
  const spends: [string, SpendJson][] = [];
  for (const [f, v] of Object.entries(fields)) {
    if (isSpendField(f)) spends.push([f, parseSpendValue(f, v, where) as SpendJson]);
    // A legacy day bucket can hold a heavy spender's day: appended one by one, not spread.
    else for (const e of spendEntriesOfBucket(parseSpendValue(f, v, where) as SpendBucketJson)) spends.push(e);
  }
  return bucketsFromSpends(spends);
};

const parseSpendValue = (field: string, v: string, where: string): unknown => {
  try {
    return JSON.parse(v);
  } catch (err) {
    throw new CryptolambdaError('INTERNAL', `corrupt spend ${JSON.stringify(field)} in ${where}`, undefined, {
      cause: err,
    });
  }
};

/**
 * Queues of a book from its `<prefix>lotq:<asset>` meta fields and grouped lot fields; a book
 * written before lots were stored per lot keeps its whole queue in `<prefix>lot:<asset>`.
 */
const queuesOf = (
  meta: Record<string, string>,
  prefix: string,
  lots: Map<string, LotJson[]>,
): { queues: Record<string, LotQueueJson>; legacy: string[] } => {
  const queues: Record<string, LotQueueJson> = {};
  const legacy: string[] = [];
  for (const [f, v] of Object.entries(meta)) {
    if (!f.startsWith(prefix)) continue;
    const rest = f.slice(prefix.length);
    if (rest.startsWith('lotq:')) {
      const asset = rest.slice(5);
      const m = JSON.parse(v) as { method: CostMethod; nextSeq: number };
      queues[asset] = { method: m.method, nextSeq: m.nextSeq, lots: lots.get(asset) ?? [] };
    } else if (rest.startsWith('lot:')) legacy.push(rest.slice(4));
  }
  for (const asset of legacy) {
    if (queues[asset] === undefined) queues[asset] = JSON.parse(meta[`${prefix}lot:${asset}`]!) as LotQueueJson;
  }
  return { queues, legacy };
};

/**
 * THE reader of the end-of-day shape (`eod:<user>:<day>`): each position with its lot queue, from
 * the per-lot fields, or embedded whole (`lots`) as books written before lots were stored per lot.
 */
export const parseEodBook = (fields: Record<string, string>, where: string): EodPositionJson[] => {
  const lots = groupLots(fields, where);
  const out: EodPositionJson[] = [];
  for (const [f, v] of Object.entries(fields)) {
    if (f.includes('|')) continue;
    let j: EodPositionJson & { lotq?: { method: CostMethod; nextSeq: number } };
    try {
      j = JSON.parse(v) as typeof j;
    } catch (err) {
      throw new CryptolambdaError('INTERNAL', `corrupt JSON in Redis key ${where}`, undefined, { cause: err });
    }
    const { lotq, ...position } = j;
    out.push(
      lotq === undefined
        ? position
        : { ...position, lots: { method: lotq.method, nextSeq: lotq.nextSeq, lots: lots.get(f) ?? [] } },
    );
  }
  return out;
};

/** Kinds of per-user day keys whose TTL a process sets once per day (`StoredUser.ttlDay`). */
const TTL_SEEN = 1;
const TTL_DELTA = 2;
const TTL_EOD = 4;

/**
 * True when the user's day key of this kind still needs its EXPIRE from this process, and marks it
 * as given (the caller sends it in the same checkpoint). Only the user's latest day is remembered:
 * O(1) per user, and older days are rare (late events) and simply always get their EXPIRE.
 */
const needsTtl = (u: StoredUser, day: string, kind: number): boolean => {
  if (u.ttlDay === day && ((u.ttlKeys ?? 0) & kind) !== 0) return false;
  if (u.ttlDay === undefined || day > u.ttlDay) {
    u.ttlDay = day;
    u.ttlKeys = 0;
  }
  if (u.ttlDay === day) u.ttlKeys = (u.ttlKeys ?? 0) | kind;
  return true;
};
/** A deleted key loses its TTL: its next write must set it again. */
const forgetTtl = (u: StoredUser, day: string, kind: number): void => {
  if (u.ttlDay === day) u.ttlKeys = (u.ttlKeys ?? 0) & ~kind;
};

/** A field of the partition log: user ids cannot hold `|`, so the first bar separates. */
const logField = (userId: string, eventId: string): string => `${userId}|${eventId}`;
/** A user's history meta: latest event time applied, last event folded into base. */
interface HistMeta {
  readonly max: number;
  readonly key: EventKey | undefined;
}
interface PartitionLog {
  /** By user: eventId -> stored `{e, r}`. */
  readonly logs: Map<string, Record<string, string>>;
  readonly metas: Map<string, HistMeta>;
}
interface PartitionLogWrites {
  readonly put: [string, string][];
  readonly del: string[];
}

const memo = <K>(m: Map<K, string>, k: K, f: () => string): string => {
  const hit = m.get(k);
  if (hit !== undefined) return hit;
  const v = f();
  m.set(k, v);
  return v;
};

/**
 * Serialize each value once per checkpoint (a position or day aggregate is written to several keys).
 * With JSON.stringify, not template literals: a template's result is a rope of its pieces, and the
 * checkpoint holds every value until Redis replies. Texts built field by field were 0.6 us faster
 * per position but raised the worker's peak RSS from 1.2 to 2-2.7 GB at 300k user events
 * (bench/stream-users.ts, 2026-12-02), and it ran no faster.
 */
class JsonCache {
  private readonly positions = new Map<Position, string>();
  private readonly days = new Map<DayRewards, string>();
  private readonly events = new Map<UserEvent, string>();
  position(p: Position): string {
    return memo(this.positions, p, () => JSON.stringify(positionToJson(p)));
  }
  day(d: DayRewards): string {
    return memo(this.days, d, () => JSON.stringify(dayToJson(d)));
  }
  event(e: UserEvent): string {
    return memo(this.events, e, () => rawJson(e));
  }
  /** A position with its lot queue's method and next seq (the lots are fields of their own). */
  positionWithQueue(p: Position, q: LotQueue | undefined): string {
    const pos = this.position(p);
    return q === undefined ? pos : `${pos.slice(0, -1)},"lotq":${lotMeta(q)}}`;
  }
}
/** `[[day, DayRewardsJson], ...]` of a user's recent days, each aggregate serialized once per checkpoint. */
const daysJson = (days: Iterable<readonly [string, DayRewards]>, json: JsonCache): string =>
  `[${Array.from(days, ([d, v]) => `[${JSON.stringify(d)},${json.day(v)}]`).join(',')}]`;

const decodeStored = (s: string, where: string): UserEvent => {
  const r = userEventFromRaw(JSON.parse(s));
  if (!r.ok) throw new CryptolambdaError('INTERNAL', `corrupt event in ${where}: ${r.reason}`);
  return r.event;
};

/**
 * The speed layer's Redis store: one writer (`write`, into a partition's checkpoint transaction) and
 * one reader (`load` for the worker; `readWatermarks` for everyone else) per stored shape, keys only
 * from speed-keys.ts. A checkpoint writes what changed since the previous one: per dirty user only the
 * positions of the assets that moved, the days and events touched, the newly remembered ids and the
 * small tier part; per partition the candles touched, the merge buffer's additions and removals and
 * the partition scalars. Nothing is rewritten because it exists.
 */
export class RedisSpeedStore {
  constructor(
    private readonly redis: RedisConn,
    readonly keys: SpeedKeys,
    readonly opts: SpeedStoreOptions,
  ) {}

  write(tx: CheckpointTx, n: number, c: SpeedChanges): void {
    const k = this.keys;
    const ttl = this.opts.dayTtlSec;
    const touched = new Map<string, CandleInterval>();
    for (const w of c.candles) {
      const key = k.candles(w.interval as CandleInterval, w.candle.symbol, n);
      tx.add('ZREMRANGEBYSCORE', key, w.candle.start, w.candle.start);
      tx.add('ZADD', key, w.candle.start, JSON.stringify(candleToJson(w.candle, w.final)));
      touched.set(key, w.interval as CandleInterval);
    }
    // The open windows' trade ids: append what entered since the previous checkpoint, delete a
    // window's set once it is final. No TTL: a set lives exactly as long as its window can change
    // (a TTL in processing time could expire ids of a window a stopped worker still has open).
    for (const [w, ids] of c.tradeIds.added)
      tx.list('SADD', k.tradeIds(n, w.interval as CandleInterval, w.symbol, w.start), ids);
    for (const w of c.tradeIds.dropped) tx.add('DEL', k.tradeIds(n, w.interval as CandleInterval, w.symbol, w.start));
    for (const [key, interval] of touched) {
      const keep = this.opts.history[interval];
      tx.add('ZREMRANGEBYRANK', key, 0, -(keep + 1));
      // History span plus an hour: a symbol that stops trading ages out on its own.
      tx.add('EXPIRE', key, keep * (interval === '1m' ? 60 : 300) + 3600);
    }
    if (c.lastPrices.length > 0) {
      tx.hset(
        k.lastPrice(n),
        c.lastPrices.map(([s, p]) => [s, JSON.stringify({ price: p.price.toString(), eventTime: p.eventTime })]),
      );
      tx.list(
        'SADD',
        k.symbols(n),
        c.lastPrices.map(([s]) => s),
      );
    }
    const newUsers: string[] = [];
    const json = new JsonCache();
    const log: PartitionLogWrites = { put: [], del: [] };
    /** Users per day touched: one SADD + EXPIRE per day and checkpoint, not per user. */
    const dayUsers = new Map<string, string[]>();
    for (const ch of c.users) {
      const { userId, user } = ch;
      const state = user.state;
      newUsers.push(userId);
      const held = ch.assets.filter((a) => state.positions.has(a));
      if (held.length > 0) {
        tx.hset(
          k.positions(userId, n),
          held.map((a) => [a, json.position(state.positions.get(a)!)]),
        );
      }
      if (ch.tier) {
        const t: TierJson = {
          tier: state.tier.tier,
          spend30d: state.tier.spend30d.toString(),
          since: state.tier.since,
        };
        tx.add('SET', k.tier(userId, n), JSON.stringify(t));
      }
      const parts = ch.parts;
      const histFields = ch.hist === undefined ? [] : this.writeHist(tx, n, userId, ch.hist, json, log, ch.lotsBefore);
      // Only the history changed (a fold, the most common change of a quiet user): the live book and
      // its heads are as stored, so only base's fields (if base changed) are written here; the log
      // and its meta went into the partition log. A collapsing fold costs no per-user command.
      if (
        ch.histOnly &&
        parts.spendPut.length === 0 &&
        parts.spendDel.length === 0 &&
        parts.dedupAdded.length === 0 &&
        parts.dedupDaysDropped.length === 0
      ) {
        if (histFields.length > 0) tx.hset(k.userState(userId, n), histFields);
        continue;
      }
      // The committed positions live here too (`pos:<asset>` fields, the same changed assets): the
      // public pos:<user> may hold provisional values, which a restore must never load.
      const fields: [string, string][] = [
        ['tierHead', JSON.stringify(parts.tierHead)],
        ['dedupHead', JSON.stringify(parts.dedupHead)],
        ['days', daysJson(user.days, json)],
      ];
      // The method never changes: written with the user's first state only (restore reads it back).
      if (user.methodStored !== true) {
        fields.push(['costMethod', state.costMethod]);
        user.methodStored = true;
      }
      for (const a of ch.assets) {
        const p = state.positions.get(a);
        if (p !== undefined) fields.push([`pos:${a}`, json.position(p)]);
      }
      // An asset's open lots change exactly when its position does: the same changed assets.
      for (const a of ch.assets) {
        const lots = state.lots.get(a);
        if (lots !== undefined) fields.push([`lotq:${a}`, lotMeta(lots)]);
      }
      for (const f of histFields) fields.push(f);
      tx.hset(k.userState(userId, n), fields);
      for (const a of ch.assets)
        writeLots(tx, k.userLots(userId, n), a, lotChanges(ch.lotsBefore.get(a), state.lots.get(a)));
      // Assets a re-application left without a position: gone from the public and the private book.
      const gone = ch.assets.filter((a) => !state.positions.has(a));
      if (gone.length > 0) {
        tx.list('HDEL', k.positions(userId, n), gone);
        tx.list(
          'HDEL',
          k.userState(userId, n),
          gone.flatMap((a) => [`pos:${a}`, `lot:${a}`, `lotq:${a}`]),
        );
      }
      // One field per spend: what entered the window since the previous checkpoint, and what left.
      if (parts.spendPut.length > 0) {
        tx.hset(
          k.spendDays(userId, n),
          parts.spendPut.map(([f, v]) => [f, JSON.stringify(v)]),
        );
      }
      if (parts.spendDel.length > 0) tx.list('HDEL', k.spendDays(userId, n), parts.spendDel);
      for (const [day, ids] of parts.dedupAdded) {
        tx.hset(
          k.seen(userId, day, n),
          ids.map(([id, t]) => [id, String(t)]),
        );
        if (needsTtl(user, day, TTL_SEEN)) tx.add('EXPIRE', k.seen(userId, day, n), ttl);
      }
      for (const day of parts.dedupDaysDropped) {
        tx.add('DEL', k.seen(userId, day, n));
        forgetTtl(user, day, TTL_SEEN);
      }
      for (const [day, agg] of ch.days) {
        tx.add('SET', k.dayRewards(userId, day, n), json.day(agg), 'EX', ttl);
        const list = dayUsers.get(day);
        if (list === undefined) dayUsers.set(day, [userId]);
        else list.push(userId);
      }
      for (const [day, events] of ch.deltas) {
        tx.hset(
          k.delta(userId, day, n),
          events.map((e) => [e.eventId, json.event(e)]),
        );
        if (needsTtl(user, day, TTL_DELTA)) tx.add('EXPIRE', k.delta(userId, day, n), ttl);
      }
      for (const [day, book] of ch.endOfDay) {
        // The whole book after the user's latest event of that day, with each position's open lots:
        // complete for reconcile. The day the store holds as the previous drain's live book gets the
        // lots that changed since; any other day is written whole (once per user and day).
        const key = k.endOfDay(userId, day, n);
        const whole = ch.eodStored !== day;
        // A later day than the one stored cannot have a book yet (see StoredUser.eodStored).
        if (whole && (ch.eodStored === undefined || day < ch.eodStored)) {
          tx.add('DEL', key);
          forgetTtl(user, day, TTL_EOD);
        }
        if (book.positions.size === 0 && whole) continue;
        // Positions and the lots put in one HSET (the same key); emptied lots in one HDEL.
        const fields: [string, string][] = [...book.positions].map(([a, p]) => [
          a,
          json.positionWithQueue(p, book.lots.get(a)),
        ]);
        const del: string[] = [];
        const lots = (a: string, c: LotChanges) => {
          for (const f of lotPuts(a, c)) fields.push(f);
          for (const seq of c.del) del.push(lotField(a, seq));
        };
        if (whole) for (const [a, q] of book.lots) lots(a, lotChanges(undefined, q));
        else for (const [a, before] of ch.lotsBefore) lots(a, lotChanges(before, book.lots.get(a)));
        tx.hset(key, fields);
        if (del.length > 0) tx.list('HDEL', key, del);
        if (needsTtl(user, day, TTL_EOD)) tx.add('EXPIRE', key, ttl);
      }
    }
    // Every dirty user's log changes in one HSET and one HDEL (puts first, as per user before).
    if (log.put.length > 0) tx.hset(k.partitionLog(n), log.put);
    if (log.del.length > 0) tx.list('HDEL', k.partitionLog(n), log.del);
    for (const [day, ids] of dayUsers) {
      tx.list('SADD', k.dayUsers(day, n), ids);
      tx.add('EXPIRE', k.dayUsers(day, n), ttl);
    }
    if (newUsers.length > 0) tx.list('SADD', k.partitionUsers(n), newUsers);
    // Events beyond the user lateness, per event day: the batch applies them, the speed book does not.
    for (const fx of c.effects) {
      if (fx.kind !== 'rejected' || fx.code !== 'TOO_LATE') continue;
      const day = dayOf(fx.event.eventTime);
      tx.hset(k.tooLate(day, n), [[fx.event.eventId, fx.event.userId]]);
      tx.add('EXPIRE', k.tooLate(day, n), ttl);
    }
    // After the committed positions: the provisional book of users with events still in the merge buffer.
    for (const [userId, assets] of c.provisional) {
      const put = assets.flatMap(([a, p]) => (p === null ? [] : [[a, JSON.stringify(positionToJson(p))] as const]));
      const del = assets.flatMap(([a, p]) => (p === null ? [a] : []));
      if (put.length > 0) tx.hset(k.positions(userId, n), put);
      if (del.length > 0) tx.list('HDEL', k.positions(userId, n), del);
    }
    if (c.bufferPut.length > 0) {
      tx.hset(
        k.partitionBuffer(n),
        c.bufferPut.map(([id, evs]) => [id, JSON.stringify(evs.map(rawJson))]),
      );
    }
    if (c.bufferDel.length > 0) tx.list('HDEL', k.partitionBuffer(n), c.bufferDel);
    const p = c.partition;
    if (p !== undefined) {
      // Canonical order (not Map insertion order, which follows how Kafka interleaved the topics'
      // batches): the checkpoint of the same input must be byte-identical whatever the run history.
      tx.hset(k.partitionState(n), [
        ['maxEventTime', timeField(p.priceMaxEventTime)],
        [
          'open',
          JSON.stringify(
            [...p.openWindows]
              .sort(
                (a, b) =>
                  byText(a.interval, b.interval) ||
                  byText(a.candle.symbol, b.candle.symbol) ||
                  a.candle.start - b.candle.start,
              )
              .map((w) => [w.interval, candleToJson(w.candle, false)]),
          ),
        ],
        [
          'last',
          JSON.stringify(
            [...p.lastPrices]
              .sort(([a], [b]) => byText(a, b))
              .map(([s, lp]) => [s, { price: lp.price.toString(), eventTime: lp.eventTime, eventId: lp.eventId }]),
          ),
        ],
        ['priceCounts', JSON.stringify(p.priceCounts)],
        ['userCounts', JSON.stringify(p.counts)],
        ['userMax', JSON.stringify([...p.userMax].sort(([a], [b]) => byText(a, b)))],
        ['userFrontier', timeField(p.userFrontier)],
      ]);
      const marks: [string, string][] = [];
      if (c.watermarks.price !== NO_WATERMARK) marks.push(['price', String(c.watermarks.price)]);
      if (c.watermarks.users !== NO_WATERMARK) marks.push(['users', String(c.watermarks.users)]);
      if (marks.length > 0) tx.hset(k.watermarks(n), marks);
    }
  }

  /**
   * The user's re-application history (core/speed/user-history.ts): log events added / folded,
   * and base's parts when events folded into it, beside the live state's (`b:` fields).
   */
  private writeHist(
    tx: CheckpointTx,
    n: number,
    userId: string,
    h: HistChanges,
    json: JsonCache,
    log: PartitionLogWrites,
    /** The live lot queues as of the previous drain, for the assets changed since (UserChange.lotsBefore). */
    liveLotsBefore: ReadonlyMap<string, LotQueue | undefined>,
  ): [string, string][] {
    const k = this.keys;
    for (const [e, r] of h.logPut)
      log.put.push([
        logField(userId, e.eventId),
        `{"e":${json.event(e)},"r":${r === undefined ? 'null' : JSON.stringify(r)}}`,
      ]);
    for (const id of h.logDel) log.del.push(logField(userId, id));
    // The history's meta (latest event time, last folded event) beside the log: changes with every
    // event and every fold, and in the partition's one HSET it costs no command of its own.
    log.put.push([logField(userId, ''), JSON.stringify([String(h.maxEventTime), h.key ?? null])]);
    const fields: [string, string][] = [];
    const b = h.base;
    if (b !== undefined) {
      fields.push(['b:tierHead', JSON.stringify(b.tierHead)], ['b:days', daysJson(b.days, json)]);
      // A base copied from the live book again replaces whatever an earlier base left. When the
      // live parts as stored are that book but for the changes since the previous drain, Redis
      // copies them (before this checkpoint's live writes, which come later in the same script) and
      // only the differences are sent: O(changes), not O(lots held).
      if (b.full) tx.add('DEL', k.baseLots(userId, n));
      if (b.fromLive) tx.add('COPY', k.userLots(userId, n), k.baseLots(userId, n));
      const gone: string[] = [];
      for (const [a, p, lots] of b.assets) {
        if (p === null) gone.push(`b:pos:${a}`, `b:lot:${a}`, `b:lotq:${a}`);
        else {
          fields.push([`b:pos:${a}`, json.position(p)]);
          if (lots !== null) fields.push([`b:lotq:${a}`, lotMeta(lots)]);
        }
        if (b.fromLive && !liveLotsBefore.has(a)) continue;
        const before = b.fromLive ? liveLotsBefore.get(a) : b.full ? undefined : b.lotsBefore.get(a);
        writeLots(tx, k.baseLots(userId, n), a, lotChanges(before, lots ?? undefined));
      }
      // Assets whose live lots changed since the previous drain but that base does not hold.
      if (b.fromLive)
        for (const [a, before] of liveLotsBefore)
          if (!b.assets.some(([x]) => x === a)) writeLots(tx, k.baseLots(userId, n), a, lotChanges(before, undefined));
      if (gone.length > 0) tx.list('HDEL', k.userState(userId, n), gone);
      if (b.full) tx.add('DEL', k.baseSpend(userId, n));
      // COPY from a missing key is a no-op: a user without card spends saves the command.
      if (b.fromLive && !b.liveSpendEmpty) tx.add('COPY', k.spendDays(userId, n), k.baseSpend(userId, n));
      if (b.spendPut.length > 0) {
        tx.hset(
          k.baseSpend(userId, n),
          b.spendPut.map(([f, v]) => [f, JSON.stringify(v)]),
        );
      }
      if (b.spendDel.length > 0) tx.list('HDEL', k.baseSpend(userId, n), b.spendDel);
    }
    // Written with the live state's fields in one HSET.
    return fields;
  }

  /** A user's re-application history from its `b:` fields, its log and its base spend buckets. */
  private loadHist(
    n: number,
    userId: string,
    meta: Record<string, string>,
    hm: HistMeta,
    log: Record<string, string>,
    baseSpend: Record<string, string>,
    baseLots: Record<string, string>,
  ): UserHistory {
    const { queues: lots } = queuesOf(meta, 'b:', groupLots(baseLots, this.keys.baseLots(userId)));
    const positions: PositionJson[] = [];
    for (const [f, v] of Object.entries(meta))
      if (f.startsWith('b:pos:')) positions.push(JSON.parse(v) as PositionJson);
    const { key, max } = hm;
    // An empty log: the history was collapsed into the live book (no second book to load).
    if (Object.keys(log).length === 0) return new UserHistory(undefined, undefined, key, max);
    const empty = emptyUser(userId, undefined, this.opts.costMethod);
    const base =
      meta['b:tierHead'] === undefined
        ? empty
        : userFromParts(
            {
              userId,
              costMethod: empty.costMethod,
              lots,
              positions,
              tierHead: JSON.parse(meta['b:tierHead']) as TierHeadJson,
              spendDays: spendBuckets(baseSpend, this.keys.baseSpend(userId)),
              dedupHead: { frontier: null, stragglers: [] },
              dedupDays: [],
            },
            this.opts.costMethod,
          );
    const where = `${this.keys.partitionLog(n)} (${userId})`;
    const entries = Object.values(log).map((v) => {
      const j = JSON.parse(v) as { e: unknown; r: Rejection | null };
      const r = userEventFromRaw(j.e);
      if (!r.ok) throw new CryptolambdaError('INTERNAL', `corrupt event in ${where}: ${r.reason}`);
      return [r.event, j.r] as const;
    });
    return new UserHistory(
      base,
      new Map((JSON.parse(meta['b:days'] ?? '[]') as [string, DayRewardsJson][]).map(([d, v]) => [d, dayFromJson(v)])),
      key,
      max,
      entries.map(([e]) => e),
      entries.flatMap(([e, r]) => (r === null ? [] : [[e.eventId, r] as const])),
    );
  }

  /**
   * Checkpoints written before lots were stored per lot kept each queue whole in `lot:<asset>` /
   * `b:lot:<asset>`: rewrite those users' queues in the per-lot shape (one atomic MULTI per chunk,
   * all keys of the partition's hash tag) before they are loaded, so later checkpoints can write
   * changes only. Updates `parts` in place to what Redis holds afterwards.
   */
  private async migrateLegacyLots(
    n: number,
    chunk: readonly string[],
    parts: { meta: Record<string, string>; lots: Record<string, string>; baseLots: Record<string, string> }[],
  ): Promise<void> {
    const tx = this.redis.multi();
    let any = false;
    for (const [j, userId] of chunk.entries()) {
      const p = parts[j]!;
      for (const [prefix, key, fields] of [
        ['', this.keys.userLots(userId, n), p.lots],
        ['b:', this.keys.baseLots(userId, n), p.baseLots],
      ] as const) {
        for (const [f, v] of Object.entries(p.meta)) {
          if (!f.startsWith(`${prefix}lot:`)) continue;
          const asset = f.slice(prefix.length + 4);
          const q = JSON.parse(v) as LotQueueJson;
          const meta = JSON.stringify({ method: q.method, nextSeq: q.nextSeq });
          // Per-lot fields of that asset a crashed earlier migration may have left.
          const stale = Object.keys(fields).filter((lf) => lf.startsWith(`${asset}|`));
          for (const lf of stale) delete fields[lf];
          if (stale.length > 0) tx.hdel(key, ...stale);
          const put: Record<string, string> = {};
          for (const l of q.lots) put[lotField(asset, l.seq)] = fields[lotField(asset, l.seq)] = JSON.stringify(l);
          if (q.lots.length > 0) tx.hset(key, put);
          tx.hset(this.keys.userState(userId, n), `${prefix}lotq:${asset}`, meta);
          tx.hdel(this.keys.userState(userId, n), f);
          delete p.meta[f];
          p.meta[`${prefix}lotq:${asset}`] = meta;
          any = true;
        }
      }
    }
    // Nothing is sent unless executed.
    if (any) await results(tx);
  }

  /**
   * Checkpoints written before spends were stored one by one kept a day's spends in one `<day>`
   * field: rewrite them as per-spend fields (one atomic MULTI per chunk, the partition's hash tag)
   * before they are loaded, so later checkpoints can write and delete single spends. Updates
   * `parts` in place to what Redis holds afterwards.
   */
  private async migrateLegacySpends(
    n: number,
    chunk: readonly string[],
    parts: { spend: Record<string, string>; baseSpend: Record<string, string> }[],
  ): Promise<void> {
    const tx = this.redis.multi();
    let any = false;
    for (const [j, userId] of chunk.entries()) {
      const p = parts[j]!;
      for (const [key, fields] of [
        [this.keys.spendDays(userId, n), p.spend],
        [this.keys.baseSpend(userId, n), p.baseSpend],
      ] as const) {
        const legacy = Object.keys(fields).filter((f) => !isSpendField(f));
        if (legacy.length === 0) continue;
        const put: Record<string, string> = {};
        for (const day of legacy) {
          for (const [f, v] of spendEntriesOfBucket(parseSpendValue(day, fields[day]!, key) as SpendBucketJson))
            put[f] = JSON.stringify(v);
          delete fields[day];
        }
        tx.hdel(key, ...legacy);
        if (Object.keys(put).length > 0) tx.hset(key, put);
        Object.assign(fields, put);
        any = true;
      }
    }
    // Nothing is sent unless executed.
    if (any) await results(tx);
  }

  /** The partition log by user (eventId -> stored entry), read with HSCAN so Redis is never blocked long. */
  private async loadPartitionLog(n: number): Promise<PartitionLog> {
    const out = new Map<string, Record<string, string>>();
    const metas = new Map<string, HistMeta>();
    const key = this.keys.partitionLog(n);
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', 5000);
      for (let i = 0; i < flat.length; i += 2) {
        const f = flat[i]!;
        const bar = f.indexOf('|');
        if (bar < 0) throw new CryptolambdaError('INTERNAL', `corrupt field ${JSON.stringify(f)} in ${key}`);
        const userId = f.slice(0, bar);
        if (bar === f.length - 1) {
          const [max, key] = JSON.parse(flat[i + 1]!) as [string, EventKey | null];
          metas.set(userId, { max: Number(max), key: key ?? undefined });
          continue;
        }
        let log = out.get(userId);
        if (log === undefined) {
          log = {};
          out.set(userId, log);
        }
        log[f.slice(bar + 1)] = flat[i + 1]!;
      }
      cursor = next;
    } while (cursor !== '0');
    return { logs: out, metas };
  }

  /**
   * Checkpoints written before the partition log kept each user's log in its own key
   * (`stream:hlog:<t>:<user>`): move those entries into the partition log (one atomic MULTI per
   * chunk, all keys of the partition's hash tag) so later folds, which delete from the partition
   * log only, remove them. Updates `logs` to what Redis holds afterwards.
   */
  private async migrateLegacyLogs(
    n: number,
    chunk: readonly string[],
    parts: readonly { readonly log: Record<string, string>; readonly meta: Record<string, string> }[],
    { logs, metas }: PartitionLog,
  ): Promise<void> {
    const tx = this.redis.multi();
    let any = false;
    for (const [j, userId] of chunk.entries()) {
      // The history's meta of older checkpoints (`b:max`, `b:key` of the state hash) moves too.
      const meta = parts[j]!.meta;
      if (meta['b:max'] !== undefined) {
        if (!metas.has(userId)) {
          const key = (JSON.parse(meta['b:key'] ?? 'null') as EventKey | null) ?? undefined;
          metas.set(userId, { max: Number(meta['b:max']), key });
          tx.hset(this.keys.partitionLog(n), logField(userId, ''), JSON.stringify([meta['b:max'], key ?? null]));
        }
        tx.hdel(this.keys.userState(userId, n), 'b:max', 'b:key');
        delete meta['b:max'];
        delete meta['b:key'];
        any = true;
      }
      const legacy = parts[j]!.log;
      const ids = Object.keys(legacy);
      if (ids.length === 0) continue;
      let log = logs.get(userId);
      if (log === undefined) {
        log = {};
        logs.set(userId, log);
      }
      const put: Record<string, string> = {};
      for (const id of ids) {
        put[logField(userId, id)] = legacy[id]!;
        log[id] = legacy[id]!;
      }
      tx.hset(this.keys.partitionLog(n), put);
      tx.del(this.keys.userLog(userId, n));
      any = true;
    }
    if (any) await results(tx);
  }

  /** Everything earlier checkpoints of partition n wrote that the worker keeps in memory. */
  async load(n: number): Promise<LoadedPartition> {
    const k = this.keys;
    const [h, buf, ids, partLog] = await Promise.all([
      this.redis.hgetall(k.partitionState(n)),
      this.redis.hvals(k.partitionBuffer(n)),
      this.redis.smembers(k.partitionUsers(n)),
      this.loadPartitionLog(n),
    ]);
    let snapshot: PartitionSnapshot | undefined;
    const tradeIds = new Map<string, string[]>();
    if (h.maxEventTime !== undefined) {
      const open = JSON.parse(h.open ?? '[]') as [Interval, CandleStateJson][];
      const last = new Map<string, LastPrice>(
        (JSON.parse(h.last ?? '[]') as [string, { price: string; eventTime: number; eventId: string }][]).map(
          ([s, lp]) => [
            s,
            { price: Decimal.parse(lp.price, PRICE_SCALE), eventTime: lp.eventTime, eventId: lp.eventId },
          ],
        ),
      );
      snapshot = {
        priceMaxEventTime: storedTime(h.maxEventTime),
        openWindows: open.map(([interval, c]) => ({ interval, candle: candleFromJson(c), final: false })),
        lastPrices: last,
        priceCounts: JSON.parse(h.priceCounts ?? '{"onTime":0,"late":0,"tooLate":0,"duplicates":0}'),
        counts: JSON.parse(h.userCounts ?? '{}') as PartitionCounts,
        userMax: new Map(JSON.parse(h.userMax ?? '[]') as [string, number][]),
        userFrontier: storedTime(h.userFrontier),
      };
      // One SMEMBERS per open window (a window without ids answers an empty set): on acquire only.
      const p = this.redis.pipeline();
      for (const w of snapshot.openWindows)
        p.smembers(k.tradeIds(n, w.interval as CandleInterval, w.candle.symbol, w.candle.start));
      const sets = ((await p.exec()) ?? []).map(([err, v]) => {
        if (err) throw err;
        return v as string[];
      });
      snapshot.openWindows.forEach((w, i) => {
        const ids = sets[i]!;
        if (ids.length > 0) tradeIds.set(windowKey(w.interval, w.candle.symbol, w.candle.start), ids.sort(byText));
      });
    }
    const where = k.partitionBuffer(n);
    const buffer = buf
      .flatMap((s) => (JSON.parse(s) as string[]).map((e) => decodeStored(e, where)))
      .sort(compareEvents);
    const users: [string, StoredUser][] = [];
    ids.sort(byText);
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const p1 = this.redis.pipeline();
      for (const u of chunk) {
        p1.hgetall(k.userState(u, n));
        p1.hgetall(k.spendDays(u, n));
        p1.hgetall(k.userLog(u, n));
        p1.hgetall(k.baseSpend(u, n));
        p1.hgetall(k.userLots(u, n));
        p1.hgetall(k.baseLots(u, n));
      }
      const r1 = await results(p1);
      const parts = chunk.map((_, j) => ({
        meta: r1[6 * j]!,
        spend: r1[6 * j + 1]!,
        log: r1[6 * j + 2]!,
        baseSpend: r1[6 * j + 3]!,
        lots: r1[6 * j + 4]!,
        baseLots: r1[6 * j + 5]!,
      }));
      await this.migrateLegacyLots(n, chunk, parts);
      await this.migrateLegacySpends(n, chunk, parts);
      await this.migrateLegacyLogs(n, chunk, parts, partLog);
      // The live dedup buckets: the event days whose end is still within the window of the frontier.
      const p2 = this.redis.pipeline();
      const daysOf: string[][] = [];
      for (const [j, u] of chunk.entries()) {
        const head = parts[j]!.meta.dedupHead;
        const frontier = head === undefined ? null : (JSON.parse(head) as DedupHeadJson).frontier;
        const days = frontier === null ? [] : windowDays(frontier);
        daysOf.push(days);
        for (const d of days) p2.hgetall(k.seen(u, d, n));
      }
      const r2 = await results(p2);
      let at = 0;
      for (const [j, userId] of chunk.entries()) {
        const { meta, spend, baseSpend, lots: lotFields, baseLots } = parts[j]!;
        const dedupDays: [string, DedupBucketJson][] = [];
        for (const d of daysOf[j]!) {
          const h2 = r2[at++]!;
          const ids = Object.entries(h2).map(([id, t]): [string, number] => [id, Number(t)]);
          if (ids.length > 0) dedupDays.push([d, ids.sort((x, y) => x[1] - y[1] || byText(x[0], y[0]))]);
        }
        if (meta.tierHead === undefined || meta.dedupHead === undefined) continue;
        const { queues: lots } = queuesOf(meta, '', groupLots(lotFields, k.userLots(userId, n)));
        const state = userFromParts(
          {
            userId,
            ...(meta.costMethod === undefined ? {} : { costMethod: meta.costMethod as CostMethod }),
            lots,
            positions: Object.entries(meta).flatMap(([f, v]) =>
              f.startsWith('pos:') ? [JSON.parse(v) as PositionJson] : [],
            ),
            tierHead: JSON.parse(meta.tierHead) as TierHeadJson,
            spendDays: spendBuckets(spend, k.spendDays(userId)),
            dedupHead: JSON.parse(meta.dedupHead) as DedupHeadJson,
            dedupDays,
          },
          this.opts.costMethod,
        );
        const days = new Map(
          (JSON.parse(meta.days ?? '[]') as [string, DayRewardsJson][]).map(([d, v]) => [d, dayFromJson(v)]),
        );
        // The history's meta from the partition log (older checkpoints' `b:max`/`b:key` moved there).
        const hm = partLog.metas.get(userId);
        const hist =
          hm === undefined
            ? undefined
            : this.loadHist(n, userId, meta, hm, partLog.logs.get(userId) ?? {}, baseSpend, baseLots);
        users.push([
          userId,
          { state, days, methodStored: meta.costMethod !== undefined, ...(hist === undefined ? {} : { hist }) },
        ]);
      }
    }
    return { ...(snapshot === undefined ? {} : { snapshot }), tradeIds, buffer, users };
  }
}

/** Queue the reads of every partition's watermarks into a pipeline (see `parseWatermarks`). */
export const queueWatermarks = (p: ChainableCommander, keys: SpeedKeys): void => {
  for (const n of SPEED_PARTITIONS) p.hmget(keys.watermarks(n), 'price', 'users');
};

/** Take the values `queueWatermarks` queued off the front of a pipeline's results. */
export const parseWatermarks = (values: unknown[]): StreamWatermarks =>
  streamWatermarks(
    SPEED_PARTITIONS.map((n) => {
      const [price, users] = values.shift() as (string | null)[];
      return { partition: n, price: price == null ? null : Number(price), users: users == null ? null : Number(users) };
    }),
  );

/** THE reader of the watermark shape: per-partition marks and the stream-wide ones (core rule). */
export const readWatermarks = async (redis: RedisConn, keys: SpeedKeys): Promise<StreamWatermarks> => {
  const p = crossSlotPipeline(redis);
  queueWatermarks(p, keys);
  const values = ((await p.exec()) ?? []).map(([err, v]) => {
    if (err) throw err;
    return v;
  });
  return parseWatermarks(values);
};
