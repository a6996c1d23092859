import { describe, expect, it } from 'vitest';
import { Decimal, PRICE_SCALE } from '../../../src/core/money/decimal.js';
import { correlationFacts, datesEnding } from '../../../src/core/warehouse/correlations.js';

const series = (start: string, closes: string[]) => {
  const dates = datesEnding(start, closes.length);
  return new Map(dates.map((d, i) => [d, Decimal.parse(closes[i]!, PRICE_SCALE)]));
};

describe('correlationFacts', () => {
  it('gives the golden perfect correlation over aligned daily closes (case 27)', () => {
    const closes = new Map([
      ['BTC', series('2026-01-04', ['100', '110', '121', '108.9'])],
      ['ETH', series('2026-01-04', ['10', '12', '14.4', '11.52'])],
    ]);
    const facts = correlationFacts(closes, '2026-01-04', [3, 30]);
    expect(facts.map((f) => [f.windowDays, f.a, f.b, f.observations, f.correlation?.toString()])).toEqual([
      [3, 'BTC', 'ETH', 3, '1.000000000000'],
      [30, 'BTC', 'ETH', 3, '1.000000000000'],
    ]);
  });

  it('uses only dates where both assets closed; too few returns give no correlation', () => {
    const btc = series('2026-01-04', ['100', '110', '121', '108.9']);
    const eth = new Map([...series('2026-01-04', ['10', '12', '14.4', '11.52'])].filter(([d]) => d !== '2026-01-02'));
    const sol = series('2026-01-04', ['5']);
    const facts = correlationFacts(
      new Map([
        ['BTC', btc],
        ['ETH', eth],
        ['SOL', sol],
      ]),
      '2026-01-04',
      [30],
    );
    expect(facts.map((f) => [f.a, f.b, f.observations, f.correlation?.toString() ?? null])).toEqual([
      ['BTC', 'ETH', 2, '1.000000000000'],
      ['BTC', 'SOL', 0, null],
      ['ETH', 'SOL', 0, null],
    ]);
  });

  it('leaves out closes older than the window', () => {
    expect(datesEnding('2026-01-31', 31)[0]).toBe('2026-01-01');
    const old = new Map([['2025-11-01', Decimal.parse('1', PRICE_SCALE)]]);
    expect(
      correlationFacts(
        new Map([
          ['A', old],
          ['B', old],
        ]),
        '2026-01-31',
        [30],
      ),
    ).toEqual([]);
  });
});
