import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { UserEvent } from '../../../src/core/events/types.js';
import { positionToJson } from '../../../src/core/portfolio/codec.js';
import {
  addSummaries,
  type BatchPositionRow,
  type BatchRewardRow,
  reconcileDay,
  type SpeedUserDay,
} from '../../../src/core/serving/reconcile.js';
import { dayOf, dayToJson, emptyUser, replayUser, type UserState } from '../../../src/core/speed/user-ledger.js';
import { GOLDEN_D, GOLDEN_D1, goldenEvents } from '../../support/serving-golden.js';
import { tx } from '../build.js';

/** Both sides built by the core from the same events, as the two layers do. */
const batchSide = (start: UserState, events: UserEvent[], date: string) => {
  const r = replayUser(start, events);
  const day = r.days.get(date);
  const positions: BatchPositionRow[] = [...r.state.positions.values()].map((p) => ({
    userId: p.userId,
    asset: p.asset,
    quantity: p.quantity,
    staked: p.staked,
    costBasis: p.costBasis,
    realizedPnl: p.realizedPnl,
    feesPaid: p.feesPaid,
    rewardIncome: p.rewardIncome,
    eventCount: p.eventCount,
    eventsDay: events.filter((e) => e.asset === p.asset && dayOf(e.eventTime) === date).length,
  }));
  const rewards: BatchRewardRow[] = day ? [{ userId: start.userId, ...day }] : [];
  return { positions, rewards, state: r.state };
};

const speedSide = (start: UserState, events: UserEvent[], date: string): SpeedUserDay => {
  const r = replayUser(start, events);
  const day = r.days.get(date);
  return {
    userId: start.userId,
    eod: [...r.state.positions.values()].map(positionToJson),
    rewards: day ? dayToJson(day) : null,
  };
};

describe('reconcileDay', () => {
  const g = goldenEvents('alice');

  it('is clean when both layers applied the same events: every field matched', () => {
    const b = batchSide(emptyUser('alice'), g.dayD, GOLDEN_D);
    const s = speedSide(emptyUser('alice'), g.dayD, GOLDEN_D);
    const r = reconcileDay(GOLDEN_D, b.positions, b.rewards, [s]);
    expect(r.summary).toEqual({
      date: GOLDEN_D,
      users: 1,
      subjects: 3,
      fieldsMatched: 10 + 2 * 7,
      fieldsMismatched: 0,
      missingInBatch: 0,
      missingInSpeed: 0,
      clean: true,
    });
    expect(r.rows.find((x) => x.subject === 'BTC' && x.field === 'cost_basis')).toEqual({
      date: GOLDEN_D,
      userId: 'alice',
      subject: 'BTC',
      field: 'cost_basis',
      status: 'match',
      batchValue: '80010.000000000000',
      speedValue: '80010.000000000000',
      difference: '0.000000000000',
    });
  });

  it('an event withheld from the speed layer shows as exact differences (speed - batch)', () => {
    // The speed layer never saw the ETH cashback (g4).
    const b = batchSide(emptyUser('alice'), g.dayD, GOLDEN_D);
    const s = speedSide(emptyUser('alice'), g.dayD.slice(0, 3), GOLDEN_D);
    const r = reconcileDay(GOLDEN_D, b.positions, b.rewards, [s]);
    expect(r.summary.clean).toBe(false);
    const bad = r.rows.filter((x) => x.status !== 'match').map((x) => [x.subject, x.field, x.difference]);
    expect(bad).toEqual([
      ['rewards', 'cashback_paid', '-2.100000000000'],
      ['rewards', 'events', '-1'],
      ['ETH', 'quantity_held', '-0.001000000000000000'],
      ['ETH', 'reward_income', '-2.100000000000'],
      ['ETH', 'event_count', '-1'],
    ]);
    expect(r.summary.fieldsMismatched).toBe(5);
  });

  it('reports a user missing on either side and a tier difference without a numeric difference', () => {
    const b = batchSide(emptyUser('alice'), g.dayD, GOLDEN_D);
    const bob = goldenEvents('bob').dayD;
    const sBob = speedSide(emptyUser('bob'), bob, GOLDEN_D);
    const r = reconcileDay(GOLDEN_D, b.positions, b.rewards, [sBob]);
    const bad = r.rows.map((x) => [x.userId, x.subject, x.field, x.status]);
    expect(bad).toEqual([
      ['alice', 'rewards', '*', 'missing_in_speed'],
      ['alice', 'BTC', '*', 'missing_in_speed'],
      ['alice', 'ETH', '*', 'missing_in_speed'],
      ['bob', 'rewards', '*', 'missing_in_batch'],
      ['bob', 'BTC', '*', 'missing_in_batch'],
      ['bob', 'ETH', '*', 'missing_in_batch'],
    ]);
    expect(r.summary).toMatchObject({ users: 2, missingInBatch: 3, missingInSpeed: 3, clean: false });

    const tier = reconcileDay(
      GOLDEN_D,
      [],
      [{ ...b.rewards[0]!, tier: 'Gold' }],
      [{ userId: 'alice', eod: null, rewards: dayToJson(replayUser(emptyUser('alice'), g.dayD).days.get(GOLDEN_D)!) }],
    );
    expect(tier.rows.filter((x) => x.status === 'mismatch')).toEqual([
      {
        date: GOLDEN_D,
        userId: 'alice',
        subject: 'rewards',
        field: 'tier_at_time',
        status: 'mismatch',
        batchValue: 'Gold',
        speedValue: 'Bronze',
        difference: null,
      },
    ]);
  });

  it('carried-forward positions are compared; flat untouched ones and unchanged books are not expected', () => {
    // Day D: alice buys and sells all her SOL (flat, with realized P&L) and buys BTC.
    // Day D+1: only a BTC buy. The speed end-of-day book of D+1 keeps the flat SOL position;
    // the batch writes no row for it (flat, no event that day). BTC is carried forward on both.
    const d = [
      tx('buy', {
        userId: 'alice',
        asset: 'SOL',
        quantity: '1',
        price: '100',
        eventTime: Date.parse(`${GOLDEN_D}T01:00:00Z`),
      }),
      tx('sell', {
        userId: 'alice',
        asset: 'SOL',
        quantity: '1',
        price: '110',
        eventTime: Date.parse(`${GOLDEN_D}T02:00:00Z`),
      }),
      tx('buy', {
        userId: 'alice',
        asset: 'BTC',
        quantity: '1',
        price: '100',
        eventTime: Date.parse(`${GOLDEN_D}T03:00:00Z`),
      }),
    ];
    const d1 = [
      tx('buy', {
        userId: 'alice',
        asset: 'ETH',
        quantity: '1',
        price: '10',
        eventTime: Date.parse(`${GOLDEN_D1}T01:00:00Z`),
      }),
    ];
    const start = replayUser(emptyUser('alice'), d).state;
    const b = batchSide(start, d1, GOLDEN_D1);
    const batchRows = b.positions.filter((p) => p.asset !== 'SOL');
    const s = speedSide(start, d1, GOLDEN_D1);
    expect(s.eod!.map((p) => p.asset).sort()).toEqual(['BTC', 'ETH', 'SOL']);
    const r = reconcileDay(GOLDEN_D1, batchRows, b.rewards, [s]);
    expect(r.summary).toMatchObject({
      subjects: 3,
      fieldsMismatched: 0,
      missingInBatch: 0,
      missingInSpeed: 0,
      clean: true,
    });
    expect(new Set(r.rows.map((x) => x.subject))).toEqual(new Set(['rewards', 'BTC', 'ETH']));

    // Every event of the day rejected on the speed side: no end-of-day book; carried rows not expected.
    const noBook = reconcileDay(
      GOLDEN_D1,
      batchRows.filter((p) => p.asset === 'BTC').map((p) => ({ ...p, eventsDay: 0 })),
      [],
      [{ userId: 'alice', eod: null, rewards: null }],
    );
    expect(noBook.summary).toMatchObject({ subjects: 0, clean: true });
  });

  it('pages of whole users, in user order, concatenate to the whole day (rows, and summed summaries)', () => {
    // Users on both sides, speed only, batch only, and one withheld event: every status occurs.
    const users = ['amy', 'bob', 'cat', 'dan', 'eve', 'fay', 'gus'];
    const batch = { positions: [] as BatchPositionRow[], rewards: [] as BatchRewardRow[] };
    const speed: SpeedUserDay[] = [];
    users.forEach((u, i) => {
      const ev = goldenEvents(u).dayD;
      if (i % 3 !== 1) {
        const b = batchSide(emptyUser(u), ev, GOLDEN_D);
        batch.positions.push(...b.positions);
        batch.rewards.push(...b.rewards);
      }
      if (i % 3 !== 2) speed.push(speedSide(emptyUser(u), i === 3 ? ev.slice(0, -1) : ev, GOLDEN_D));
    });
    const whole = reconcileDay(GOLDEN_D, batch.positions, batch.rewards, speed);
    expect(whole.summary.clean).toBe(false);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }), (sizes) => {
        const pages: (typeof users)[] = [];
        for (let at = 0, k = 0; at < users.length; at += sizes[k++ % sizes.length]!)
          pages.push(users.slice(at, at + sizes[k % sizes.length]!));
        const results = pages.map((page) => {
          const inPage = (x: { userId: string }) => page.includes(x.userId);
          return reconcileDay(
            GOLDEN_D,
            batch.positions.filter(inPage),
            batch.rewards.filter(inPage),
            speed.filter(inPage),
          );
        });
        expect(results.flatMap((r) => r.rows)).toEqual(whole.rows);
        expect(
          addSummaries(
            GOLDEN_D,
            results.map((r) => r.summary),
          ),
        ).toEqual(whole.summary);
      }),
    );
  });
});
