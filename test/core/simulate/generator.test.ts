import { describe, expect, it } from 'vitest';
import type { PriceEvent, RewardEvent, TransactionEvent, UserEvent } from '../../../src/core/events/types.js';
import { USD } from '../../../src/core/events/types.js';
import {
  assetOf,
  EVENT_ID_RE,
  USER_ID_RE,
  validateReward,
  validateTransaction,
} from '../../../src/core/events/validate.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../../../src/core/money/decimal.js';
import { applyAll, compareEvents, notional, type Position } from '../../../src/core/portfolio/position.js';
import { DEFAULT_TIERS, initialTierState, recordSpend } from '../../../src/core/rewards/tiers.js';
import {
  cashbackQuantity,
  DAY_MS,
  DEFAULT_APR,
  DEFAULT_STAKING_APR,
  dailyStakingReward,
  orderPrices,
  RATE_SCALE,
  type SimulateOptions,
  Simulator,
  simEventId,
  simulate,
  userId,
} from '../../../src/core/simulate/generator.js';
import { Prng } from '../../../src/core/simulate/prng.js';
import { syntheticPrices, T0 } from './prices.js';

const rate = (s: string) => Decimal.parse(s, RATE_SCALE);
const HOURS = 50;
const PRICES = syntheticPrices({ hours: HOURS });
const OPTS: SimulateOptions = { seed: 7, users: 40, rate: rate('0.02'), signupSpanMs: HOURS * 3_600_000 };
const RUN = simulate(PRICES, OPTS);
const txs = RUN.events.filter((e): e is TransactionEvent => e.kind === 'transaction');
const rewards = RUN.events.filter((e): e is RewardEvent => e.kind === 'reward');

/** The events as they travel: Decimals become their canonical strings. */
const wire = (events: readonly UserEvent[]) => JSON.stringify(events);

const shuffled = <T>(xs: readonly T[], seed: number): T[] => {
  const r = new Prng(seed);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

/** Latest tick of `asset` at or before t, (eventTime, eventId) order. */
const priceAt = (ordered: readonly PriceEvent[], asset: string, t: number): Decimal | undefined => {
  let last: Decimal | undefined;
  for (const p of ordered) {
    if (p.eventTime > t) break;
    if (assetOf(p.symbol) === asset) last = p.price;
  }
  return last;
};

describe('simulate: determinism', () => {
  it('gives byte-identical events for the same seed and tape, whatever the arrival order', () => {
    expect(RUN.events.length).toBeGreaterThan(500);
    expect(wire(simulate(PRICES, OPTS).events)).toBe(wire(RUN.events));
    expect(wire(simulate(shuffled(PRICES, 1), OPTS).events)).toBe(wire(RUN.events));
    // Duplicated ticks (at-least-once delivery) change nothing either.
    expect(wire(simulate([...PRICES, ...shuffled(PRICES, 2).slice(0, 500)], OPTS).events)).toBe(wire(RUN.events));
  });

  it('depends on the seed', () => {
    expect(wire(simulate(PRICES, { ...OPTS, seed: 8 }).events)).not.toBe(wire(RUN.events));
  });

  it('feeding ticks one by one (the live path) gives the same stream as the bounded run', () => {
    const sim = new Simulator(OPTS);
    const out: UserEvent[] = [];
    for (const p of orderPrices(PRICES)) out.push(...sim.advance(p));
    out.push(...sim.finish());
    expect(wire(out)).toBe(wire(RUN.events));
    expect(sim.stats()).toEqual(RUN.stats);
  });
});

describe('simulate: shape', () => {
  it('emits valid events with sim-<seed>-<seq> ids, in (eventTime, eventId) order', () => {
    RUN.events.forEach((e, i) => {
      expect(e.eventId).toBe(simEventId(7, i + 1));
      expect(e.eventId).toMatch(EVENT_ID_RE);
      expect(e.userId).toMatch(USER_ID_RE);
      expect(e.userId).toMatch(/^u\d{6}$/);
      const raw = JSON.parse(JSON.stringify(e));
      const v = e.kind === 'transaction' ? validateTransaction(raw) : validateReward(raw);
      expect(v).toEqual({ ok: true, event: expect.anything() });
      if (i > 0) expect(compareEvents(RUN.events[i - 1]!, e)).toBeLessThan(0);
    });
    expect(simEventId(3, 12)).toBe('sim-3-000000000012');
    expect(userId(7)).toBe('u000007');
  });

  it('uses every transaction type and both reward types, and counts them', () => {
    const s = RUN.stats;
    for (const t of ['buy', 'sell', 'deposit', 'withdrawal', 'stake', 'unstake', 'card_spend'] as const) {
      expect(s.byType[t], t).toBe(txs.filter((e) => e.type === t).length);
      expect(s.byType[t], t).toBeGreaterThan(0);
    }
    expect(s.byType.cashback).toBe(rewards.filter((e) => e.rewardType === 'cashback').length);
    expect(s.byType.staking).toBe(rewards.filter((e) => e.rewardType === 'staking').length);
    expect(s.byType.cashback).toBeGreaterThan(0);
    expect(s.byType.staking).toBeGreaterThan(0);
    expect(s.transactions).toBe(txs.length);
    expect(s.rewards).toBe(rewards.length);
    expect(s.refused).toBe(0);
    expect(s.firstEventTime).toBe(RUN.events[0]!.eventTime);
    expect(s.lastEventTime).toBe(RUN.events.at(-1)!.eventTime);
    expect(s.activeUsers).toBe(new Set(RUN.events.map((e) => e.userId)).size);
    expect(s.stoppedBy).toBe('prices');
    // Both kinds of fee appear: USD on buys and sells, base-asset on some buys, sells, withdrawals.
    expect(txs.some((e) => e.type === 'buy' && e.feeAsset === USD && e.fee.isPositive())).toBe(true);
    expect(txs.some((e) => e.type === 'buy' && e.feeAsset === e.asset && e.fee.isPositive())).toBe(true);
    expect(txs.every((e) => e.type !== 'withdrawal' || e.feeAsset === e.asset)).toBe(true);
    expect(txs.some((e) => e.type === 'card_spend' && e.asset === USD)).toBe(true);
    expect(txs.some((e) => e.type === 'card_spend' && e.asset !== USD)).toBe(true);
  });

  it('charges 0.1 % of notional as the USD fee on buys and sells', () => {
    for (const e of txs.filter((x) => (x.type === 'buy' || x.type === 'sell') && x.feeAsset === USD)) {
      expect(e.fee.eq(notional(e.quantity, e.price).mul(Decimal.parse('0.001', 6), USD_SCALE))).toBe(true);
    }
  });

  it('keeps every amount at its storage scale', () => {
    for (const e of txs) {
      expect(e.quantity.scale).toBe(QTY_SCALE);
      expect(e.price.scale).toBe(PRICE_SCALE);
      expect(e.fee.scale).toBe(e.feeAsset === USD ? USD_SCALE : QTY_SCALE);
    }
    for (const e of rewards) {
      expect(e.quantity.scale).toBe(QTY_SCALE);
      expect(e.price.scale).toBe(PRICE_SCALE);
    }
  });

  it('makes a few users very active (Zipf-like) and spreads signups over time', () => {
    const per = new Map<string, number>();
    const first = new Map<string, number>();
    for (const e of txs) {
      per.set(e.userId, (per.get(e.userId) ?? 0) + 1);
      if (!first.has(e.userId)) first.set(e.userId, e.eventTime);
    }
    const counts = [...per.values()].sort((a, b) => b - a);
    const median = counts[Math.floor(counts.length / 2)]!;
    expect(counts[0]!).toBeGreaterThan(5 * median);
    // The top 10 % of users do over a third of the activity.
    const top = counts.slice(0, Math.ceil(OPTS.users / 10)).reduce((a, b) => a + b, 0);
    expect(top / txs.length).toBeGreaterThan(1 / 3);
    // Late signups: some users' first event comes well after the start.
    const late = [...first.values()].filter((t) => t > T0 + 6 * 3_600_000);
    expect(late.length).toBeGreaterThan(0);
  });
});

describe('simulate: prices come from the tape', () => {
  it('prices every transaction and reward at the latest tick of its asset at its event time', () => {
    const ordered = orderPrices(PRICES);
    for (const e of RUN.events) {
      if (e.asset === USD) {
        expect(e.price.eq(Decimal.parse('1', PRICE_SCALE))).toBe(true);
        continue;
      }
      expect(e.price.eq(priceAt(ordered, e.asset, e.eventTime)!), e.eventId).toBe(true);
    }
  });

  it('stays within the tape: nothing before the first tick or after the last', () => {
    const ordered = orderPrices(PRICES);
    expect(RUN.events[0]!.eventTime).toBeGreaterThanOrEqual(ordered[0]!.eventTime);
    expect(RUN.events.at(-1)!.eventTime).toBeLessThanOrEqual(ordered.at(-1)!.eventTime);
  });

  it('keeps the same copy of a re-published tick whatever the arrival order', () => {
    const a = PRICES[10]!;
    const b: PriceEvent = { ...a, price: a.price.add(Decimal.parse('1', PRICE_SCALE)) };
    expect(orderPrices([a, b])).toEqual(orderPrices([b, a]));
    expect(orderPrices([a, b])).toHaveLength(1);
  });

  it('ignores symbols not quoted in USDT', () => {
    const odd: PriceEvent = { ...PRICES[0]!, eventId: 'x:ETHBTC:1', symbol: 'ETHBTC' };
    const r = simulate([odd, ...PRICES], OPTS);
    expect(wire(r.events)).toBe(wire(RUN.events));
    expect(r.stats.pricesIgnored).toBe(1);
  });
});

describe('simulate: accounting', () => {
  it('never sells, spends, withdraws or unstakes beyond holdings: applyAll has zero rejects', () => {
    const { book, rejected } = applyAll(new Map(), RUN.events);
    expect(rejected).toEqual([]);
    for (const p of book.values()) {
      expect(p.quantity.isNegative()).toBe(false);
      expect(p.staked.lte(p.quantity)).toBe(true);
    }
  });

  it('credits cashback for every card spend at the tier recordSpend gives', () => {
    const byRef = new Map(rewards.filter((r) => r.rewardType === 'cashback').map((r) => [r.refEventId!, r]));
    const tiers = new Map<string, ReturnType<typeof initialTierState>>();
    const seenTiers = new Set<string>();
    let checked = 0;
    for (const e of txs.filter((x) => x.type === 'card_spend')) {
      const amount = e.asset === USD ? e.quantity.rescale(USD_SCALE) : notional(e.quantity, e.price);
      const r = recordSpend(tiers.get(e.userId) ?? initialTierState(), {
        eventId: e.eventId,
        eventTime: e.eventTime,
        amount,
      });
      tiers.set(e.userId, r.state);
      seenTiers.add(r.tier.name);
      const reward = byRef.get(e.eventId);
      if (r.cashback.isZero()) {
        expect(reward).toBeUndefined();
        continue;
      }
      const asset = e.asset === USD ? 'BTC' : e.asset;
      expect(reward, e.eventId).toMatchObject({ userId: e.userId, asset, eventTime: e.eventTime });
      expect(reward!.quantity.eq(cashbackQuantity(r.cashback, reward!.price))).toBe(true);
      expect(reward!.quantity.isPositive()).toBe(true);
      checked++;
    }
    expect(checked).toBe(byRef.size);
    expect(checked).toBeGreaterThan(20);
    // The heavy users climb: more than the entry tier is exercised.
    expect(seenTiers.size).toBeGreaterThan(1);
    const tierTotal = Object.values(RUN.stats.spendsByTier).reduce((a, b) => a + b, 0);
    expect(tierTotal).toBe(RUN.stats.byType.card_spend);
    expect(Object.keys(RUN.stats.spendsByTier)).toEqual(DEFAULT_TIERS.map((t) => t.name));
  });

  it('pays staking rewards at each UTC midnight for every staked position, staked x APR / 365', () => {
    const staking = rewards.filter((r) => r.rewardType === 'staking');
    const midnights = [...new Set(staking.map((r) => r.eventTime))];
    // 50 hours from 20:00 UTC cross exactly two midnights.
    expect(midnights).toEqual([Date.UTC(2024, 2, 10), Date.UTC(2024, 2, 11)]);
    for (const m of midnights) {
      // The book just before midnight's rewards (every event earlier in the stream).
      const firstAtM = RUN.events.findIndex((e) => e.eventTime >= m);
      const { book } = applyAll(new Map(), RUN.events.slice(0, firstAtM));
      const expected = [...book.values()]
        .filter((p: Position) => p.staked.isPositive())
        .map((p) => ({
          userId: p.userId,
          asset: p.asset,
          quantity: dailyStakingReward(p.staked, DEFAULT_STAKING_APR[p.asset] ?? DEFAULT_APR).toString(),
        }))
        .sort((a, b) => (a.userId + a.asset < b.userId + b.asset ? -1 : 1));
      const got = staking
        .filter((r) => r.eventTime === m)
        .map((r) => ({ userId: r.userId, asset: r.asset, quantity: r.quantity.toString() }));
      expect(got).toEqual(expected);
      expect(got.length).toBeGreaterThan(0);
    }
  });

  it('rounds the daily staking reward once, HALF-EVEN at QTY_SCALE', () => {
    // 1 x 0.05 / 365 = 0.000136986301369863013... -> ...863014 (digit after the 18th is 0: down)
    expect(dailyStakingReward(Decimal.parse('1', QTY_SCALE), Decimal.parse('0.05', QTY_SCALE)).toString()).toBe(
      '0.000136986301369863',
    );
    // 0.73 x 0.05 / 365 = 0.0001 exactly
    expect(dailyStakingReward(Decimal.parse('0.73', QTY_SCALE), Decimal.parse('0.05', QTY_SCALE)).toString()).toBe(
      '0.000100000000000000',
    );
  });
});

describe('simulate: stopping', () => {
  it('stops after --count user transactions (rewards not counted)', () => {
    const r = simulate(PRICES, { ...OPTS, count: 100 });
    expect(r.stats.transactions).toBe(100);
    expect(r.stats.stoppedBy).toBe('count');
    expect(r.events.filter((e) => e.kind === 'transaction')).toHaveLength(100);
    // A prefix of the unbounded run: the count only cuts the stream.
    expect(wire(r.events)).toBe(wire(RUN.events.slice(0, r.events.length)));
  });

  it('stops at first tick + --duration of event time', () => {
    const first = orderPrices(PRICES)[0]!.eventTime;
    const r = simulate(PRICES, { ...OPTS, durationMs: DAY_MS });
    expect(r.stats.stoppedBy).toBe('duration');
    expect(r.events.at(-1)!.eventTime).toBeLessThan(first + DAY_MS);
    expect(wire(r.events)).toBe(wire(RUN.events.filter((e) => e.eventTime < first + DAY_MS)));
  });

  it('emits at about --rate transactions per second of event time', () => {
    const spanS = (RUN.stats.lastEventTime! - RUN.stats.firstEventTime!) / 1000;
    expect(Math.abs(txs.length / spanS - 0.02)).toBeLessThan(0.002);
  });

  it('generates nothing without prices and rejects bad options', () => {
    expect(simulate([], OPTS).events).toEqual([]);
    expect(() => new Simulator({ ...OPTS, users: 0 })).toThrow(/users/);
    expect(() => new Simulator({ ...OPTS, rate: rate('0') })).toThrow(/rate/);
  });
});
