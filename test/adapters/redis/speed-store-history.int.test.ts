import { describe, expect, it, onTestFinished } from 'vitest';
import { CheckpointTx, commitFenced } from '../../../src/adapters/redis/checkpoint-tx.js';
import { connectRedis } from '../../../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../../src/adapters/redis/speed-keys.js';
import { groupLots, RedisSpeedStore } from '../../../src/adapters/redis/speed-store.js';
import type { TransactionEvent, UserEvent } from '../../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE } from '../../../src/core/money/decimal.js';
import { positionToJson } from '../../../src/core/portfolio/codec.js';
import { lotQueueToJson } from '../../../src/core/portfolio/lots.js';
import { compareEvents } from '../../../src/core/portfolio/position.js';
import { DEFAULT_ENGINE_OPTIONS, PartitionEngine } from '../../../src/core/speed/engine.js';
import { emptyUser, replayUser } from '../../../src/core/speed/user-ledger.js';
import { makeDataset } from '../../support/events.js';
import { testConfig } from '../../support/int.js';

/**
 * Issue 14 across a restart: the per-user history (base book + recent events) is checkpointed
 * with the state, so a late event that arrives after the worker restarted is still put in its
 * place. Real Redis, the real store and fenced commit; the engine is restored from what was written.
 */
const N = 3;
// Three minutes: the ten minutes of events fold into the base book as they age.
const opts = { ...DEFAULT_ENGINE_OPTIONS, userLatenessMs: 3 * 60_000 };

/** A fresh keyspace on the test Redis (removed after the test), partition N's epoch 1, and the store. */
const openStore = async (suffix: string) => {
  const config = testConfig();
  const keys = speedKeys(keyspaceFor(`${config.topicPrefix}${suffix}`));
  const redis = await connectRedis(config);
  onTestFinished(async () => {
    const found = await redis.keys(`${keys.keyspace}*`);
    if (found.length > 0) await redis.del(...found);
    redis.disconnect();
  });
  await redis.set(keys.epoch(N), '1');
  const store = new RedisSpeedStore(redis, keys, { history: { '1m': 60, '5m': 60 }, dayTtlSec: 3600 });
  return { keys, redis, store };
};

/** One batch of transactions, ticked past the idle release, and the drain's checkpoint (not committed yet). */
const feed = (engine: PartitionEngine, store: RedisSpeedStore, events: UserEvent[], now: number): CheckpointTx => {
  engine.addUsers('transactions', events, now);
  engine.tick(now + 10_000, () => true);
  const t = new CheckpointTx();
  store.write(t, N, engine.drain());
  return t;
};

describe('speed store: user history survives a restart (real Redis)', () => {
  it('a late event after a restart gives the in-order book, and the stored book equals it', async () => {
    const { keys, redis, store } = await openStore('');
    const checkpoint = async (engine: PartitionEngine) => {
      const tx = new CheckpointTx();
      store.write(tx, N, engine.drain());
      expect(await commitFenced(redis, keys.epoch(N), 1, tx)).toBe(true);
    };

    const d = makeDataset({ seed: 5, start: Date.UTC(2026, 10, 20, 23, 55), minutes: 10, users: 6 });
    const all: UserEvent[] = [...d.transactions, ...d.rewards].sort(compareEvents);
    // Every 5th transaction of the last two minutes is held back and arrives only after the restart.
    const end = all.at(-1)!.eventTime;
    const late = all.filter((e, i) => e.kind === 'transaction' && e.eventTime > end - 120_000 && i % 5 === 3);
    expect(late.length).toBeGreaterThan(5);
    const onTime = all.filter((e) => !late.includes(e));

    const first = new PartitionEngine(opts, 0);
    for (let i = 0; i < onTime.length; i += 50) {
      first.addUsers('transactions', onTime.slice(i, i + 50), i);
      first.tick(i + 10_000, () => true);
      await checkpoint(first);
    }

    // Put the logs back in the layout of checkpoints before the partition log (one hash per user):
    // load must migrate them, and everything below must hold as if they had never been elsewhere.
    // and the history's meta (field `<user>|`) back in `b:max` / `b:key` of the user's state hash.
    const written = await redis.hgetall(keys.partitionLog(N));
    let events = 0;
    for (const [f, v] of Object.entries(written)) {
      const [u, id] = f.split('|') as [string, string];
      if (id === '') {
        const [max, key] = JSON.parse(v) as [string, unknown];
        await redis.hset(keys.userState(u, N), 'b:max', max, 'b:key', JSON.stringify(key));
      } else {
        await redis.hset(keys.userLog(u, N), id, v);
        events++;
      }
    }
    expect(events).toBeGreaterThan(0);
    await redis.del(keys.partitionLog(N));
    const second = new PartitionEngine(opts, 0, await store.load(N));
    // Both moved back into the partition log, and gone from where they were.
    expect(await redis.hlen(keys.partitionLog(N))).toBe(Object.keys(written).length);
    for (const u of new Set(all.map((e) => e.userId)))
      expect(await redis.hmget(keys.userState(u, N), 'b:max', 'b:key')).toEqual([null, null]);
    second.addUsers('transactions', late, 1);
    second.tick(20_000, () => true);
    await checkpoint(second);
    expect(second.counts.reordered).toBeGreaterThan(0);
    expect(second.counts.tooLateUser).toBe(0);
    // Events older than the lateness were folded into the base book and stored as its parts.
    const u0 = [...second.users.values()].find((u) => u.hist?.baseKey !== undefined);
    expect(u0).toBeDefined();

    const restored = new PartitionEngine(opts, 0, await store.load(N));
    const byUser = new Map<string, UserEvent[]>();
    for (const e of all) byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), e]);
    for (const [u, evs] of byUser) {
      const want = replayUser(emptyUser(u), evs).state;
      const book = (ps: Iterable<Parameters<typeof positionToJson>[0]>) =>
        [...ps].map(positionToJson).sort((a, b) => (a.asset < b.asset ? -1 : 1));
      const wantJson = book(want.positions.values());
      expect(book(second.users.get(u)!.state.positions.values()), u).toEqual(wantJson);
      expect(book(restored.users.get(u)!.state.positions.values()), u).toEqual(wantJson);
      // The public book a reader sees (pos:<user>) too.
      const pub = await redis.hgetall(keys.positions(u, N));
      expect(
        Object.values(pub)
          .map((v) => JSON.parse(v))
          .sort((a, b) => (a.asset < b.asset ? -1 : 1)),
      ).toEqual(wantJson);
      expect(restored.users.get(u)!.state.tier.headToJson()).toEqual(want.tier.headToJson());
    }
    // The log holds only the lateness horizon's events; older ones live in the base book.
    // One partition log for every user (fields `<user>|<eventId>`); no per-user log keys any more.
    const logFields = await redis.hkeys(keys.partitionLog(N));
    const sizes = [...byUser.keys()].map((u) => logFields.filter((f) => f.startsWith(`${u}|`) && f !== `${u}|`).length);
    // Every user's history meta is there too (it moved out of `b:max` / `b:key`).
    for (const u of byUser.keys()) expect(logFields, u).toContain(`${u}|`);
    expect(await Promise.all([...byUser.keys()].map((u) => redis.exists(keys.userLog(u, N))))).toEqual(
      [...byUser.keys()].map(() => 0),
    );
    for (const [i, u] of [...byUser.keys()].entries()) {
      expect(sizes[i]).toBe(restored.users.get(u)!.hist!.size);
    }

    // Every day key keeps a TTL although a process sends each EXPIRE once per user and day
    // (StoredUser.ttlDay), also across the restart and the whole rewrite of an end-of-day book.
    const dayKeys = (await redis.keys(`${keys.keyspace}*`)).filter((k) =>
      /:(delta|eod|rw|stream:seen|days):/.test(k.slice(keys.keyspace.length - 1)),
    );
    expect(dayKeys.length).toBeGreaterThan(byUser.size * 2);
    for (const key of dayKeys) expect(await redis.ttl(key), key).toBeGreaterThan(0);

    // Lots are stored one field per lot, and every restored queue equals the live one.
    // By asset: a restored map's key order follows Redis's field order, which is not insertion order.
    const byAsset = (m: ReadonlyMap<string, Parameters<typeof lotQueueToJson>[0]>) =>
      [...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([a, q]) => [a, lotQueueToJson(q)]);
    const lotsOf = (e: PartitionEngine) =>
      new Map(
        [...e.users].map(([u, su]) => [
          u,
          { live: byAsset(su.state.lots), base: byAsset(su.hist?.base?.lots ?? new Map()) },
        ]),
      );
    expect(lotsOf(restored)).toEqual(lotsOf(second));
    const users = [...byUser.keys()];
    expect((await Promise.all(users.map((u) => redis.hlen(keys.userLots(u, N))))).some((n) => n > 0)).toBe(true);

    // A checkpoint written before lots were stored per lot (whole queues in `lot:` / `b:lot:`) is
    // rewritten per lot when the partition is acquired, and loads the same queues.
    for (const u of users) {
      for (const [prefix, key] of [
        ['', keys.userLots(u, N)],
        ['b:', keys.baseLots(u, N)],
      ] as const) {
        const meta = await redis.hgetall(keys.userState(u, N));
        const lots = groupLots(await redis.hgetall(key), key);
        for (const [f, v] of Object.entries(meta)) {
          if (!f.startsWith(`${prefix}lotq:`)) continue;
          const asset = f.slice(prefix.length + 5);
          const m = JSON.parse(v) as { method: string; nextSeq: number };
          await redis.hset(
            keys.userState(u, N),
            `${prefix}lot:${asset}`,
            JSON.stringify({ ...m, lots: lots.get(asset) ?? [] }),
          );
          await redis.hdel(keys.userState(u, N), f);
        }
        await redis.del(key);
      }
    }
    const migrated = new PartitionEngine(opts, 0, await store.load(N));
    expect(lotsOf(migrated)).toEqual(lotsOf(second));
    for (const u of users) {
      const fields = Object.keys(await redis.hgetall(keys.userState(u, N)));
      expect(
        fields.filter((f) => /^(b:)?lot:/.test(f)),
        u,
      ).toEqual([]);
    }
    expect(lotsOf(new PartitionEngine(opts, 0, await store.load(N)))).toEqual(lotsOf(second));
  });

  it('a base copied from the live book is stored as a server-side copy plus the changes, and restores equal', async () => {
    const { keys, redis, store } = await openStore('copy.');
    const t0 = Date.UTC(2026, 10, 20, 10, 0);
    let seq = 0;
    const tx = (userId: string, at: number, type: 'buy' | 'sell' | 'card_spend', qty: string): TransactionEvent => ({
      kind: 'transaction',
      eventId: `c${seq++}`,
      userId,
      type,
      asset: type === 'card_spend' ? 'USD' : 'BTC',
      quantity: Decimal.parse(qty, QTY_SCALE),
      price: Decimal.parse(type === 'card_spend' ? '1' : String(40_000 + seq), PRICE_SCALE),
      fee: Decimal.zero(QTY_SCALE),
      feeAsset: 'USD',
      eventTime: at,
    });
    const m = 60_000;
    let engine = new PartitionEngine(opts, 0);
    let now = 0;
    const step = async (events: UserEvent[]) => {
      now += 10;
      const t = feed(engine, store, events, now);
      expect(await commitFenced(redis, keys.epoch(N), 1, t)).toBe(true);
    };
    const baseOf = (e: PartitionEngine) => {
      const b = e.users.get('q')?.hist?.base;
      if (b === undefined) return undefined;
      return {
        lots: [...b.lots].sort(([a], [c]) => (a < c ? -1 : 1)).map(([a, q]) => [a, lotQueueToJson(q)]),
        positions: [...b.positions.values()].map(positionToJson).sort((a, c) => (a.asset < c.asset ? -1 : 1)),
        tier: b.tier.headToJson(),
        spend: b.tier.bucketKeys().map((d) => [d, b.tier.bucketToJson(d)]),
      };
    };
    let copies = 0;
    const checkRestore = async () => {
      const restored = new PartitionEngine(opts, 0, await store.load(N));
      expect(baseOf(restored)).toEqual(baseOf(engine));
      engine = restored;
    };
    // q holds lots and spend (one spend day the later rounds never touch), then goes quiet past the
    // lateness: its history collapses.
    await step([tx('q', t0 - 86_400_000, 'card_spend', '55')]);
    await step([
      tx('q', t0, 'buy', '1'),
      tx('q', t0 + 1000, 'buy', '2'),
      tx('q', t0 + 2000, 'card_spend', '30'),
      tx('q', t0 + 3000, 'buy', '3'),
      tx('p', t0 + 3000, 'buy', '1'),
    ]);
    await step([tx('p', t0 + 10 * m, 'buy', '1')]);
    expect(engine.users.get('q')!.hist!.size).toBe(0);
    // Its next event copies the live book as base again (fromLive): stored by COPY + changes.
    for (let round = 0; round < 3; round++) {
      const at = t0 + (round + 1) * 20 * m;
      // In one drain: the copy, a sell and a spend after it, and p moving the horizon so that the
      // first of q's new events folds into the fresh base (base = copy + a folded event).
      await step([
        tx('q', at, 'buy', '4'),
        tx('q', at + 1000, 'card_spend', '12'),
        tx('q', at + 4 * m, 'sell', '1.5'),
        tx('p', at + 7 * m, 'buy', '1'),
      ]);
      expect(engine.users.get('q')!.hist!.size).toBeGreaterThan(0);
      copies++;
      await checkRestore();
      // The stored base lots are exactly the base's: no lot the copy brought along is left over.
      const stored = groupLots(await redis.hgetall(keys.baseLots('q', N)), 'blots');
      const mem = engine.users.get('q')!.hist!.base!.lots;
      expect([...stored.keys()].sort()).toEqual([...mem.keys()].sort());
      for (const [a, q] of mem) expect(stored.get(a)!.length, a).toBe(lotQueueToJson(q).lots.length);
      // Quiet again: collapses before the next round.
      await step([tx('p', at + 30 * m, 'buy', '1')]);
    }
    expect(copies).toBe(3);
    await checkRestore();
  });
  it('card spends are stored one field each: a checkpoint writes the new ones, and day buckets of older checkpoints migrate', async () => {
    const { keys, redis, store } = await openStore('spend.');
    const t0 = Date.UTC(2026, 10, 20, 10, 0);
    const spend = (i: number, at: number): TransactionEvent => ({
      kind: 'transaction',
      eventId: `s${i}`,
      userId: 'h',
      type: 'card_spend',
      asset: 'USD',
      quantity: Decimal.parse(String(10 + (i % 7)), QTY_SCALE),
      price: Decimal.parse('1', PRICE_SCALE),
      fee: Decimal.zero(QTY_SCALE),
      feeAsset: 'USD',
      eventTime: at,
    });
    let engine = new PartitionEngine(opts, 0);
    let now = 0;
    /** One checkpoint; returns the spend fields its HSETs and HDELs on `stream:spend:h` carried. */
    const step = async (events: UserEvent[]) => {
      now += 10;
      const t = feed(engine, store, events, now);
      let fields = 0;
      for (let a = 0, c = 0; a < t.argv.length; c++) {
        const argc = Number(t.argv[a]);
        const cmd = t.argv[a + 1];
        if (t.keys[c] === keys.spendDays('h', N) && (cmd === 'HSET' || cmd === 'HDEL'))
          fields += cmd === 'HSET' ? argc / 2 : argc;
        a += 2 + argc;
      }
      expect(await commitFenced(redis, keys.epoch(N), 1, t)).toBe(true);
      return fields;
    };
    const windowOf = (e: PartitionEngine) => {
      const w = e.users.get('h')!.state.tier;
      return { head: w.headToJson(), spends: w.spends.map((x) => [x.eventId, x.eventTime, x.amount.toString()]) };
    };
    // 300 spends over two days in three checkpoints, then one more: it writes one field, not its day.
    for (let c = 0; c < 3; c++)
      await step(Array.from({ length: 100 }, (_, j) => spend(c * 100 + j, t0 + (c * 100 + j) * 10 * 60_000)));
    const key = keys.spendDays('h', N);
    expect(await redis.hlen(key)).toBe(300);
    expect((await redis.hkeys(key)).every((f) => /^\d{4}-\d{2}-\d{2}\|s\d+$/.test(f))).toBe(true);
    expect(await step([spend(300, t0 + 300 * 10 * 60_000)])).toBe(1);
    const before = windowOf(engine);
    expect(windowOf(new PartitionEngine(opts, 0, await store.load(N)))).toEqual(before);

    // An older checkpoint kept each day's spends in one `<day>` field: load rewrites them per spend.
    const fields = await redis.hgetall(key);
    const byDay = new Map<string, [string, number, string][]>();
    for (const [f, v] of Object.entries(fields)) {
      const [t, amount] = JSON.parse(v) as [number, string];
      const day = f.slice(0, 10);
      byDay.set(day, [...(byDay.get(day) ?? []), [f.slice(11), t, amount]]);
    }
    await redis.del(key);
    for (const [day, rows] of byDay) await redis.hset(key, day, JSON.stringify(rows.sort((a, b) => a[1] - b[1])));
    expect(await redis.hlen(key)).toBe(byDay.size);
    engine = new PartitionEngine(opts, 0, await store.load(N));
    expect(windowOf(engine)).toEqual(before);
    expect(await redis.hgetall(key)).toEqual(fields);

    // 31 days later the window holds one spend: the expired ones' fields are deleted.
    expect(await step([spend(301, t0 + 31 * 86_400_000 + 300 * 10 * 60_000)])).toBeGreaterThan(300);
    expect(await redis.hlen(key)).toBe(engine.users.get('h')!.state.tier.size);
    expect(windowOf(new PartitionEngine(opts, 0, await store.load(N)))).toEqual(windowOf(engine));
  });
});
