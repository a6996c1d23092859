import type { ChainableCommander } from 'ioredis';
import { CryptolambdaError } from '../../core/errors.js';
import { USER_ID_RE } from '../../core/events/validate.js';
import { Decimal, PRICE_SCALE } from '../../core/money/decimal.js';
import type { Candle } from '../../core/ohlcv/candle.js';
import { SPEED_PARTITIONS, symbolPartition } from '../../core/partitioning.js';
import type { PositionJson } from '../../core/portfolio/codec.js';
import { summarizeLotJson } from '../../core/portfolio/lots.js';
import type { DeltaDay } from '../../core/serving/merge.js';
import type { EodPositionJson, SpeedUserDay } from '../../core/serving/reconcile.js';
import { type CandleStateJson, candleFromJson } from '../../core/speed/price-windows.js';
import type { DayRewardsJson } from '../../core/speed/user-ledger.js';
import type { RedisConn } from './client.js';
import { assertKeyPart, type CandleInterval, type SpeedKeys, type TierJson } from './speed-keys.js';
import { parseEodBook, readWatermarks } from './speed-store.js';

/**
 * The serving layer's reads of the speed layer's Redis state. Every key comes from the speedKeys
 * builders (ids validated there again), every multi-key read is one pipelined round trip.
 */
type Results = [Error | null, unknown][];

const exec = async (p: ChainableCommander): Promise<unknown[]> => {
  const res = ((await p.exec()) ?? []) as Results;
  return res.map(([err, v]) => {
    if (err) throw new CryptolambdaError('INTERNAL', `redis: ${err.message}`, undefined, { cause: err });
    return v;
  });
};

const parse = <T>(key: string, s: string): T => {
  try {
    return JSON.parse(s) as T;
  } catch (err) {
    throw new CryptolambdaError('INTERNAL', `corrupt JSON in Redis key ${key}`, undefined, { cause: err });
  }
};

/** An end-of-day position with its lots folded into their summary right after the parse. */
const summarized = (j: EodPositionJson): EodPositionJson => {
  if (j.lots === undefined) return j;
  const { lots, ...position } = j;
  return { ...position, lotsSummary: summarizeLotJson(lots) };
};

export interface SpeedUser {
  readonly deltas: DeltaDay[];
  readonly positions: PositionJson[];
  readonly tier: TierJson | null;
  /** `rw:<user>:<day>` of the requested days that exist. */
  readonly dayRewards: Map<string, DayRewardsJson>;
}

export interface SpeedWatermarks {
  /** Max over partitions of the users' watermark (user events are applied up to it). */
  readonly usersWatermark: number | null;
  /** Min over partitions of the price watermark (the stream-wide watermark). */
  readonly priceWatermark: number | null;
}

export interface LivePrice {
  readonly price: Decimal;
  readonly eventTime: number;
}

export class SpeedReader {
  constructor(
    readonly redis: RedisConn,
    readonly keys: SpeedKeys,
  ) {}

  /** One round trip: the user's deltas and day rewards of `days`, the book and the tier. */
  async user(userId: string, days: readonly string[]): Promise<SpeedUser> {
    const p = this.redis.pipeline();
    for (const d of days) p.hvals(this.keys.delta(userId, d));
    for (const d of days) p.get(this.keys.dayRewards(userId, d));
    p.hvals(this.keys.positions(userId));
    p.get(this.keys.tier(userId));
    const v = await exec(p);
    const deltas = days.map((day, i) => ({ day, events: v[i] as string[] })).filter((d) => d.events.length > 0);
    const dayRewards = new Map<string, DayRewardsJson>();
    days.forEach((day, i) => {
      const s = v[days.length + i] as string | null;
      if (s !== null) dayRewards.set(day, parse(this.keys.dayRewards(userId, day), s));
    });
    const positions = (v[2 * days.length] as string[]).map((s) => parse<PositionJson>(this.keys.positions(userId), s));
    const t = v[2 * days.length + 1] as string | null;
    return { deltas, positions, tier: t === null ? null : parse<TierJson>(this.keys.tier(userId), t), dayRewards };
  }

  /** `eod:<user>:<date>`: the user's book at the end of `date` (empty when the stream kept none). */
  async endOfDay(userId: string, date: string): Promise<PositionJson[]> {
    const key = this.keys.endOfDay(userId, date);
    return parseEodBook(await this.redis.hgetall(key), key);
  }

  async watermarks(): Promise<SpeedWatermarks> {
    const w = await readWatermarks(this.redis, this.keys);
    return { usersWatermark: w.users, priceWatermark: w.price };
  }

  /** Last trade per symbol from `price:last`; symbols without one are absent. */
  async lastPrices(symbols: readonly string[]): Promise<Map<string, LivePrice>> {
    const out = new Map<string, LivePrice>();
    if (symbols.length === 0) return out;
    // Each symbol's last price lives in the hash of its raw.prices partition.
    const vals = await Promise.all(
      symbols.map((s) => this.redis.hget(this.keys.lastPrice(symbolPartition(s)), assertKeyPart('symbol', s))),
    );
    symbols.forEach((s, i) => {
      const v = vals[i];
      if (v === null || v === undefined) return;
      const j = parse<{ price: string; eventTime: number }>(this.keys.lastPrice(symbolPartition(s)), v);
      out.set(s, { price: Decimal.parse(j.price, PRICE_SCALE), eventTime: j.eventTime });
    });
    return out;
  }

  /** Per user, the ids of the date's events the speed layer dead-lettered TOO_LATE (docs/core.md §5b). */
  async tooLate(date: string): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const n of SPEED_PARTITIONS) {
      for (const [id, user] of Object.entries(await this.redis.hgetall(this.keys.tooLate(date, n)))) {
        const list = out.get(user);
        if (list === undefined) out.set(user, [id]);
        else list.push(id);
      }
    }
    return out;
  }

  /**
   * The members of `days:<date>`, one set per partition, read with SSCAN a page at a time (never a
   * whole set in one reply); a member may come twice (SSCAN's guarantee), the caller dedups.
   */
  async *dayMembers(date: string, count = 1000): AsyncGenerator<{ partition: number; users: string[] }> {
    for (const n of SPEED_PARTITIONS) {
      const key = this.keys.dayUsers(date, n);
      let cursor = '0';
      do {
        const [next, users] = await this.redis.sscan(key, cursor, 'COUNT', count);
        cursor = next;
        const bad = users.find((u) => !USER_ID_RE.test(u));
        if (bad !== undefined)
          throw new CryptolambdaError('INTERNAL', `invalid user id ${JSON.stringify(bad)} in ${key}`);
        if (users.length > 0) yield { partition: n, users };
      } while (cursor !== '0');
    }
  }

  /**
   * Members of `days:<date>` with their end-of-day book and day aggregate (reconcile's speed side),
   * in the given order. One pipeline per partition and 500 users (a partition's keys share a hash
   * tag, so each pipeline goes to one Redis Cluster node); the partitions' pipelines run together.
   */
  async usersOfDay(date: string, users: readonly { userId: string; partition: number }[]): Promise<SpeedUserDay[]> {
    const byPartition = new Map<number, string[]>();
    for (const u of users) {
      const l = byPartition.get(u.partition);
      if (l === undefined) byPartition.set(u.partition, [u.userId]);
      else l.push(u.userId);
    }
    const got = new Map<string, SpeedUserDay>();
    await Promise.all(
      [...byPartition].map(async ([n, ids]) => {
        for (let i = 0; i < ids.length; i += 500) {
          const chunk = ids.slice(i, i + 500);
          const p = this.redis.pipeline();
          for (const u of chunk) {
            p.hgetall(this.keys.endOfDay(u, date, n));
            p.get(this.keys.dayRewards(u, date, n));
          }
          const v = await exec(p);
          chunk.forEach((userId, j) => {
            const eod = v[2 * j] as Record<string, string>;
            const key = this.keys.endOfDay(userId, date, n);
            const rw = v[2 * j + 1] as string | null;
            got.set(userId, {
              userId,
              eod: Object.keys(eod).length === 0 ? null : parseEodBook(eod, key).map(summarized),
              rewards: rw === null ? null : parse<DayRewardsJson>(this.keys.dayRewards(userId, date, n), rw),
            });
          });
        }
      }),
    );
    return users.map((u) => got.get(u.userId)!);
  }

  /** Symbols the stream has seen (the `symbols` set), sorted. */
  async symbols(): Promise<string[]> {
    // One set per partition (hash tag): their union.
    const sets = await Promise.all(SPEED_PARTITIONS.map((n) => this.redis.smembers(this.keys.symbols(n))));
    return [...new Set(sets.flat())].sort();
  }

  /** Start of the newest candle stored for the symbol, or null. */
  async latestCandleStart(interval: CandleInterval, symbol: string): Promise<number | null> {
    const last = await this.redis.zrange(this.keys.candles(interval, symbol), -1, -1, 'WITHSCORES');
    return last.length === 2 ? Number(last[1]) : null;
  }

  /** Candles with start in [from, to), and the start of the oldest candle stored for the symbol. */
  async candles(
    interval: CandleInterval,
    symbol: string,
    from: number,
    to: number,
  ): Promise<{ candles: { candle: Candle; final: boolean }[]; earliest: number | null }> {
    const key = this.keys.candles(interval, symbol);
    const p = this.redis.pipeline();
    p.zrange(key, 0, 0, 'WITHSCORES');
    p.zrangebyscore(key, from, `(${to}`);
    const [first, members] = (await exec(p)) as [string[], string[]];
    return {
      earliest: first.length === 2 ? Number(first[1]) : null,
      candles: members.map((m) => {
        const j = parse<CandleStateJson>(key, m);
        return { candle: candleFromJson(j), final: j.final };
      }),
    };
  }
}
