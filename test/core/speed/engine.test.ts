import { describe, expect, it } from 'vitest';
import type { UserEvent } from '../../../src/core/events/types.js';
import { NO_WATERMARK, streamWatermarks } from '../../../src/core/ohlcv/watermark.js';
import { DEFAULT_ENGINE_OPTIONS, PartitionEngine } from '../../../src/core/speed/engine.js';
import { emptyUser, replayUser } from '../../../src/core/speed/user-ledger.js';
import { makeDataset, prng } from '../../support/events.js';

const START = Date.UTC(2026, 10, 20, 23, 50);

/** Feed the two user topics in random batch interleavings, as Kafka may deliver them. */
const feed = (engine: PartitionEngine, tx: readonly UserEvent[], rw: readonly UserEvent[], seed: number) => {
  const rnd = prng(seed);
  let i = 0;
  let j = 0;
  let now = 0;
  while (i < tx.length || j < rw.length) {
    const size = 1 + (rnd() % 40);
    now += 10;
    if (j >= rw.length || (i < tx.length && rnd() % 2 === 0)) {
      engine.addUsers('transactions', tx.slice(i, i + size), now);
      i += size;
    } else {
      engine.addUsers('rewards', rw.slice(j, j + size), now);
      j += size;
    }
  }
  // Both topics quiet and caught up: everything buffered is released.
  engine.tick(now + DEFAULT_ENGINE_OPTIONS.userIdleMs, () => true);
};

describe('PartitionEngine (pure speed layer of one partition)', () => {
  const d = makeDataset({ seed: 9, start: START, minutes: 30, users: 25 });

  it('merges the two user topics in event time: the state equals the core replay, whatever the interleaving', () => {
    const byUser = new Map<string, UserEvent[]>();
    for (const e of [...d.transactions, ...d.rewards]) byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), e]);
    for (const seed of [1, 2, 3]) {
      const engine = new PartitionEngine(DEFAULT_ENGINE_OPTIONS, 0);
      feed(engine, d.transactions, d.rewards, seed);
      expect(engine.buffered).toBe(0);
      for (const [u, evs] of byUser) {
        const want = replayUser(emptyUser(u), evs);
        const got = engine.users.get(u)!;
        expect([...got.state.positions]).toEqual([...want.state.positions]);
        expect(got.state.tier.spend30d.toString()).toBe(want.state.tier.spend30d.toString());
        expect(got.days.get([...want.days.keys()].at(-1)!)).toEqual([...want.days.values()].at(-1));
      }
    }
  });

  it('drain returns what changed since the previous drain, and nothing twice', () => {
    const engine = new PartitionEngine(DEFAULT_ENGINE_OPTIONS, 0);
    feed(engine, d.transactions, d.rewards, 4);
    const first = engine.drain();
    const applied = first.users.reduce((a, u) => a + u.deltas.reduce((b, [, evs]) => b + evs.length, 0), 0);
    expect(applied).toBe(d.transactions.length + d.rewards.length);
    expect(first.users.reduce((a, u) => a + u.parts.dedupAdded.reduce((b, [, ids]) => b + ids.length, 0), 0)).toBe(
      applied,
    );
    expect(first.partition).toBeDefined();
    const second = engine.drain();
    expect(second.users).toEqual([]);
    expect(second.bufferPut).toEqual([]);
    expect(second.partition).toBeUndefined();
    // One more event touches exactly one user and one day.
    const e = d.transactions.at(-1)!;
    engine.addUsers('transactions', [{ ...e, eventId: `${e.eventId}-x`, eventTime: e.eventTime + 1 }], 10_000_000);
    engine.tick(20_000_000, () => true);
    const third = engine.drain();
    expect(third.users.map((u) => u.userId)).toEqual([e.userId]);
    expect(third.users[0]!.parts.dedupAdded.flatMap(([, ids]) => ids)).toHaveLength(1);
    expect(third.users[0]!.parts.spendPut.length + third.users[0]!.parts.spendDel.length).toBeLessThanOrEqual(1);
  });

  it('merge buffer: only what a drain put is ever deleted (also after a restore), once', () => {
    const tx = d.transactions.slice(0, 60);
    const ids = new Set(tx.map((e) => e.eventId));
    // Released before any drain: neither written nor deleted.
    const quick = new PartitionEngine(DEFAULT_ENGINE_OPTIONS, 0);
    quick.addUsers('transactions', tx, 10);
    quick.tick(10 + DEFAULT_ENGINE_OPTIONS.userIdleMs, () => true);
    const q = quick.drain();
    expect(quick.buffered).toBe(0);
    expect([q.bufferPut.length, q.bufferDel.length]).toEqual([0, 0]);
    // Drained while buffered: put, then deleted exactly once when released.
    const slow = new PartitionEngine(DEFAULT_ENGINE_OPTIONS, 0);
    slow.addUsers('transactions', tx, 10);
    const put = slow.drain();
    expect(new Set(put.bufferPut.map(([id]) => id))).toEqual(ids);
    expect(put.bufferDel).toEqual([]);
    slow.tick(10 + DEFAULT_ENGINE_OPTIONS.userIdleMs, () => true);
    const released = slow.drain();
    expect(released.bufferPut).toEqual([]);
    expect(new Set(released.bufferDel)).toEqual(ids);
    expect(released.bufferDel).toHaveLength(ids.size);
    expect(slow.drain().bufferDel).toEqual([]);
    // Restored buffer: the store holds it, so its release deletes it; a new event released before a
    // drain is not.
    const restored = new PartitionEngine(DEFAULT_ENGINE_OPTIONS, 0, { buffer: tx });
    const extra = {
      ...tx[0]!,
      eventId: `${tx[0]!.eventId}-new`,
      eventTime: Math.max(...tx.map((e) => e.eventTime)) + 1,
    };
    restored.addUsers('transactions', [extra], 10);
    restored.tick(10 + DEFAULT_ENGINE_OPTIONS.userIdleMs, () => true);
    const r = restored.drain();
    expect(restored.buffered).toBe(0);
    expect(new Set(r.bufferDel)).toEqual(ids);
    expect(r.bufferPut).toEqual([]);
  });

  it('prices: candles and last prices change only for the symbols traded since the previous drain', () => {
    const engine = new PartitionEngine(DEFAULT_ENGINE_OPTIONS, 0);
    for (const p of d.prices) engine.addPrice(p);
    const c = engine.drain();
    expect(c.lastPrices.length).toBeGreaterThan(0);
    expect(c.watermarks.price).toBe(engine.prices.maxEventTime - DEFAULT_ENGINE_OPTIONS.outOfOrdernessMs);
    expect(engine.drain().lastPrices).toEqual([]);
  });
});

describe('stream-wide watermarks (one rule for every reader)', () => {
  it('price is the min over partitions with one; users the max', () => {
    const w = streamWatermarks([
      { partition: 0, price: 100, users: 5 },
      { partition: 1, price: null, users: 9 },
      { partition: 2, price: 80, users: null },
    ]);
    expect(w.price).toBe(80);
    expect(w.users).toBe(9);
    expect(streamWatermarks([]).price).toBeNull();
    expect(NO_WATERMARK).toBe(Number.NEGATIVE_INFINITY);
  });
});
