import { onTestFinished } from 'vitest';
import { connectRedis, type RedisConn as Redis } from '../../../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../../src/adapters/redis/speed-keys.js';
import type { Config } from '../../../src/config/config.js';
import { symbolPartition } from '../../../src/core/partitioning.js';
import type { RawCandle, RawSnapshot } from '../../../src/core/ticker/snapshot.js';
import { loadSnapshot } from '../../core/ticker/load-fixture.js';
import { testConfig } from '../../support/int.js';

/**
 * Writes a ticker fixture into Redis exactly as the speed layer stores it (speed-keys.ts): the
 * last-price HASH, candle ZSETs scored by window start, the symbol SET, per-partition watermarks,
 * the user's positions HASH and tier STRING. Every key is deleted when the test finishes.
 */
export const seedSpeedLayer = async (redis: Redis, keyspace: string, snap: RawSnapshot): Promise<void> => {
  onTestFinished(async () => {
    const keys = await redis.keys(`${keyspace}*`);
    if (keys.length > 0) await redis.del(...keys);
  });
  const k = speedKeys(keyspace);
  const m = redis.multi();
  for (const s of snap.symbols) m.sadd(k.symbols(symbolPartition(s)), s);
  for (const [symbol, lp] of Object.entries(snap.lastPrices))
    m.hset(k.lastPrice(symbolPartition(symbol)), symbol, JSON.stringify(lp));
  for (const [interval, bySymbol] of [
    ['1m', snap.candles1m],
    ['5m', snap.candles5m],
  ] as const) {
    for (const [symbol, candles] of Object.entries(bySymbol)) {
      for (const c of candles as RawCandle[]) m.zadd(k.candles(interval, symbol), c.start, JSON.stringify(c));
    }
  }
  for (const [partition, w] of snap.watermarks.entries()) m.hset(k.watermarks(partition), 'price', String(w));
  if (snap.user) {
    for (const p of snap.user.positions as { asset: string }[])
      m.hset(k.positions(snap.user.id), p.asset, JSON.stringify(p));
    if (snap.user.tier) m.set(k.tier(snap.user.id), JSON.stringify(snap.user.tier));
  }
  const res = await m.exec();
  if (!res || res.some(([err]) => err)) throw new Error('seeding Redis failed');
};

/** The fixture moved in time by whole minutes (`delta` ms), so candle windows stay minute-aligned. */
export const shiftSnapshot = (snap: RawSnapshot, delta: number): RawSnapshot => {
  const candle = (c: unknown) => {
    const x = c as RawCandle;
    return { ...x, start: x.start + delta, end: x.end + delta };
  };
  const shiftAll = (by: RawSnapshot['candles1m']) =>
    Object.fromEntries(Object.entries(by).map(([s, cs]) => [s, cs.map(candle)]));
  return {
    ...snap,
    now: snap.now + delta,
    lastPrices: Object.fromEntries(
      Object.entries(snap.lastPrices).map(([s, v]) => {
        const lp = v as { price: string; eventTime: number };
        return [s, { ...lp, eventTime: lp.eventTime + delta }];
      }),
    ),
    candles1m: shiftAll(snap.candles1m),
    candles5m: shiftAll(snap.candles5m),
    watermarks: snap.watermarks.map((w) => w + delta),
    user: snap.user && {
      ...snap.user,
      tier: { ...(snap.user.tier as object), since: (snap.user.tier as { since: number }).since + delta },
    },
  };
};

/**
 * The live fixture moved to the current minute (without its day-old candles, so the 24h reference
 * is the first candle of today's series whatever the seconds are), written under the config's
 * keyspace in the real Redis. Returns the config the CLI should be pointed at.
 */
export const seedLiveToday = async (): Promise<Config> => {
  const config = testConfig();
  const redis = await connectRedis(config);
  onTestFinished(() => redis.disconnect());
  const live = loadSnapshot('live');
  const today: RawSnapshot = {
    ...live,
    candles1m: { ...live.candles1m, BTCUSDT: live.candles1m.BTCUSDT!.slice(2) },
  };
  const snap = shiftSnapshot(today, Math.floor((Date.now() - live.now) / 60_000) * 60_000);
  await seedSpeedLayer(redis, keyspaceFor(config.topicPrefix), snap);
  return config;
};
