import { describe, expect, it } from 'vitest';
import { Decimal, QTY_SCALE, USD_SCALE } from '../../../src/core/money/decimal.js';
import { classify, form8949Csv, gainsReport } from '../../../src/core/portfolio/gains.js';
import type { Disposal } from '../../../src/core/portfolio/lot-accounting.js';

const u = (s: string) => Decimal.parse(s, USD_SCALE);
const DAY = 86_400_000;
const T = Date.UTC(2025, 0, 10);

const row = (o: Partial<Omit<Disposal, 'proceeds'>> & { proceeds: string; cost: string }): Disposal => {
  const proceeds = u(o.proceeds);
  const costBasis = u(o.cost);
  return {
    eventId: o.eventId ?? 's1',
    userId: 'alice',
    asset: o.asset ?? 'BTC',
    kind: o.kind ?? 'sell',
    piece: o.piece ?? 0,
    lotId: o.lotId ?? 'b1',
    acquiredAt: o.acquiredAt ?? T - 10 * DAY,
    disposedAt: o.disposedAt ?? T,
    quantity: o.quantity ?? Decimal.parse('0.5', QTY_SCALE),
    proceeds,
    costBasis,
    gain: proceeds.sub(costBasis),
  };
};

describe('holding period', () => {
  it('is long only when held MORE than the threshold in whole days', () => {
    expect(classify(row({ proceeds: '1', cost: '0', acquiredAt: T - 365 * DAY }))).toMatchObject({
      holdingDays: 365,
      term: 'short',
    });
    expect(classify(row({ proceeds: '1', cost: '0', acquiredAt: T - 366 * DAY })).term).toBe('long');
    expect(classify(row({ proceeds: '1', cost: '0', acquiredAt: T - 366 * DAY + 1 })).term).toBe('short');
    expect(classify(row({ proceeds: '1', cost: '0', acquiredAt: T - 40 * DAY }), 30).term).toBe('long');
  });
});

describe('gainsReport', () => {
  const rows = [
    row({ eventId: 's2', lotId: 'b2', proceeds: '225', cost: '195.004', acquiredAt: T - 400 * DAY }),
    row({ eventId: 's1', lotId: 'b1', proceeds: '150', cost: '100', disposedAt: T - DAY }),
    row({ eventId: 'w1', kind: 'fee', lotId: 'b1', proceeds: '0', cost: '10' }),
    row({ eventId: 'w1', kind: 'expense', lotId: '', proceeds: '0', cost: '2' }),
    row({ eventId: 'x', proceeds: '999', cost: '0', disposedAt: Date.UTC(2024, 11, 31, 23, 59) }),
  ];
  const r = gainsReport(rows, 2025);

  it('keeps the year, orders by disposal, and splits short / long / other exactly', () => {
    expect(r.rows.map((x) => [x.eventId, x.term])).toEqual([
      ['s1', 'short'],
      ['s2', 'long'],
      ['w1', 'short'],
    ]);
    expect(r.short.gain.toPlain()).toBe('40');
    expect(r.long.gain.toPlain()).toBe('29.996');
    expect(r.other.toPlain()).toBe('-2');
    expect(r.realized.toPlain()).toBe('67.996');
  });

  it('writes Form 8949 lines, short-term (Part I) first, cents HALF-EVEN, (h) = (d) - (e)', () => {
    expect(form8949Csv(r)).toBe(
      [
        'part,description,date_acquired,date_sold,proceeds,cost_basis,code,adjustment,gain_or_loss,lot_id,event_id',
        'I,0.5 BTC,12/31/2024,01/09/2025,150.00,100.00,,,50.00,b1,s1',
        'I,0.5 BTC,12/31/2024,01/10/2025,0.00,10.00,,,-10.00,b1,w1',
        'II,0.5 BTC,12/07/2023,01/10/2025,225.00,195.00,,,30.00,b2,s2',
        '',
      ].join('\n'),
    );
  });
});
