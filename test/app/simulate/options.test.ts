import { describe, expect, it } from 'vitest';
import { decodeRecord } from '../../../src/adapters/avro/codec.js';
import { formatProgress, formatSummary, parseRate } from '../../../src/app/simulate/options.js';
import { encodeUserEvents, type SimulateResult } from '../../../src/app/simulate/simulate.js';
import type { TransactionEvent } from '../../../src/core/events/types.js';
import { Decimal, QTY_SCALE } from '../../../src/core/money/decimal.js';
import { RATE_SCALE, simulate } from '../../../src/core/simulate/generator.js';
import { syntheticPrices } from '../../core/simulate/prices.js';

describe('parseRate', () => {
  it('parses exact rates, including fractional ones', () => {
    expect(parseRate('2').toString()).toBe('2.000000');
    expect(parseRate('0.05').toString()).toBe('0.050000');
    expect(parseRate(' 0.000001 ').toString()).toBe('0.000001');
  });

  it('rejects zero, negatives, too many decimals and nonsense with a one-line reason', () => {
    for (const bad of ['0', '-1', '0.0000001', 'fast', '', '1e9']) {
      expect(() => parseRate(bad), bad).toThrow(/^--rate: /);
    }
  });
});

describe('encodeUserEvents', () => {
  const { events } = simulate(syntheticPrices({ hours: 30, stepMs: 600_000 }), {
    seed: 1,
    users: 10,
    rate: Decimal.parse('0.01', RATE_SCALE),
    signupSpanMs: 30 * 3_600_000,
  });

  it('encodes every generated event keyed by user, and they decode back to the same event', () => {
    const out = encodeUserEvents(events);
    expect(out.rejected).toEqual([]);
    expect(out.accepted).toEqual(events);
    const tx = events.filter((e) => e.kind === 'transaction');
    const rw = events.filter((e) => e.kind === 'reward');
    expect(out.transactions.map((r) => r.key)).toEqual(tx.map((e) => e.userId));
    expect(out.rewards.map((r) => r.key)).toEqual(rw.map((e) => e.userId));
    expect(out.transactions.map((r) => decodeRecord('transactions', r.value))).toEqual(
      tx.map((event) => ({ ok: true, event })),
    );
    expect(out.rewards.map((r) => decodeRecord('rewards', r.value))).toEqual(rw.map((event) => ({ ok: true, event })));
  });

  it('returns an invalid event with its reason instead of producing it', () => {
    const good = events.find((e): e is TransactionEvent => e.kind === 'transaction')!;
    const broken: TransactionEvent = { ...good, eventId: 'sim-1-bad', quantity: Decimal.zero(QTY_SCALE) };
    const out = encodeUserEvents([good, broken]);
    expect(out.accepted).toEqual([good]);
    expect(out.transactions).toHaveLength(1);
    expect(out.rejected).toEqual([
      { event: broken, reason: 'generated transaction is invalid: quantity: must be > 0, got 0.000000000000000000' },
    ]);
  });
});

describe('rendering', () => {
  const result: SimulateResult = {
    mode: 'bounded',
    seed: 7,
    users: 30,
    activeUsers: 28,
    rate: '0.01',
    topics: { prices: 'raw.prices', transactions: 'raw.transactions', rewards: 'raw.rewards', deadLetter: 'dlq' },
    prices: { read: 1800, used: 1800, invalid: 0, ignored: 0, late: 0 },
    events: 2345,
    transactions: 1800,
    rewards: 545,
    byType: {
      buy: 700,
      sell: 300,
      deposit: 120,
      withdrawal: 80,
      stake: 100,
      unstake: 50,
      card_spend: 450,
      cashback: 440,
      staking: 105,
    },
    spendsByTier: { Bronze: 200, Silver: 150, Gold: 90, Platinum: 10 },
    cappedSpends: 3,
    deadLettered: 0,
    refused: 0,
    eventTime: { from: '2024-03-09T20:01:40.136Z', to: '2024-03-11T21:58:55.055Z' },
    acked: 2345,
    wallMs: 1234,
    eventsPerSec: 1900,
    stoppedBy: 'prices',
  };

  it('prints the summary', () => {
    expect(formatSummary(result)).toEqual([
      '2,345 events (1,800 transactions, 545 rewards) from 1,800 prices, seed 7, 28/30 users active, bounded',
      'buy 700, sell 300, deposit 120, withdrawal 80, stake 100, unstake 50, card_spend 450, cashback 440, staking 105',
      'card spend by tier: Bronze 200, Silver 150, Gold 90, Platinum 10',
      'event time 2024-03-09T20:01:40.136Z .. 2024-03-11T21:58:55.055Z',
      '→ raw.transactions, raw.rewards; 2,345 records acknowledged, 0 dead-lettered → dlq',
      '1.2 s, 1,900 events/s, stopped by prices',
    ]);
  });

  it('prints a progress line with rate, totals and errors', () => {
    expect(
      formatProgress({
        elapsedMs: 3400,
        produced: 12_345,
        acked: 12_000,
        ratePerSec: 4100,
        transactions: 10_000,
        rewards: 2345,
        deadLettered: 0,
        eventTime: Date.UTC(2024, 2, 10, 1, 2, 3),
      }),
    ).toBe(
      'simulate 3s  sent 12,345 (4,100/s)  tx 10,000  rewards 2,345  acked 12,000  errors 0  event time 2024-03-10T01:02:03.000Z',
    );
  });
});
