import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TransactionEvent } from '../../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../../../src/core/money/decimal.js';
import { type SpendJson, spendField, spendToJson, type TierWindow } from '../../../src/core/rewards/tiers.js';
import { DEFAULT_ENGINE_OPTIONS, PartitionEngine, type UserChange } from '../../../src/core/speed/engine.js';
import { DAY_MS } from '../../../src/core/speed/user-ledger.js';

/**
 * Issue 13, a checkpoint writes what changed: a user's card spends are stored one field each
 * (`<day>|<eventId>`), and a drain names only the spends that entered or left the 30-day window.
 * Here a store is simulated from the drains alone, as speed-store.ts writes them (base first, with
 * its DEL / server-side COPY of the live spends as of the previous drain, then the live puts and
 * deletes), and after every drain its fields must equal the live window and, while the user keeps a
 * re-application log, the base window: over 45 days (spends expire), with events arriving out of
 * order within the lateness (re-application) and drains at random moments.
 */
const T0 = Date.UTC(2026, 8, 1);
const HOUR = 3_600_000;

const event = (user: string, id: string, t: number, type: 'card_spend' | 'buy', amount: number): TransactionEvent => ({
  kind: 'transaction',
  eventId: id,
  userId: user,
  type,
  asset: type === 'buy' ? 'BTC' : 'USD',
  quantity: Decimal.parse(String(amount), QTY_SCALE),
  price: Decimal.parse(type === 'buy' ? '100' : '1', PRICE_SCALE),
  fee: Decimal.zero(USD_SCALE),
  feeAsset: 'USD',
  eventTime: t,
});

type Fields = Map<string, string>;
const windowFields = (w: TierWindow): Fields =>
  new Map(w.spends.map((x) => [spendField(x), JSON.stringify(spendToJson(x))]));
const apply = (f: Fields, put: readonly (readonly [string, SpendJson])[], del: readonly string[]) => {
  for (const [k, v] of put) f.set(k, JSON.stringify(v));
  for (const k of del) f.delete(k);
};

/** Across all runs: the paths the property must have gone through (checked at the end). */
const seen = { reordered: 0, fromLive: 0, baseChecked: 0, deleted: 0 };

class SimStore {
  readonly live = new Map<string, Fields>();
  readonly base = new Map<string, Fields>();
  /** Commands a real store would send for spends (HSET/HDEL fields), to check the cost. */
  fieldsWritten = 0;

  write(users: readonly UserChange[]): void {
    for (const ch of users) {
      const live = this.live.get(ch.userId) ?? new Map();
      this.live.set(ch.userId, live);
      const b = ch.hist?.base;
      if (b !== undefined) {
        let base = this.base.get(ch.userId) ?? new Map();
        if (b.full) base = new Map();
        if (b.fromLive && !b.liveSpendEmpty) base = new Map(live);
        if (b.fromLive) seen.fromLive++;
        apply(base, b.spendPut, b.spendDel);
        this.base.set(ch.userId, base);
        this.fieldsWritten += b.spendPut.length + b.spendDel.length;
      }
      apply(live, ch.parts.spendPut, ch.parts.spendDel);
      seen.deleted += ch.parts.spendDel.length;
      this.fieldsWritten += ch.parts.spendPut.length + ch.parts.spendDel.length;
    }
  }
}

const check = (engine: PartitionEngine, store: SimStore) => {
  for (const [u, s] of engine.users) {
    expect(store.live.get(u) ?? new Map(), `${u} live spends`).toEqual(windowFields(s.state.tier));
    const base = s.hist?.base;
    if (base === undefined) continue;
    expect(store.base.get(u) ?? new Map(), `${u} base spends`).toEqual(windowFields(base.tier));
    seen.baseChecked++;
  }
};

describe('per-spend store writes (property)', () => {
  it('the simulated store equals the live and the base windows after every drain', () => {
    fc.assert(
      fc.property(
        // Per event: user, gap to the previous event (hours), kind, amount, how far it arrives late.
        fc.array(
          fc.record({
            user: fc.constantFrom('u1', 'u2'),
            gapH: fc.integer({ min: 0, max: 30 }),
            spend: fc.boolean(),
            amount: fc.integer({ min: 1, max: 5000 }),
            lateMin: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 })),
            drain: fc.boolean(),
          }),
          { minLength: 20, maxLength: 80 },
        ),
        (steps) => {
          const engine = new PartitionEngine(DEFAULT_ENGINE_OPTIONS, 0);
          const store = new SimStore();
          let t = T0;
          let now = 0;
          const later = (ms: number) => {
            now += ms;
            return now;
          };
          const produced: TransactionEvent[] = [];
          steps.forEach((st, i) => {
            t += st.gapH * HOUR + 1000;
            // A late event: its time is before events already applied (within the 1 h lateness).
            const at = st.lateMin === 0 ? t : t - st.lateMin * 60_000;
            const e = event(st.user, `e${i}`, at, st.spend ? 'card_spend' : 'buy', st.amount);
            produced.push(e);
            engine.addUsers('transactions', [e], later(5));
            engine.tick(later(DEFAULT_ENGINE_OPTIONS.userIdleMs + 1), () => true);
            if (st.drain) {
              store.write(engine.drain().users);
              check(engine, store);
            }
          });
          engine.tick(later(DEFAULT_ENGINE_OPTIONS.userIdleMs + 1), () => true);
          store.write(engine.drain().users);
          check(engine, store);
          seen.reordered += engine.counts.reordered;
          // 45 days of event time at most: some spends left the window, and a later drain deletes them.
          expect(t - T0).toBeLessThan(80 * 31 * HOUR);
        },
      ),
      { numRuns: 60, seed: 1313 },
    );
    // The runs re-applied late events, re-copied bases from the live book, checked bases and
    // deleted spends that left the window.
    expect(
      Object.values(seen).every((n) => n > 0),
      JSON.stringify(seen),
    ).toBe(true);
  });

  it('a heavy card spender: each drain writes its new spends, not its whole day', () => {
    const engine = new PartitionEngine(DEFAULT_ENGINE_OPTIONS, 0);
    const store = new SimStore();
    let now = 0;
    const later = (ms: number) => {
      now += ms;
      return now;
    };
    const perDrain: number[] = [];
    for (let batch = 0; batch < 40; batch++) {
      const events = Array.from({ length: 50 }, (_, j) =>
        event('heavy', `s${batch}-${j}`, T0 + batch * 60_000 + j * 1000, 'card_spend', 10),
      );
      engine.addUsers('transactions', events, later(5));
      engine.tick(later(DEFAULT_ENGINE_OPTIONS.userIdleMs + 1), () => true);
      const before = store.fieldsWritten;
      store.write(engine.drain().users);
      perDrain.push(store.fieldsWritten - before);
      check(engine, store);
    }
    // 2,000 spends on one day; every drain writes its batch (live and base), bounded by the batch,
    // where a per-day bucket would have rewritten up to 2,000 spends per drain.
    expect(engine.users.get('heavy')!.state.tier.size).toBe(2000);
    expect(Math.max(...perDrain)).toBeLessThanOrEqual(2 * 50 + 50);
    expect(perDrain.at(-1)).toBeGreaterThan(0);
  });

  it('a spend 30 days old leaves the window and the store deletes its field', () => {
    const engine = new PartitionEngine(DEFAULT_ENGINE_OPTIONS, 0);
    const store = new SimStore();
    engine.addUsers('transactions', [event('u', 'old', T0, 'card_spend', 100)], 5);
    engine.tick(5000, () => true);
    store.write(engine.drain().users);
    expect([...store.live.get('u')!.keys()]).toEqual([`2026-09-01|old`]);
    engine.addUsers('transactions', [event('u', 'new', T0 + 31 * DAY_MS, 'card_spend', 100)], 6000);
    engine.tick(10_000, () => true);
    const users = engine.drain().users;
    expect(users[0]!.parts.spendDel).toEqual(['2026-09-01|old']);
    store.write(users);
    expect([...store.live.get('u')!.keys()]).toEqual([`2026-10-02|new`]);
    check(engine, store);
  });
});
