import type { ChainableCommander, Redis } from 'ioredis';
import { CryptolambdaError } from '../../core/errors.js';
import { USER_ID_RE } from '../../core/events/validate.js';
import { Decimal, PRICE_SCALE } from '../../core/money/decimal.js';
import type { Candle } from '../../core/ohlcv/candle.js';
import type { PositionJson } from '../../core/portfolio/codec.js';
import type { DeltaDay } from '../../core/serving/merge.js';
import type { SpeedUserDay } from '../../core/serving/reconcile.js';
import { type CandleStateJson, candleFromJson } from '../../core/speed/price-windows.js';
import type { DayRewardsJson } from '../../core/speed/user-ledger.js';
import type { CandleInterval, SpeedKeys, TierJson } from './speed-keys.js';

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
    readonly redis: Redis,
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
    return (await this.redis.hvals(key)).map((s) => parse<PositionJson>(key, s));
  }

  async watermarks(): Promise<SpeedWatermarks> {
    const h = await this.redis.hgetall(this.keys.watermarks());
    const users: number[] = [];
    const prices: number[] = [];
    for (const [k, v] of Object.entries(h)) {
      const n = Number(v);
      if (!Number.isFinite(n)) continue;
      if (k.startsWith('users:')) users.push(n);
      else prices.push(n);
    }
    return {
      usersWatermark: users.length === 0 ? null : Math.max(...users),
      priceWatermark: prices.length === 0 ? null : Math.min(...prices),
    };
  }

  /** Last trade per symbol from `price:last`; symbols without one are absent. */
  async lastPrices(symbols: readonly string[]): Promise<Map<string, LivePrice>> {
    const out = new Map<string, LivePrice>();
    if (symbols.length === 0) return out;
    const vals = await this.redis.hmget(this.keys.lastPrice(), ...symbols);
    symbols.forEach((s, i) => {
      const v = vals[i];
      if (v === null || v === undefined) return;
      const j = parse<{ price: string; eventTime: number }>(this.keys.lastPrice(), v);
      out.set(s, { price: Decimal.parse(j.price, PRICE_SCALE), eventTime: j.eventTime });
    });
    return out;
  }

  /** Every user of `days:<date>` with its end-of-day book and day aggregate (reconcile's speed side). */
  async day(date: string): Promise<SpeedUserDay[]> {
    const members = (await this.redis.smembers(this.keys.dayUsers(date))).sort();
    const bad = members.find((u) => !USER_ID_RE.test(u));
    if (bad !== undefined) {
      throw new CryptolambdaError('INTERNAL', `invalid user id ${JSON.stringify(bad)} in ${this.keys.dayUsers(date)}`);
    }
    const out: SpeedUserDay[] = [];
    for (let i = 0; i < members.length; i += 500) {
      const chunk = members.slice(i, i + 500);
      const p = this.redis.pipeline();
      for (const u of chunk) {
        p.hvals(this.keys.endOfDay(u, date));
        p.get(this.keys.dayRewards(u, date));
      }
      const v = await exec(p);
      chunk.forEach((userId, j) => {
        const eod = v[2 * j] as string[];
        const rw = v[2 * j + 1] as string | null;
        out.push({
          userId,
          eod: eod.length === 0 ? null : eod.map((s) => parse<PositionJson>(this.keys.endOfDay(userId, date), s)),
          rewards: rw === null ? null : parse<DayRewardsJson>(this.keys.dayRewards(userId, date), rw),
        });
      });
    }
    return out;
  }

  /** Symbols the stream has seen (the `symbols` set), sorted. */
  async symbols(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.symbols())).sort();
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
