import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PriceEvent, RewardEvent, TransactionEvent, UserEvent } from '../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../../src/core/money/decimal.js';
import { buildCandles, INTERVALS_MS, mergeCandles } from '../../src/core/ohlcv/candle.js';
import { applyAll, bookKey, netInvested, valueAt } from '../../src/core/portfolio/position.js';
import {
  initialTierState,
  recordSpend,
  type Spend,
  type TierState,
  tierAt,
  WINDOW_MS,
} from '../../src/core/rewards/tiers.js';
import { DAY, T0 } from './build.js';

/**
 * Properties of the core, each checked against an implementation written here from the definitions
 * (own bigint rounding, own holdings and cash-flow ledger), never against the core itself.
 */

const E18 = 10n ** 18n;
const E12 = 10n ** 12n;

/** HALF-EVEN division, written independently of src/core/money. */
const roundHalfEven = (num: bigint, den: bigint): bigint => {
  const neg = num < 0n !== den < 0n;
  const n = num < 0n ? -num : num;
  const d = den < 0n ? -den : den;
  let q = n / d;
  const twice = (n % d) * 2n;
  if (twice > d || (twice === d && q % 2n === 1n)) q += 1n;
  return neg ? -q : q;
};
/** quantity (1e-18 units) x price (1e-12 units) -> USD (1e-12 units). */
const notionalUnits = (q: bigint, p: bigint): bigint => roundHalfEven(q * p, E18);

const M1 = INTERVALS_MS['1m'];
const M5 = INTERVALS_MS['5m'];

const permutation = <T>(xs: readonly T[]) =>
  fc.shuffledSubarray([...xs], { minLength: xs.length, maxLength: xs.length });

describe('candles are order independent', () => {
  // Trades of one symbol inside one 5m window, with many equal event times.
  const tradesArb = fc
    .array(
      fc.record({
        dt: fc.integer({ min: 0, max: 9 }).map((k) => k * 33_333),
        price: fc.bigInt(1n, 10n ** 17n),
        quantity: fc.bigInt(0n, 10n ** 21n),
      }),
      { minLength: 1, maxLength: 40 },
    )
    .map((rows) =>
      rows.map(
        (r, i): PriceEvent => ({
          kind: 'price',
          eventId: `binance:BTCUSDT:${i}`,
          symbol: 'BTCUSDT',
          price: Decimal.fromUnits(r.price, PRICE_SCALE),
          quantity: Decimal.fromUnits(r.quantity, QTY_SCALE),
          eventTime: T0 + r.dt,
          tradeId: String(i),
          source: 'binance',
        }),
      ),
    );

  it('shuffling a window’s trades gives the identical candle, for 1m and 5m', () => {
    fc.assert(
      fc.property(
        tradesArb.chain((ts) => fc.tuple(fc.constant(ts), permutation(ts))),
        ([trades, shuffled]) => {
          for (const size of [M1, M5]) expect(buildCandles(shuffled, size)).toEqual(buildCandles(trades, size));
          const [c] = buildCandles(trades, M5);
          // open/close are the min/max (eventTime, eventId), high/low the extremes, sums exact
          const byKey = [...trades].sort((a, b) => a.eventTime - b.eventTime || (a.eventId < b.eventId ? -1 : 1));
          expect(c!.open).toEqual(byKey[0]!.price);
          expect(c!.close).toEqual(byKey.at(-1)!.price);
          expect(c!.volume.units).toBe(trades.reduce((s, t) => s + t.quantity.units, 0n));
          expect(c!.quoteVolume.units).toBe(
            trades.reduce((s, t) => s + notionalUnits(t.quantity.units, t.price.units), 0n),
          );
          expect(c!.high.units).toBe(trades.reduce((m, t) => (t.price.units > m ? t.price.units : m), 0n));
        },
      ),
    );
  });

  it('merging candles of any split of the trades equals the candle of all of them', () => {
    fc.assert(
      fc.property(
        tradesArb.chain((ts) => fc.tuple(fc.constant(ts), fc.integer({ min: 0, max: ts.length }))),
        ([trades, cut]) => {
          const a = buildCandles(trades.slice(0, cut), M5)[0];
          const b = buildCandles(trades.slice(cut), M5)[0];
          const merged = a === undefined ? b : b === undefined ? a : mergeCandles(b, a);
          expect(merged).toEqual(buildCandles(trades, M5)[0]);
        },
      ),
    );
  });
});

// ---- portfolio --------------------------------------------------------------------------------

type FeeKind = 'none' | 'usd' | 'base';
interface Op {
  type: 'buy' | 'deposit' | 'sell' | 'reward';
  q: bigint;
  p: bigint;
  feeKind: FeeKind;
  /** USD fee units (1e-12) or, for a base fee, per-mille of the quantity. */
  fee: bigint;
  time: number;
}

const opArb: fc.Arbitrary<Op> = fc.record({
  type: fc.constantFrom('buy', 'deposit', 'sell', 'sell', 'reward'),
  // up to 5 units with all 18 decimals in play
  q: fc.bigInt(1n, 5n * E18),
  // 0.000000000001 .. 100,000 USD
  p: fc.bigInt(1n, 100_000n * E12),
  feeKind: fc.constantFrom<FeeKind>('none', 'usd', 'base'),
  // a base fee equal to the whole quantity would leave zero units carrying cost (see docs/core.md)
  fee: fc.bigInt(0n, 999n),
  time: fc.integer({ min: 0, max: 5 }),
});

const toEvent = (o: Op, i: number): UserEvent => {
  const eventId = `e-${String(i).padStart(4, '0')}`;
  const eventTime = T0 + o.time * 1000;
  if (o.type === 'reward') {
    const r: RewardEvent = {
      kind: 'reward',
      eventId,
      userId: 'u1',
      rewardType: 'staking',
      asset: 'ETH',
      quantity: Decimal.fromUnits(o.q, QTY_SCALE),
      price: Decimal.fromUnits(o.p, PRICE_SCALE),
      eventTime,
    };
    return r;
  }
  // a base fee is a fraction (per mille) of the quantity: never above it, as validation demands
  const base = o.feeKind === 'base';
  const t: TransactionEvent = {
    kind: 'transaction',
    eventId,
    userId: 'u1',
    type: o.type,
    asset: 'ETH',
    quantity: Decimal.fromUnits(o.q, QTY_SCALE),
    price: Decimal.fromUnits(o.p, PRICE_SCALE),
    fee: base
      ? Decimal.fromUnits((o.q * o.fee) / 1000n, QTY_SCALE)
      : Decimal.fromUnits(o.feeKind === 'usd' ? o.fee * 10_000_000n : 0n, USD_SCALE),
    feeAsset: base ? 'ETH' : 'USD',
    eventTime,
  };
  return t;
};

/** The independent ledger: holdings, cash flows and fee values from the definitions. */
const ledger = (events: readonly UserEvent[]) => {
  const sorted = [...events].sort((a, b) => a.eventTime - b.eventTime || (a.eventId < b.eventId ? -1 : 1));
  let held = 0n;
  let invested = 0n;
  let fees = 0n;
  const rejected: string[] = [];
  for (const e of sorted) {
    const q = e.quantity.units;
    const p = e.price.units;
    if (e.kind === 'reward') {
      held += q;
      continue;
    }
    const baseFee = e.feeAsset === 'ETH' ? e.fee.units : 0n;
    const usdFee = e.feeAsset === 'USD' ? e.fee.units : 0n;
    const feeValue = baseFee > 0n ? notionalUnits(baseFee, p) : usdFee;
    if (e.type === 'buy' || e.type === 'deposit') {
      held += q - baseFee;
      invested += notionalUnits(q, p) + usdFee;
    } else {
      if (q + baseFee > held) {
        rejected.push(e.eventId);
        continue;
      }
      held -= q + baseFee;
      invested -= notionalUnits(q, p) - usdFee;
    }
    fees += feeValue;
  }
  return { held, invested, fees, rejected };
};

describe('portfolio accounting', () => {
  const opsArb = fc.array(opArb, { minLength: 1, maxLength: 30 });

  it('realized + unrealized = market value - net invested, with net invested from the cash flows', () => {
    fc.assert(
      fc.property(opsArb, fc.bigInt(1n, 100_000n * E12), (ops, mark) => {
        const events = ops.map(toEvent);
        const { book, rejected } = applyAll(new Map(), events);
        const want = ledger(events);
        expect(rejected.map((r) => r.event.eventId).sort()).toEqual([...want.rejected].sort());
        const pos = book.get(bookKey('u1', 'ETH'));
        if (pos === undefined) {
          expect(events.every((e) => want.rejected.includes(e.eventId))).toBe(true);
          return;
        }
        const v = valueAt(pos, Decimal.fromUnits(mark, PRICE_SCALE));
        expect(pos.quantity.units).toBe(want.held);
        expect(v.marketValue.units).toBe(notionalUnits(want.held, mark));
        expect(netInvested(pos).units).toBe(want.invested);
        expect(pos.realizedPnl.add(v.unrealizedPnl).units).toBe(v.marketValue.units - want.invested);
        expect(pos.feesPaid.units).toBe(want.fees);
        expect(pos.costBasis.isNegative()).toBe(false);
        if (pos.quantity.isZero()) expect(pos.costBasis.isZero()).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('any arrival order of the same events (ties on time included) gives one result', () => {
    fc.assert(
      fc.property(
        opsArb.chain((ops) => {
          const events = ops.map(toEvent);
          return fc.tuple(fc.constant(events), permutation(events));
        }),
        ([events, shuffled]) => {
          const a = applyAll(new Map(), events);
          const b = applyAll(new Map(), shuffled);
          expect(b.book).toEqual(a.book);
          expect(b.rejected.map((r) => r.event.eventId)).toEqual(a.rejected.map((r) => r.event.eventId));
        },
      ),
    );
  });
});

// ---- tiers ------------------------------------------------------------------------------------

describe('reward tiers', () => {
  const spendsArb = fc
    .array(
      fc.record({
        // 0..90 days in 6-hour steps: many spends share an instant and many expire exactly on one
        step: fc.integer({ min: 0, max: 360 }),
        amount: fc.bigInt(1n, 40_000n * E12),
      }),
      { minLength: 1, maxLength: 60 },
    )
    .map((rows) =>
      rows
        .map(
          (r, i): Spend => ({
            eventId: `s-${String(i).padStart(3, '0')}`,
            eventTime: T0 + r.step * (DAY / 4),
            amount: Decimal.fromUnits(r.amount, USD_SCALE),
          }),
        )
        .sort((a, b) => a.eventTime - b.eventTime || (a.eventId < b.eventId ? -1 : 1)),
    );

  it('spend30d equals the brute-force window sum at every event time', () => {
    fc.assert(
      fc.property(spendsArb, (spends) => {
        let state: TierState = initialTierState();
        spends.forEach((s, i) => {
          const month = new Date(s.eventTime).toISOString().slice(0, 7);
          const owedBefore = state.month === month ? state.owedThisMonth : Decimal.zero(USD_SCALE);
          const r = recordSpend(state, s);
          state = r.state;
          const seen = spends.slice(0, i + 1);
          const brute = seen
            .filter((x) => x.eventTime > s.eventTime - WINDOW_MS && x.eventTime <= s.eventTime)
            .reduce((sum, x) => sum + x.amount.units, 0n);
          expect(state.spend30d.units).toBe(brute);
          expect(state.tier).toBe(tierAt(seen, s.eventTime).name);
          expect(r.tier.name).toBe(state.tier);
          // cashback = rate x spend unless capped; the cap never pushes the month above it
          expect(r.cashback.add(r.capped).units).toBe(roundHalfEven(s.amount.units * r.tier.rate.units, E12));
          expect(r.cashback.isNegative() || r.capped.isNegative()).toBe(false);
          expect(state.month).toBe(month);
          expect(state.owedThisMonth.lte(Decimal.max(r.tier.monthlyCap, owedBefore))).toBe(true);
          expect(state.owedThisMonth.units).toBe(owedBefore.units + r.cashback.units);
        });
      }),
      { numRuns: 200 },
    );
  });
});
