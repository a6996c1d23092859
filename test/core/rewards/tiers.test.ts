import { describe, expect, it } from 'vitest';
import { Decimal, USD_SCALE, usd } from '../../../src/core/money/decimal.js';
import {
  advanceTo,
  checkTiers,
  DEFAULT_TIERS,
  initialTierState,
  monthOf,
  recordSpend,
  type Spend,
  type TierDef,
  type TierState,
  tierAt,
  tierFor,
  WINDOW_MS,
} from '../../../src/core/rewards/tiers.js';
import { DAY, T0 } from '../build.js';

const spend = (eventId: string, eventTime: number, amount: string): Spend => ({
  eventId,
  eventTime,
  amount: usd(amount),
});

const record = (spends: Spend[], tiers: readonly TierDef[] = DEFAULT_TIERS) => {
  let state: TierState = initialTierState(tiers);
  const results = spends.map((s) => {
    const r = recordSpend(state, s, tiers);
    state = r.state;
    return r;
  });
  return { state, results };
};

describe('tier table', () => {
  it('default table is valid and ascending', () => {
    expect(checkTiers(DEFAULT_TIERS)).toBeUndefined();
    expect(DEFAULT_TIERS.map((t) => t.name)).toEqual(['Bronze', 'Silver', 'Gold', 'Platinum']);
    expect(WINDOW_MS).toBe(30 * DAY);
  });

  it('explains a bad table', () => {
    const t = (name: string, threshold: string, rate = '0.01', monthlyCap = '10'): TierDef => ({
      name,
      threshold: usd(threshold),
      rate: usd(rate),
      monthlyCap: usd(monthlyCap),
    });
    expect(checkTiers([])).toBe('tier table is empty');
    expect(checkTiers([t('A', '1')])).toBe('the first tier must start at 0');
    expect(checkTiers([t('A', '0'), t('B', '0')])).toBe('tier B: thresholds must increase');
    expect(checkTiers([t('A', '0'), t('B', '10'), t('C', '5')])).toBe('tier C: thresholds must increase');
    expect(checkTiers([t('A', '0', '-0.01')])).toBe('tier A: negative rate or cap');
    expect(checkTiers([t('A', '0', '0.01', '-1')])).toBe('tier A: negative rate or cap');
  });

  it('picks the highest tier whose threshold is reached', () => {
    const name = (s: string) => tierFor(DEFAULT_TIERS, usd(s)).name;
    expect([name('0'), name('999.999999999999'), name('1000'), name('99999.99'), name('100000')]).toEqual([
      'Bronze',
      'Bronze',
      'Silver',
      'Gold',
      'Platinum',
    ]);
  });
});

describe('monthOf', () => {
  it('is the UTC calendar month', () => {
    expect(monthOf(Date.UTC(2024, 0, 31, 23, 59, 59, 999))).toBe('2024-01');
    expect(monthOf(Date.UTC(2024, 1, 1))).toBe('2024-02');
    expect(monthOf(Date.UTC(2024, 1, 29, 12))).toBe('2024-02');
  });
});

describe('recordSpend', () => {
  it('uses the tier after counting the spend and rounds cashback half-even', () => {
    const { results } = record([spend('s1', T0, '999.9'), spend('s2', T0 + 1, '0.1')]);
    expect(results[0]!.tier.name).toBe('Bronze');
    expect(results[0]!.cashback.toString()).toBe('4.999500000000');
    expect(results[1]!.tier.name).toBe('Silver');
    expect(results[1]!.cashback.toString()).toBe('0.001000000000');
    expect(results[1]!.changes).toEqual([{ at: T0 + 1, from: 'Bronze', to: 'Silver', spend30d: usd('1000') }]);
    // 0.000000000050 x 0.01 = 5e-13: a half unit -> even 0
    const tiny = record(
      [spend('s', T0, '0.00000000005')],
      [{ name: 'Flat', threshold: usd('0'), rate: usd('0.01'), monthlyCap: usd('1') }],
    );
    expect(tiny.results[0]!.cashback.isZero()).toBe(true);
  });

  it('rescales the amount to USD_SCALE (rounding half-even) before counting it', () => {
    const s: Spend = { eventId: 's', eventTime: T0, amount: Decimal.parse('1.0000000000005', 13) };
    const r = recordSpend(initialTierState(), s);
    expect(r.state.spend30d.toString()).toBe('1.000000000000');
    expect(r.state.spends[0]!.amount.scale).toBe(USD_SCALE);
  });

  it('caps the cashback owed per calendar month at the cap of the tier in effect', () => {
    // (Bronze and Silver caps cannot be hit from their own tier: 1 % of < 10000 is < 100.)
    const { state, results } = record([
      spend('s1', T0, '20000'), // Gold: 400
      spend('s2', T0 + 1, '4000'), // Gold: 80 -> owed 480
      spend('s3', T0 + 2, '2000'), // Gold: full 40, room 20
    ]);
    expect(results.map((r) => [r.cashback.toPlain(), r.capped.toPlain()])).toEqual([
      ['400', '0'],
      ['80', '0'],
      ['20', '20'],
    ]);
    expect(state.owedThisMonth.toPlain()).toBe('500');
    // dropping to a lower cap while already above it leaves no room, never a negative cashback
    const lower = record([spend('a', T0, '20000'), spend('b', T0 + 31 * DAY, '10')]);
    expect(lower.results[1]!.cashback.toPlain()).toBe('0.05');
    const sameMonth = record([spend('a', T0, '20000'), spend('b', T0 + 30 * DAY, '10')]);
    expect(sameMonth.results[1]!.tier.name).toBe('Bronze');
    expect(sameMonth.results[1]!.cashback.toPlain()).toBe('0');
    expect(sameMonth.results[1]!.capped.toPlain()).toBe('0.05');
  });
});

describe('advanceTo', () => {
  it('expires spends at exactly eventTime + 30d, grouped per instant', () => {
    const { state } = record([spend('a', T0, '600'), spend('b', T0, '500'), spend('c', T0 + DAY, '100')]);
    expect(state.tier).toBe('Silver');
    expect(advanceTo(state, T0 + WINDOW_MS - 1).changes).toEqual([]);
    const at = advanceTo(state, T0 + WINDOW_MS);
    // both T0 spends leave together: one change, not two
    expect(at.changes).toEqual([{ at: T0 + WINDOW_MS, from: 'Silver', to: 'Bronze', spend30d: usd('100') }]);
    expect(at.state.spends.map((s) => s.eventId)).toEqual(['c']);
    expect(at.state.since).toBe(T0 + WINDOW_MS);
    const later = advanceTo(state, T0 + 40 * DAY);
    expect(later.state.spends).toEqual([]);
    expect(later.state.spend30d.isZero()).toBe(true);
    expect(later.changes).toHaveLength(1);
    // idempotent
    expect(advanceTo(later.state, T0 + 40 * DAY)).toEqual({ state: later.state, changes: [] });
  });

  it('agrees with the brute-force tierAt on any history', () => {
    const spends = [spend('a', T0, '900'), spend('b', T0 + 10 * DAY, '200'), spend('c', T0 + 35 * DAY, '9800')];
    expect(tierAt(spends, T0 + 10 * DAY - 1).name).toBe('Bronze');
    expect(tierAt(spends, T0 + 10 * DAY).name).toBe('Silver');
    expect(tierAt(spends, T0 + 30 * DAY).name).toBe('Bronze');
    expect(tierAt(spends, T0 + 35 * DAY).name).toBe('Gold');
    expect(tierAt([...spends].reverse(), T0 + 35 * DAY).name).toBe('Gold');
    expect(tierAt(spends, T0 - 1).name).toBe('Bronze');
  });
});
