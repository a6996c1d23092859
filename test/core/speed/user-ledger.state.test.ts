import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RewardEvent, TransactionEvent, UserEvent } from '../../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../../../src/core/money/decimal.js';
import { COST_METHODS, type LotRow } from '../../../src/core/portfolio/lots.js';
import {
  applyEvent,
  compareEvents,
  emptyPosition,
  notional,
  type Position,
  touchesPosition,
} from '../../../src/core/portfolio/position.js';
import { DEFAULT_TIERS, monthOf, tierFor, WINDOW_MS } from '../../../src/core/rewards/tiers.js';
import {
  applyUserEvent,
  clearUserChanges,
  DAY_MS,
  DEDUP_WINDOW_MS,
  dayOf,
  emptyUser,
  inlineLots,
  inlineWindow,
  type UserState,
  userChanges,
  userFromJson,
  userFromParts,
  userToJson,
  userToParts,
  WINDOW_PART,
  type WindowPartsIn,
  windowParts,
} from '../../../src/core/speed/user-ledger.js';

/**
 * The ledger's constant-cost state (day buckets, in-place updates) against a straightforward
 * reference written here from the rules of docs/core.md: every remembered id in one map scanned on
 * every event, every spend in one list summed over the window, a new positions map per event.
 */

const T0 = Date.UTC(2026, 0, 1);
const Z = Decimal.zero(USD_SCALE);

interface RefSpend {
  id: string;
  t: number;
  amount: Decimal;
}

/** The reference user: the rules, with no care for cost. */
class Reference {
  recent = new Map<string, number>();
  positions = new Map<string, Position>();
  spends: RefSpend[] = [];
  tier = DEFAULT_TIERS[0]!.name;
  /** Latest event time the window has been evaluated at. */
  clock = Number.NEGATIVE_INFINITY;
  month = '';
  owed = Z;

  private windowSum(at: number): Decimal {
    let s = Z;
    for (const x of this.spends) if (x.t + WINDOW_MS > at) s = s.add(x.amount);
    return s;
  }

  /** Re-evaluate the tier at every instant a spend left the window in (clock, t]. */
  private expireTo(t: number, out: string[]): void {
    const instants = [...new Set(this.spends.map((x) => x.t + WINDOW_MS))]
      .filter((x) => x > this.clock && x <= t)
      .sort((a, b) => a - b);
    for (const at of instants) this.retier(at, out);
    if (t > this.clock) this.clock = t;
  }

  private retier(at: number, out: string[]): void {
    const spend30d = this.windowSum(at);
    const name = tierFor(DEFAULT_TIERS, spend30d).name;
    if (name !== this.tier) out.push(`${at}:${this.tier}>${name}:${spend30d.toString()}`);
    this.tier = name;
  }

  apply(e: UserEvent): { outcome: string; changes: string[]; cashback?: string; capped?: string } {
    if (this.recent.has(e.eventId)) return { outcome: 'duplicate', changes: [] };
    this.recent = new Map(this.recent);
    this.recent.set(e.eventId, e.eventTime);
    for (const [id, t] of this.recent) if (t < e.eventTime - DEDUP_WINDOW_MS) this.recent.delete(id);
    const changes: string[] = [];
    let spend = Z;
    if (touchesPosition(e)) {
      const r = applyEvent(this.positions.get(e.asset) ?? emptyPosition(e.userId, e.asset), e);
      if (!r.ok) return { outcome: 'rejected', changes };
      this.positions = new Map(this.positions);
      this.positions.set(e.asset, r.position);
      spend = r.effect.spendUsd;
    } else if (e.kind === 'transaction') spend = notional(e.quantity, e.price);
    this.expireTo(e.eventTime, changes);
    if (e.kind !== 'transaction' || e.type !== 'card_spend') return { outcome: 'applied', changes };
    this.spends.push({ id: e.eventId, t: e.eventTime, amount: spend });
    this.retier(e.eventTime, changes);
    const tier = tierFor(DEFAULT_TIERS, this.windowSum(e.eventTime));
    const m = monthOf(e.eventTime);
    const before = m === this.month ? this.owed : Z;
    const full = spend.mul(tier.rate, USD_SCALE);
    const cashback = Decimal.min(full, Decimal.max(tier.monthlyCap.sub(before), Z));
    this.month = m;
    this.owed = before.add(cashback);
    return { outcome: 'applied', changes, cashback: cashback.toString(), capped: full.sub(cashback).toString() };
  }

  spend30d(): Decimal {
    return this.windowSum(this.clock);
  }
}

/** Random events of one user: buys/sells/stakes in two assets, card spends, rewards, resent ids. */
const eventsArb = fc
  .array(
    fc.record({
      step: fc.oneof(
        fc.constant(0),
        fc.integer({ min: 1, max: 3_600_000 }),
        fc.integer({ min: 1, max: 3 }).map((d) => d * DAY_MS - 1),
        fc.constant(DEDUP_WINDOW_MS),
        // Exactly the tier window after the previous event: the spend leaves at this very instant.
        fc.constant(WINDOW_MS),
        fc.constant(WINDOW_MS - 1),
        fc.integer({ min: 5, max: 20 }).map((d) => d * DAY_MS),
      ),
      kind: fc.constantFrom('buy', 'buy', 'sell', 'stake', 'card_spend', 'card_spend', 'usd_spend', 'reward'),
      asset: fc.constantFrom('BTC', 'ETH'),
      qty: fc.bigInt(1n, 5n * 10n ** 18n),
      price: fc.bigInt(10n ** 12n, 30_000n * 10n ** 12n),
      resend: fc.integer({ min: 0, max: 9 }),
    }),
    { minLength: 1, maxLength: 120 },
  )
  .map((rows) => {
    let t = T0;
    const out: UserEvent[] = [];
    rows.forEach((r, i) => {
      t += r.step;
      // Re-send an earlier event now and then (same id and time), or re-use an old id at a new time.
      if (r.resend === 0 && out.length > 0) {
        out.push(out[Math.floor(out.length / 2)]!);
        return;
      }
      const eventId = r.resend === 1 && out.length > 0 ? out[0]!.eventId : `e-${String(i).padStart(4, '0')}`;
      const quantity = Decimal.fromUnits(r.qty, QTY_SCALE);
      const price = Decimal.fromUnits(r.price, PRICE_SCALE);
      if (r.kind === 'reward') {
        const e: RewardEvent = {
          kind: 'reward',
          eventId,
          userId: 'u1',
          rewardType: r.qty % 2n === 0n ? 'cashback' : 'staking',
          asset: r.asset,
          quantity,
          price,
          eventTime: t,
        };
        out.push(e);
        return;
      }
      const usd = r.kind === 'usd_spend';
      const e: TransactionEvent = {
        kind: 'transaction',
        eventId,
        userId: 'u1',
        type: usd ? 'card_spend' : (r.kind as TransactionEvent['type']),
        asset: usd ? 'USD' : r.asset,
        quantity: usd ? Decimal.fromUnits(r.qty / 10n ** 14n + 1n, QTY_SCALE) : quantity,
        price: usd ? Decimal.parse('1', PRICE_SCALE) : price,
        fee: Decimal.zero(USD_SCALE),
        feeAsset: 'USD',
        eventTime: t,
      };
      out.push(e);
    });
    return out;
  });

const book = (m: ReadonlyMap<string, Position>) =>
  [...m.values()].sort((a, b) => (a.asset < b.asset ? -1 : 1)).map((p) => JSON.stringify(p));

/** The open lots of a state as the rows a store keeps apart (fact_lot_daily), in reverse order. */
const lotRows = (s: UserState): Map<string, LotRow[]> =>
  new Map(
    [...s.lots].map(([asset, q]) => [
      asset,
      q
        .open()
        .map((l) => ({
          lotId: l.lotId,
          acquiredAt: l.acquiredAt,
          seq: l.seq,
          q0: l.originalQuantity.units,
          c0: l.originalCost.units,
          q: l.quantity.units,
          c: l.cost.units,
        }))
        .reverse(),
    ]),
  );

/** Through the JSON with its lots apart, as the warehouse snapshot stores it. */
const reloadApart = (s: UserState): UserState => {
  const rows = lotRows(s);
  return userFromJson(JSON.parse(JSON.stringify(userToJson(s, true))), s.costMethod, (a) => rows.get(a));
};

/** The window parts of a state as a store reads them back (per kind, in part order). */
const partsOf = (s: UserState, size?: number): WindowPartsIn => {
  const parts = [...windowParts(s, size)];
  return {
    recent: parts.filter((p) => p.kind === 'recent').map((p) => p.entries),
    spends: parts.filter((p) => p.kind === 'spends').map((p) => p.entries),
  };
};

/** Through the JSON with its lots and windows apart (a heavy user's warehouse snapshot), in parts of `size`. */
const reloadWindowApart = (s: UserState, size = 2): UserState => {
  const rows = lotRows(s);
  return userFromJson(
    JSON.parse(JSON.stringify(userToJson(s, true, true))),
    s.costMethod,
    (a) => rows.get(a),
    partsOf(s, size),
  );
};

/** As the warehouse snapshot stores it ('large': ids inline in columns, or apart in parts past WINDOW_PART). */
const reloadLarge = (s: UserState): UserState => {
  const rows = lotRows(s);
  const json = userToJson(s, true, 'large');
  return userFromJson(
    JSON.parse(JSON.stringify(json)),
    s.costMethod,
    (a) => rows.get(a),
    json.windowApart === undefined ? undefined : partsOf(s),
  );
};

/** A stored-and-reloaded copy, through one of the five codecs. */
const reload = (s: UserState, how: number): UserState =>
  how === 1
    ? userFromJson(JSON.parse(JSON.stringify(userToJson(s))))
    : how === 3
      ? reloadApart(s)
      : how === 4
        ? reloadWindowApart(s)
        : how === 5
          ? reloadLarge(s)
          : userFromParts(structuredClone(userToParts(s)));

const compare = (events: readonly UserEvent[], reloads: readonly number[], checkTiers: boolean) => {
  const ref = new Reference();
  let s = emptyUser('u1');
  events.forEach((e, i) => {
    const how = reloads[i % reloads.length]!;
    if (how > 0) s = reload(s, how);
    const want = ref.apply(e);
    const got = applyUserEvent(s, e, undefined);
    expect(got.outcome.kind, `event ${i} ${e.eventId}`).toBe(want.outcome);
    expect(book(s.positions)).toEqual(book(ref.positions));
    // The live ids equal the reference's remembered ids.
    expect(new Map(s.recent.entries())).toEqual(ref.recent);
    // The list a whole-state write takes, and the count, are the same ids once each.
    expect(s.recent.list()).toEqual([...s.recent.entries()]);
    expect(s.recent.size).toBe(ref.recent.size);
    const cut = Math.floor(ref.recent.size / 2);
    expect(s.recent.list(cut)).toEqual(ref.recent.size > cut ? undefined : [...s.recent.entries()]);
    if (!checkTiers) return;
    expect(got.tierChanges.map((c) => `${c.at}:${c.from}>${c.to}:${c.spend30d.toString()}`)).toEqual(want.changes);
    if (want.outcome !== 'applied') return;
    expect(s.tier.tier).toBe(ref.tier);
    expect(s.tier.spend30d.toString()).toBe(ref.spend30d().toString());
    expect(s.tier.owedThisMonth.toString()).toBe(ref.owed.toString());
    if (want.cashback !== undefined) {
      expect(got.day!.cashbackOwed.toString()).toBe(want.cashback);
      expect(got.day!.cashbackCapped.toString()).toBe(want.capped);
    }
  });
};

describe('a state stored with its open lots apart (the warehouse snapshot)', () => {
  const states = fc.tuple(eventsArb, fc.constantFrom(...COST_METHODS)).map(([evs, method]) => {
    const s = emptyUser('u1', DEFAULT_TIERS, method);
    for (const e of [...evs].sort(compareEvents)) applyUserEvent(s, e, undefined);
    return s;
  });

  it('reloads to the same state from the JSON plus the lot rows, and inlines back to the whole JSON', () => {
    fc.assert(
      fc.property(states, (s) => {
        const apart = userToJson(s, true);
        expect(apart.lots).toBeUndefined();
        expect(JSON.stringify(userToJson(reloadApart(s)))).toBe(JSON.stringify(userToJson(s)));
        const open = new Map([...s.lots].map(([a, q]) => [a, q.open().reverse()]));
        expect(JSON.stringify(inlineLots(apart, (a) => open.get(a)))).toBe(JSON.stringify(userToJson(s)));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses lot rows that do not match the stored count', () => {
    const s = emptyUser('u1', DEFAULT_TIERS, 'fifo');
    for (const [i, q] of ['1', '2'].entries())
      applyUserEvent(
        s,
        {
          kind: 'transaction',
          eventId: `b${i}`,
          userId: 'u1',
          type: 'buy',
          asset: 'BTC',
          quantity: Decimal.parse(q, QTY_SCALE),
          price: Decimal.parse('100', PRICE_SCALE),
          fee: Decimal.zero(USD_SCALE),
          feeAsset: 'USD',
          eventTime: T0 + i,
        },
        undefined,
      );
    const json = userToJson(s, true);
    expect(json.lotsApart).toEqual({ BTC: { method: 'fifo', nextSeq: 2, open: 2 } });
    const one = lotRows(s).get('BTC')!.slice(1);
    expect(() => userFromJson(json, 'fifo', () => one)).toThrow(/names 2 open BTC lot\(s\), 1 lot row\(s\) were read/);
    expect(() => userFromJson(json, 'fifo')).toThrow(/names 2 open BTC lot/);
    expect(() => inlineLots(json, () => [])).toThrow(/names 2 open BTC lot/);
  });
});

describe('a state stored with its windows apart (a heavy user in the warehouse snapshot)', () => {
  const states = fc.tuple(eventsArb, fc.constantFrom(...COST_METHODS)).map(([evs, method]) => {
    const s = emptyUser('u1', DEFAULT_TIERS, method);
    for (const e of [...evs].sort(compareEvents)) applyUserEvent(s, e, undefined);
    return s;
  });
  const whole = (s: UserState) => JSON.parse(JSON.stringify(userToJson(s)));

  it('reloads to the same state from the JSON plus its parts (any part size), and inlines back to the whole JSON', () => {
    fc.assert(
      fc.property(states, fc.integer({ min: 1, max: 7 }), (s, size) => {
        const json = JSON.parse(JSON.stringify(userToJson(s, true, true)));
        expect(json.recent).toEqual([]);
        expect(json.tier.spends).toEqual([]);
        expect(json.windowApart).toEqual({
          frontier: s.recent.latest,
          recent: [...s.recent.entries()].length,
          spends: s.tier.size,
        });
        const back = reloadWindowApart(s, size);
        expect(whole(back)).toEqual(whole(s));
        const open = new Map([...s.lots].map(([a, q]) => [a, q.open()]));
        expect(inlineLots(inlineWindow(json, partsOf(s, size)), (a) => open.get(a))).toEqual(whole(s));
      }),
      { numRuns: 200 },
    );
  });

  it("'large' keeps a state of at most WINDOW_PART ids and spends inline and puts a heavy user's apart", () => {
    const s = emptyUser('u1');
    const spend = (i: number, t: number): TransactionEvent => ({
      kind: 'transaction',
      eventId: `s${i}`,
      userId: 'u1',
      type: 'card_spend',
      asset: 'USD',
      quantity: Decimal.parse('2', QTY_SCALE),
      price: Decimal.parse('1', PRICE_SCALE),
      fee: Decimal.zero(USD_SCALE),
      feeAsset: 'USD',
      eventTime: t,
    });
    // 512 spends: 512 ids + 512 spends = WINDOW_PART entries, still inline.
    let i = 0;
    for (; i < WINDOW_PART / 2; i++) applyUserEvent(s, spend(i, T0 + i), undefined);
    expect(userToJson(s, true, 'large').windowApart).toBeUndefined();
    // Inline, the ids are columns: one string of ids joined by spaces and their times.
    expect(userToJson(s, true, 'large').recent).toEqual([]);
    expect(userToJson(s, true, 'large').recentIds?.t).toHaveLength(WINDOW_PART / 2);
    expect(userToJson(s, true, 'large').recentIds?.ids.split(' ')).toEqual([...s.recent.entries()].map(([id]) => id));
    expect(whole(reloadLarge(s))).toEqual(whole(s));
    // A heavy day: thousands more over three days (the first day's ids leave the dedup window,
    // its spends stay in the 30-day one), then one straggler far behind the frontier.
    for (; i < 6000; i++) applyUserEvent(s, spend(i, T0 + Math.floor((i * 3 * DAY_MS) / 6000)), undefined);
    applyUserEvent(s, spend(99_999, T0 + 10), undefined);
    const json = userToJson(s, true, 'large');
    expect(json.windowApart?.spends).toBe(6001);
    expect(json.windowApart?.recent).toBe([...s.recent.entries()].length);
    expect(json.recent).toEqual([]);
    const parts = [...windowParts(s)];
    // A recent part is its ids joined by spaces and their times; a spends part a JSON array of rows.
    const sizeOf = (p: { kind: string; entries: string }) =>
      p.kind === 'recent'
        ? (JSON.parse(p.entries) as { ids: string; t: number[] }).t.length
        : (JSON.parse(p.entries) as unknown[]).length;
    expect(parts.every((p) => sizeOf(p) > 0 && sizeOf(p) <= WINDOW_PART)).toBe(true);
    const recentParts = parts.filter((p) => p.kind === 'recent');
    expect(
      recentParts
        .map((p) => JSON.parse(p.entries) as { ids: string; t: number[] })
        .flatMap((p) => p.ids.split(' ').map((id, i) => [id, p.t[i]])),
    ).toEqual([...s.recent.entries()]);
    // Parts written before in pairs ([eventId, eventTime] per entry) read back to the same state.
    const pairs = [...s.recent.entries()];
    const oldRecent = Array.from({ length: Math.ceil(pairs.length / WINDOW_PART) }, (_, k) =>
      JSON.stringify(pairs.slice(k * WINDOW_PART, (k + 1) * WINDOW_PART)),
    );
    const spendsParts = parts.filter((p) => p.kind === 'spends').map((p) => p.entries);
    const rowsOf = lotRows(s);
    const fromOld = userFromJson(JSON.parse(JSON.stringify(json)), s.costMethod, (a) => rowsOf.get(a), {
      recent: oldRecent,
      spends: spendsParts,
    });
    expect(whole(fromOld)).toEqual(whole(s));
    expect(inlineWindow(json, { recent: oldRecent, spends: spendsParts })).toEqual(
      inlineWindow(json, { recent: recentParts.map((p) => p.entries), spends: spendsParts }),
    );
    expect(JSON.stringify(json).length).toBeLessThan(2000);
    // Reloaded from the parts, the next events meet the same windows: a replayed id is a duplicate,
    // the straggler is remembered, and the tier and 30-day spend move on identically.
    const back = reloadWindowApart(s, WINDOW_PART);
    const next = [spend(5999, T0 + 3 * DAY_MS - 1), spend(99_999, T0 + 10), spend(7000, T0 + 40 * DAY_MS)];
    for (const e of next) {
      const a = applyUserEvent(s, e, undefined);
      const b = applyUserEvent(back, e, undefined);
      expect(b.outcome.kind).toBe(a.outcome.kind);
    }
    expect(whole(back)).toEqual(whole(s));
  });

  it('refuses parts that do not match the stored counts', () => {
    const s = emptyUser('u1');
    for (let i = 0; i < 3; i++)
      applyUserEvent(
        s,
        {
          kind: 'reward',
          eventId: `r${i}`,
          userId: 'u1',
          rewardType: 'staking',
          asset: 'BTC',
          quantity: Decimal.parse('1', QTY_SCALE),
          price: Decimal.parse('100', PRICE_SCALE),
          eventTime: T0 + i,
        },
        undefined,
      );
    const json = userToJson(s, false, true);
    const parts = partsOf(s, 2);
    const short = { recent: [...parts.recent].slice(1), spends: parts.spends };
    expect(() => userFromJson(json, s.costMethod, undefined, short)).toThrow(/names 3 window event ids, 1 were read/);
    expect(() => userFromJson(json)).toThrow(/names 3 window event ids, 0 were read/);
    expect(() => inlineWindow(json, short)).toThrow(/names 3 window event ids/);
    // A part whose ids and times do not pair up is refused, not read short.
    const torn = { recent: ['{"ids":"r0 r1","t":[1]}', '{"ids":"r2","t":[3]}'], spends: parts.spends };
    expect(() => userFromJson(json, s.costMethod, undefined, torn)).toThrow(/lists 2 event ids and 1 times/);
    expect(() => inlineWindow(json, torn)).toThrow(/lists 2 event ids and 1 times/);
  });
});

describe('constant-cost user state equals the straightforward reference', () => {
  it('on random sequences in event-time order, reloaded from either codec at random points', () => {
    fc.assert(
      fc.property(eventsArb, fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 7 }), (evs, rl) => {
        compare(
          [...evs].sort(compareEvents),
          rl.map((x) => (x > 5 ? 0 : x)),
          true,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('remembers ids exactly as the reference when events arrive out of order (very late stragglers)', () => {
    fc.assert(
      fc.property(
        eventsArb.chain((evs) => fc.shuffledSubarray(evs, { minLength: evs.length, maxLength: evs.length })),
        fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 7 }),
        (evs, rl) =>
          compare(
            evs,
            rl.map((x) => (x > 5 ? 0 : x)),
            false,
          ),
      ),
      { numRuns: 300 },
    );
  });
});

describe('what changed since the last checkpoint', () => {
  const buy = (id: string, t: number, asset = 'BTC'): TransactionEvent => ({
    kind: 'transaction',
    eventId: id,
    userId: 'u1',
    type: 'buy',
    asset,
    quantity: Decimal.parse('1', QTY_SCALE),
    price: Decimal.parse('100', PRICE_SCALE),
    fee: Decimal.zero(USD_SCALE),
    feeAsset: 'USD',
    eventTime: t,
  });
  const spend = (id: string, t: number): TransactionEvent => ({
    ...buy(id, t),
    type: 'card_spend',
    asset: 'USD',
    price: Decimal.parse('1', PRICE_SCALE),
    quantity: Decimal.parse('50', QTY_SCALE),
  });

  it('names the assets, day buckets, spends and heads touched, and the buckets dropped', () => {
    const s = emptyUser('u1');
    applyUserEvent(s, buy('a', T0), undefined);
    applyUserEvent(s, spend('b', T0 + 1000), undefined);
    const c = userChanges(s);
    expect([...c.assets]).toEqual(['BTC']);
    expect([...c.dedupDays]).toEqual([dayOf(T0)]);
    expect([...c.spends.keys()]).toEqual([`${dayOf(T0)}|b`]);
    expect(c.tierHead && c.dedupHead).toBe(true);
    clearUserChanges(s);
    expect(userChanges(s).assets.size + userChanges(s).dedupDays.size + userChanges(s).spends.size).toBe(0);

    // 31 days later: the spend and the old id buckets leave; only the new day is written.
    applyUserEvent(s, buy('c', T0 + 31 * DAY_MS, 'ETH'), undefined);
    const d = userChanges(s);
    expect([...d.assets]).toEqual(['ETH']);
    expect([...d.dedupDays]).toEqual([dayOf(T0 + 31 * DAY_MS)]);
    expect([...d.dedupDaysDropped]).toEqual([dayOf(T0)]);
    // The spend left the window: touched, and no longer in it (a store deletes its field).
    expect([...d.spends.keys()]).toEqual([`${dayOf(T0)}|b`]);
    expect(s.tier.find({ eventId: 'b', eventTime: T0 + 1000 })).toBeUndefined();
    expect(s.tier.spend30d.isZero()).toBe(true);
    expect(userToParts(s).spendDays).toEqual([]);
    expect(userToParts(s).dedupDays.map(([k]) => k)).toEqual([dayOf(T0 + 31 * DAY_MS)]);
  });

  it('a reload from parts carries on exactly like the live state', () => {
    const s = emptyUser('u1');
    for (let i = 0; i < 50; i++) applyUserEvent(s, spend(`s${i}`, T0 + i * 6 * 3600_000), undefined);
    const r = userFromParts(userToParts(s));
    expect(userToJson(r)).toEqual(userToJson(s));
    const next = spend('late', T0 + 40 * DAY_MS);
    const a = applyUserEvent(s, next, undefined);
    const b = applyUserEvent(r, next, undefined);
    expect(b.tierChanges).toEqual(a.tierChanges);
    expect(userToJson(r)).toEqual(userToJson(s));
  });
});
