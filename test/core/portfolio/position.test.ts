import { describe, expect, it } from 'vitest';
import type { UserEvent } from '../../../src/core/events/types.js';
import { Decimal, QTY_SCALE, qty, USD_SCALE, usd } from '../../../src/core/money/decimal.js';
import {
  type Applied,
  applyAll,
  applyEvent,
  avgCost,
  bookKey,
  compareEvents,
  costShare,
  emptyPosition,
  netInvested,
  notional,
  type Position,
  sortEvents,
  touchesPosition,
  valueAt,
} from '../../../src/core/portfolio/position.js';
import { MIN, reward, T0, tx } from '../build.js';

const ok = (r: Applied): Extract<Applied, { ok: true }> => {
  if (!r.ok) throw new Error(`unexpected reject: ${r.reason}`);
  return r;
};

const run = (events: UserEvent[], p: Position = emptyPosition('alice', 'BTC')): Position =>
  events.reduce((acc, e) => ok(applyEvent(acc, e)).position, p);

describe('notional and costShare', () => {
  it('rounds quantity x price half-even to USD_SCALE', () => {
    expect(notional(qty('0.5'), Decimal.parse('0.000000000001', 12)).toString()).toBe('0.000000000000');
    expect(notional(qty('1.5'), Decimal.parse('0.000000000001', 12)).toString()).toBe('0.000000000002');
    expect(notional(qty('2'), Decimal.parse('30000', 12)).toString()).toBe('60000.000000000000');
  });

  it('takes all of the cost when every unit leaves, a rounded share otherwise', () => {
    expect(costShare(usd('100'), qty('3'), qty('3')).toString()).toBe('100.000000000000');
    expect(costShare(usd('100'), qty('1'), qty('3')).toString()).toBe('33.333333333333');
    expect(costShare(usd('100'), qty('2'), qty('3')).toString()).toBe('66.666666666667');
    expect(costShare(Decimal.fromUnits(5n, USD_SCALE), qty('1'), qty('2')).units).toBe(2n); // 2.5 -> 2
    expect(costShare(Decimal.fromUnits(3n, USD_SCALE), qty('1'), qty('2')).units).toBe(2n); // 1.5 -> 2
    // inputs at other scales are aligned first
    expect(costShare(Decimal.parse('10', 2), Decimal.parse('1', 0), Decimal.parse('4', 0)).toString()).toBe(
      '2.500000000000',
    );
  });
});

describe('ordering', () => {
  it('orders by event time, then event id in code-unit order', () => {
    const a = { eventTime: 1, eventId: 'b' };
    expect(compareEvents(a, { eventTime: 2, eventId: 'a' })).toBeLessThan(0);
    expect(compareEvents(a, { eventTime: 1, eventId: 'a' })).toBeGreaterThan(0);
    expect(compareEvents(a, { eventTime: 1, eventId: 'b' })).toBe(0);
    const ids = sortEvents([
      { eventTime: 5, eventId: 't-9' },
      { eventTime: 5, eventId: 't-10' },
      { eventTime: 5, eventId: 'a' },
      { eventTime: 5, eventId: 'Z' },
      { eventTime: 4, eventId: 'z' },
    ]).map((e) => e.eventId);
    expect(ids).toEqual(['z', 'Z', 'a', 't-10', 't-9']);
  });

  it('does not sort in place', () => {
    const input = [
      { eventTime: 2, eventId: 'a' },
      { eventTime: 1, eventId: 'b' },
    ];
    sortEvents(input);
    expect(input[0]!.eventId).toBe('a');
  });
});

describe('applyEvent', () => {
  it('starts empty', () => {
    const p = emptyPosition('alice', 'BTC');
    expect([p.quantity.scale, p.costBasis.scale, p.eventCount, p.lastEventId]).toEqual([QTY_SCALE, USD_SCALE, 0, '']);
    expect(avgCost(p).toString()).toBe('0.000000000000');
    expect(netInvested(p).toString()).toBe('0.000000000000');
  });

  it('stamps the ordering key of the last applied event', () => {
    const e = tx('buy', { eventId: 'b-1', eventTime: T0 + MIN });
    const p = ok(applyEvent(emptyPosition('alice', 'BTC'), e)).position;
    expect([p.eventCount, p.lastEventTime, p.lastEventId]).toEqual([1, T0 + MIN, 'b-1']);
  });

  it('refuses an event of another user or asset', () => {
    const r = applyEvent(emptyPosition('alice', 'BTC'), tx('buy', { asset: 'ETH', eventId: 'e-1' }));
    expect(r).toEqual({
      ok: false,
      code: 'ASSET_MISMATCH',
      reason: 'event e-1 is for alice/ETH, position is alice/BTC',
    });
    expect(applyEvent(emptyPosition('alice', 'BTC'), tx('buy', { userId: 'bob' })).ok).toBe(false);
  });

  it('refuses a USD card spend, which is no crypto position', () => {
    const e = tx('card_spend', { asset: 'USD', price: '1', quantity: '10' });
    expect(touchesPosition(e)).toBe(false);
    const r = applyEvent(emptyPosition('alice', 'USD'), e);
    expect(r.ok === false && r.code).toBe('NOT_A_POSITION');
  });

  it('reports realized P&L and card spend in the effect', () => {
    const p = run([tx('buy', { quantity: '1', price: '100' })]);
    const sale = ok(applyEvent(p, tx('sell', { quantity: '0.5', price: '120', fee: '1' })));
    expect(sale.effect.realized.toString()).toBe('9.000000000000'); // 60 - 1 - 50
    expect(sale.effect.spendUsd.isZero()).toBe(true);
    const spend = ok(applyEvent(p, tx('card_spend', { quantity: '0.5', price: '120', fee: '1' })));
    expect(spend.effect.spendUsd.toString()).toBe('60.000000000000'); // gross, before the fee
    expect(spend.effect.realized.toString()).toBe('9.000000000000');
    const rw = ok(applyEvent(p, reward({ quantity: '1', price: '100' })));
    expect(rw.effect.realized.isZero() && rw.effect.spendUsd.isZero()).toBe(true);
  });

  it('leaves the position untouched on a reject and explains it', () => {
    const p = run([tx('buy', { quantity: '1', price: '100' }), tx('stake', { quantity: '0.4' })]);
    const r = applyEvent(p, tx('sell', { quantity: '0.6', fee: '0.1', feeAsset: 'BTC' }));
    expect(r).toEqual({
      ok: false,
      code: 'INSUFFICIENT_HOLDINGS',
      reason: 'sell of 0.7 BTC (incl. fee) exceeds available 0.6 (held 1, staked 0.4)',
    });
    expect(p.quantity.toString()).toBe('1.000000000000000000');
  });

  it('covers every stake / unstake reject path', () => {
    const p = run([tx('buy', { quantity: '2', price: '10' }), tx('stake', { quantity: '1.5' })]);
    const over = applyEvent(p, tx('stake', { quantity: '0.6' }));
    expect(over.ok === false && over.reason).toBe('stake of 0.6 BTC exceeds available 0.5');
    const under = applyEvent(p, tx('unstake', { quantity: '1.6' }));
    expect(under.ok === false && [under.code, under.reason]).toEqual([
      'INSUFFICIENT_STAKED',
      'unstake of 1.6 BTC exceeds staked 1.5',
    ]);
    const fee = applyEvent(p, tx('stake', { quantity: '0.5', fee: '0.01', feeAsset: 'BTC' }));
    expect(fee.ok === false && fee.reason).toBe('fee of 0.01 BTC exceeds available 0');
    // an unstake frees the units its own fee may use
    const un = ok(applyEvent(p, tx('unstake', { quantity: '1.5', fee: '2', feeAsset: 'BTC', price: '10' })));
    expect(un.position.quantity.isZero() && un.position.staked.isZero()).toBe(true);
    expect(un.position.costBasis.isZero()).toBe(true);
    expect(un.position.realizedPnl.toString()).toBe('-20.000000000000');
  });

  it('withdrawals leave at cost; a USD fee is an expense, base fee units a zero-proceeds disposal', () => {
    const p = run([tx('buy', { quantity: '4', price: '100' })]);
    const usdFee = ok(applyEvent(p, tx('withdrawal', { quantity: '1', price: '150', fee: '2' })));
    expect(usdFee.position.costBasis.toString()).toBe('300.000000000000');
    expect(usdFee.effect.realized.toString()).toBe('-2.000000000000');
    expect(usdFee.position.feesPaid.toString()).toBe('2.000000000000');
    const baseFee = ok(applyEvent(p, tx('withdrawal', { quantity: '1', price: '150', fee: '0.5', feeAsset: 'BTC' })));
    expect(baseFee.position.quantity.toString()).toBe('2.500000000000000000');
    expect(baseFee.position.costBasis.toString()).toBe('250.000000000000');
    expect(baseFee.effect.realized.toString()).toBe('-50.000000000000');
    expect(baseFee.position.feesPaid.toString()).toBe('75.000000000000');
  });

  it('rewards add units at zero cost and count income', () => {
    const p = run([reward({ quantity: '0.1', price: '123.45' })]);
    expect(p.quantity.toString()).toBe('0.100000000000000000');
    expect(p.costBasis.isZero()).toBe(true);
    expect(p.rewardIncome.toString()).toBe('12.345000000000');
  });
});

describe('valuation and derived values', () => {
  it('values every held unit, staked ones included', () => {
    const p = run([tx('buy', { quantity: '3', price: '10' }), tx('stake', { quantity: '2' })]);
    expect(valueAt(p, Decimal.parse('12', 12))).toEqual({ marketValue: usd('36'), unrealizedPnl: usd('6') });
    expect(avgCost(p).toString()).toBe('10.000000000000');
    expect(netInvested(p).toString()).toBe('30.000000000000');
  });
});

describe('applyAll', () => {
  it('sorts, keys by user and asset, collects rejects and never mutates its input book', () => {
    const events: UserEvent[] = [
      tx('sell', { eventId: 'x-2', quantity: '1', price: '12', eventTime: T0 + MIN }),
      tx('buy', { eventId: 'x-1', quantity: '1', price: '10', eventTime: T0 + MIN }),
      tx('sell', { eventId: 'x-3', quantity: '1', eventTime: T0 + 2 * MIN }),
      tx('card_spend', { eventId: 'x-4', asset: 'USD', price: '1', quantity: '5' }),
      tx('buy', { eventId: 'x-5', userId: 'bob', asset: 'ETH', quantity: '2', price: '3' }),
    ];
    const start = new Map([[bookKey('carol', 'SOL'), emptyPosition('carol', 'SOL')]]);
    const { book, rejected } = applyAll(start, events);
    expect(start.size).toBe(1);
    expect([...book.keys()].sort()).toEqual(['alice|BTC', 'bob|ETH', 'carol|SOL']);
    expect(book.get('alice|BTC')!.realizedPnl.toString()).toBe('2.000000000000');
    expect(rejected.map((r) => [r.event.eventId, r.code])).toEqual([['x-3', 'INSUFFICIENT_HOLDINGS']]);
    expect(rejected[0]!.reason).toBe('sell of 1 BTC exceeds available 0 (held 0, staked 0)');
  });

  it('continues from an existing book (incremental = batch)', () => {
    const first = [tx('buy', { quantity: '2', price: '10', eventTime: T0 })];
    const second = [tx('sell', { quantity: '1', price: '15', eventTime: T0 + MIN })];
    const inc = applyAll(applyAll(new Map(), first).book, second).book;
    const all = applyAll(new Map(), [...second, ...first]).book;
    expect(inc.get('alice|BTC')).toEqual(all.get('alice|BTC'));
  });
});
