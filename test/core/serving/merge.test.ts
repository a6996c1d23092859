import { describe, expect, it } from 'vitest';
import { eventToRaw } from '../../../src/core/events/json.js';
import type { UserEvent } from '../../../src/core/events/types.js';
import { Decimal, PRICE_SCALE } from '../../../src/core/money/decimal.js';
import { positionToJson } from '../../../src/core/portfolio/codec.js';
import {
  type DeltaDay,
  type MergeInput,
  mergeUser,
  type PriceQuote,
  pickPrice,
  valuePortfolio,
} from '../../../src/core/serving/merge.js';
import { portfolioToJson } from '../../../src/core/serving/views.js';
import { dayOf, emptyUser, replayUser, userToJson } from '../../../src/core/speed/user-ledger.js';
import { GOLDEN_D, GOLDEN_D1, GOLDEN_EXPECTED, goldenEvents } from '../../support/serving-golden.js';

const raw = (e: UserEvent): string => JSON.stringify(eventToRaw(e));
const deltasOf = (events: readonly UserEvent[]): DeltaDay[] => {
  const by = new Map<string, string[]>();
  for (const e of events) by.set(dayOf(e.eventTime), [...(by.get(dayOf(e.eventTime)) ?? []), raw(e)]);
  return [...by].map(([day, ev]) => ({ day, events: ev }));
};
const px = (s: string, source: PriceQuote['source'] = 'live', eventTime = Date.parse(`${GOLDEN_D1}T13:00:00Z`)) => ({
  price: Decimal.parse(s, PRICE_SCALE),
  eventTime,
  source,
});
const PRICES = new Map([
  ['BTC', px('50000')],
  ['ETH', px('2500')],
]);
const MARKS = { usersWatermark: Date.parse(`${GOLDEN_D1}T12:00:00Z`), priceWatermark: null };
const NOW = Date.parse(`${GOLDEN_D1}T13:00:10Z`);

const golden = (userId = 'alice') => {
  const g = goldenEvents(userId);
  const batch = replayUser(emptyUser(userId), g.dayD).state;
  return { g, batchState: userToJson(batch) };
};

const input = (over: Partial<MergeInput> & Pick<MergeInput, 'speed'>): MergeInput => ({
  userId: 'alice',
  batch: null,
  ...over,
});

describe('mergeUser + valuePortfolio (the Lambda merge)', () => {
  it('golden: batch snapshot of D + speed deltas of D+1 at live prices gives the hand-checked portfolio', () => {
    const { g, batchState } = golden();
    const m = mergeUser(
      input({
        batch: { asOf: GOLDEN_D, builtAt: '2026-11-21T00:05:00Z', state: batchState },
        // D's delta is in Redis too (the speed layer saw it): it must not be applied twice.
        speed: { deltas: deltasOf([...g.dayD, ...g.dayD1]), positions: [], tier: null, ...MARKS },
      }),
    )!;
    expect(m.mode).toBe('merged');
    const j = portfolioToJson(valuePortfolio(m, PRICES, MARKS, NOW));
    expect(j.tier).toBe(GOLDEN_EXPECTED.tier);
    expect(j.spend30d).toBe(GOLDEN_EXPECTED.spend30d);
    expect(j.totals).toEqual(GOLDEN_EXPECTED.totals);
    expect(
      j.positions.map(({ price: _p, priceSource: _s, priceTime: _t, lastEventTime: _l, ...rest }) => rest),
    ).toEqual(GOLDEN_EXPECTED.positions);
    expect(j.freshness).toEqual({
      batchAsOf: GOLDEN_D,
      batchBuiltAt: '2026-11-21T00:05:00Z',
      speedDays: [GOLDEN_D1],
      speedEvents: 4,
      usersWatermark: MARKS.usersWatermark,
      priceWatermark: null,
      oldestPriceTime: Date.parse(`${GOLDEN_D1}T13:00:00Z`),
      priceAgeMs: 10_000,
      now: NOW,
    });
    expect(m.days.get(GOLDEN_D1)?.cashbackOwed.toString()).toBe('6.000000000000');
    expect(m.days.has(GOLDEN_D)).toBe(false);
  });

  it('equals replaying every event from scratch (the merge is exactly a batch build of the later days)', () => {
    const { g, batchState } = golden();
    const m = mergeUser(
      input({
        batch: { asOf: GOLDEN_D, builtAt: null, state: batchState },
        speed: { deltas: deltasOf(g.dayD1), positions: [], tier: null, ...MARKS },
      }),
    )!;
    const full = replayUser(emptyUser('alice'), [...g.dayD, ...g.dayD1]).state;
    expect(m.positions.map(positionToJson)).toEqual([...full.positions.values()].map(positionToJson));
  });

  it('ignores duplicates (within a day, across days) and reports invalid stored values', () => {
    const { g, batchState } = golden();
    const d1 = g.dayD1.map(raw);
    const m = mergeUser(
      input({
        batch: { asOf: GOLDEN_D, builtAt: null, state: batchState },
        speed: {
          deltas: [
            { day: GOLDEN_D1, events: [...d1, d1[0]!, 'not json', raw(g.dayD[0]!)] },
            { day: '2026-11-22', events: [d1[1]!] },
          ],
          positions: [],
          tier: null,
          ...MARKS,
        },
      }),
    )!;
    expect(m.replay.duplicates).toBe(1);
    expect(m.replay.invalid).toEqual([
      '2026-11-21: not JSON',
      '2026-11-21: event alice-g1 of another day',
      '2026-11-22: event alice-g6 of another day',
    ]);
    expect(m.replay.applied).toBe(4);
    expect(m.warnings).toContain('3 stored delta value(s) skipped as invalid');
    const j = portfolioToJson(valuePortfolio(m, PRICES, MARKS, NOW));
    expect(j.totals).toEqual(GOLDEN_EXPECTED.totals);
  });

  it('batch only: no deltas after the cutoff; valued at the batch close when there is no live price', () => {
    const { batchState } = golden();
    const m = mergeUser(
      input({
        batch: { asOf: GOLDEN_D, builtAt: null, state: batchState },
        speed: { deltas: [], positions: [], tier: null, usersWatermark: null, priceWatermark: null },
      }),
    )!;
    expect(m.mode).toBe('batch-only');
    const closeAt = Date.parse(`${GOLDEN_D}T23:59:59.999Z`);
    const prices = new Map([['BTC', pickPrice(undefined, px('41000', 'batch-close', closeAt))!]]);
    const v = portfolioToJson(valuePortfolio(m, prices, { usersWatermark: null, priceWatermark: null }, NOW));
    expect(v.positions.map((p) => [p.asset, p.quantity, p.marketValue, p.unrealizedPnl, p.priceSource])).toEqual([
      ['BTC', '2.000000000000000000', '82000.000000000000', '1990.000000000000', 'batch-close'],
      ['ETH', '9.991000000000000000', null, null, null],
    ]);
    expect(v.totals.unpriced).toEqual(['ETH']);
    expect(v.totals.marketValue).toBe('82000.000000000000');
    expect(v.warnings).toEqual(['some holdings have no price']);
    expect(v.tier).toBe('Bronze');
  });

  it('speed only without any build: the speed book and tier are the whole state', () => {
    const { g } = golden();
    const s = replayUser(emptyUser('alice'), [...g.dayD, ...g.dayD1]).state;
    const m = mergeUser(
      input({
        speed: {
          deltas: [],
          positions: [...s.positions.values()].map(positionToJson),
          tier: { tier: 'Silver', spend30d: '1100.000000000000' },
          ...MARKS,
        },
      }),
    )!;
    expect(m.mode).toBe('speed-only');
    expect(m.warnings).toEqual(['no batch build exists: the speed layer is the only source']);
    expect(portfolioToJson(valuePortfolio(m, PRICES, MARKS, NOW)).totals).toEqual(GOLDEN_EXPECTED.totals);
  });

  it('speed only after a build that never saw the user: deltas replayed from empty', () => {
    const { g } = golden('bob');
    const m = mergeUser({
      userId: 'bob',
      batch: { asOf: '2026-11-19', builtAt: null, state: null },
      speed: { deltas: deltasOf([...g.dayD, ...g.dayD1]), positions: [], tier: null, ...MARKS },
    })!;
    expect(m.mode).toBe('speed-only');
    expect(m.warnings).toEqual(['the batch (as of 2026-11-19) has no state for bob']);
    expect(portfolioToJson(valuePortfolio(m, PRICES, MARKS, NOW)).totals).toEqual(GOLDEN_EXPECTED.totals);
  });

  it('null when neither side knows the user', () => {
    const none = { deltas: [], positions: [], tier: null, usersWatermark: null, priceWatermark: null };
    expect(mergeUser(input({ speed: none }))).toBeNull();
    expect(mergeUser(input({ batch: { asOf: GOLDEN_D, builtAt: null, state: null }, speed: none }))).toBeNull();
  });

  it('pickPrice takes the later of the live price and the batch close', () => {
    const live = px('1', 'live', 100);
    const close = px('2', 'batch-close', 200);
    expect(pickPrice(live, close)).toBe(close);
    expect(pickPrice(px('3', 'live', 200), close)?.source).toBe('live');
    expect(pickPrice(undefined, undefined)).toBeUndefined();
  });
});
