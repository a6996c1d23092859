import { describe, expect, it } from 'vitest';
import type { TransactionEvent } from '../../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../../../src/core/money/decimal.js';
import type { Disposal } from '../../../src/core/portfolio/lot-accounting.js';
import { openLotOf } from '../../../src/core/portfolio/lots.js';
import { applyUserEvent, emptyUser, replayUser } from '../../../src/core/speed/user-ledger.js';
import { buildUserDay, dayEnd, type RejectFact, UserDayBuilder } from '../../../src/core/warehouse/day-build.js';

const T = Date.UTC(2026, 0, 10);
const tx = (id: string, type: TransactionEvent['type'], qty: string, price: string, t: number): TransactionEvent => ({
  kind: 'transaction',
  eventId: id,
  userId: 'alice',
  type,
  asset: 'BTC',
  quantity: Decimal.parse(qty, QTY_SCALE),
  price: Decimal.parse(price, PRICE_SCALE),
  fee: Decimal.zero(USD_SCALE),
  feeAsset: 'USD',
  eventTime: t,
});
const closes = new Map([['BTC', Decimal.parse('50000', PRICE_SCALE)]]);

describe('buildUserDay', () => {
  it('from history: applies earlier dates first, the day facts cover only the date', () => {
    const events = [
      tx('a', 'buy', '2', '40000', T - 3600_000),
      tx('b', 'sell', '1', '45000', T + 1000),
      tx('c', 'sell', '9', '45000', T + 2000),
      tx('b', 'sell', '1', '45000', T + 1000),
    ];
    const r = buildUserDay('alice', undefined, events, '2026-01-10', closes);
    expect(r.portfolio).toHaveLength(1);
    const f = r.portfolio[0]!;
    expect(f.position.quantity.toString()).toBe('1.000000000000000000');
    expect(f.realizedPnlDay.toString()).toBe('5000.000000000000');
    expect(f.eventsDay).toBe(1);
    expect(f.avgCostBasis.toString()).toBe('40000.000000000000');
    expect(f.marketValue?.toString()).toBe('50000.000000000000');
    expect(f.unrealizedPnl?.toString()).toBe('10000.000000000000');
    expect(r.rewards?.events).toBe(2);
    expect(r.rewards?.rejected).toBe(1);
    expect(r.rejects.map((x) => [x.eventId, x.code])).toEqual([
      ['b', 'DUPLICATE'],
      ['c', 'INSUFFICIENT_HOLDINGS'],
    ]);
    // The same end state as the core replay of all events.
    expect(r.state).toEqual(replayUser(emptyUser('alice'), events).state);
  });

  it('from a snapshot without events: carries positions, no day facts, revalues at the close', () => {
    const start = applyUserEvent(emptyUser('alice'), tx('a', 'buy', '1', '40000', T - 1000), undefined).state;
    const r = buildUserDay('alice', start, [], '2026-01-10', closes);
    expect(r.state).toBe(start);
    expect(r.rewards).toBeUndefined();
    expect(r.portfolio.map((p) => [p.eventsDay, p.realizedPnlDay.toString(), p.closePrice?.toString()])).toEqual([
      [0, '0.000000000000', '50000.000000000000'],
    ]);
    expect(buildUserDay('alice', start, [], '2026-01-10', new Map()).portfolio[0]!.marketValue).toBeUndefined();
  });

  it('drops a position sold to zero the day after its last event', () => {
    const evs = [tx('a', 'buy', '1', '40000', T - 2000), tx('b', 'sell', '1', '40000', T - 1000)];
    expect(buildUserDay('alice', undefined, evs, '2026-01-09', closes).portfolio).toHaveLength(1);
    expect(buildUserDay('alice', undefined, evs, '2026-01-10', closes).portfolio).toHaveLength(0);
    expect(dayEnd('2026-01-10')).toBe(T + 86_400_000 - 1);
  });

  it('UserDayBuilder streams the same day as buildUserDay: gains and rejects at once, the rest at finish', () => {
    const events = [
      tx('a', 'buy', '2', '40000', T - 3600_000),
      tx('b', 'sell', '1', '45000', T + 1000),
      tx('b', 'sell', '1', '45000', T + 1000),
      tx('c', 'sell', '9', '45000', T + 2000),
      tx('d', 'buy', '3', '41000', T + 3000),
    ];
    const whole = buildUserDay('alice', undefined, [...events].reverse(), '2026-01-10', closes);
    const gains: Disposal[] = [];
    const rejects: RejectFact[] = [];
    const b = new UserDayBuilder('alice', undefined, '2026-01-10', {
      gain: (g) => gains.push(g),
      reject: (r) => rejects.push(r),
    });
    const seen: number[] = [];
    for (const e of events) {
      b.apply(e);
      seen.push(gains.length + rejects.length);
    }
    // Each fact is handed over by the event that makes it, not held for the day.
    expect(seen).toEqual([0, 1, 2, 3, 3]);
    const { forEachLot, lotCount, ...end } = b.finish(closes);
    // The open lots come as a pass over the queues' records, the same lots in the same order.
    const lots: { asset: string; lot: ReturnType<typeof openLotOf> }[] = [];
    forEachLot((asset, row) => lots.push({ asset, lot: openLotOf(row) }));
    expect(lotCount).toBe(whole.lots.length);
    expect(whole.lots.length).toBeGreaterThan(0);
    expect({ ...end, lots, gains, rejects }).toEqual(whole);
  });

  it('UserDayBuilder refuses an event out of (event time, event id) order', () => {
    const b = new UserDayBuilder('alice', undefined, '2026-01-10', { gain: () => undefined, reject: () => undefined });
    b.apply(tx('b', 'buy', '1', '40000', T + 1000));
    expect(() => b.apply(tx('a', 'buy', '1', '40000', T + 1000))).toThrow(/out of order/);
    expect(() => b.apply(tx('c', 'buy', '1', '40000', T))).toThrow(/out of order/);
  });
});
