import { describe, expect, it } from 'vitest';
import { Decimal, PRICE_SCALE } from '../../../src/core/money/decimal.js';
import { fmtPct, fmtPrice, fmtSignedUsd, isoSecond, plainLines } from '../../../src/core/ticker/format.js';
import { buildTickerView } from '../../../src/core/ticker/model.js';
import { loadSnapshot } from './load-fixture.js';

const p = (s: string) => Decimal.parse(s, PRICE_SCALE);

describe('ticker formatting', () => {
  it('keeps significant digits by magnitude, HALF-EVEN', () => {
    expect([p('43000.125'), p('43000.135'), p('98.12345'), p('0.000012345')].map(fmtPrice)).toEqual([
      '43000.12',
      '43000.14',
      '98.1234',
      '0.00001234',
    ]);
    expect(fmtPrice(null)).toBe('n/a');
  });

  it('signs percentages and amounts by their rounded value', () => {
    expect([fmtPct(p('0.5')), fmtPct(p('-0.004')), fmtPct(p('0.004')), fmtPct(null)]).toEqual([
      '+0.50%',
      '0.00%',
      '0.00%',
      'n/a',
    ]);
    expect([fmtSignedUsd(p('1894.56')), fmtSignedUsd(p('-1234567.891'))]).toEqual(['+1,894.56', '-1,234,567.89']);
    expect(isoSecond(Date.UTC(2026, 10, 25, 10, 0, 30, 999))).toBe('2026-11-25T10:00:30Z');
  });

  it('prints one plain line per symbol, the user, and STALE first when behind', () => {
    expect(plainLines(buildTickerView(loadSnapshot('live')))).toEqual([
      '2026-11-25T10:00:30Z BTCUSDT 43000.12 +0.52% 1m +0.02% 5m +2.38% 24h',
      '2026-11-25T10:00:30Z ETHUSDT 2297.50 -0.02% 1m -0.11% 5m -0.11% 24h',
      '2026-11-25T10:00:30Z SOLUSDT 98.1234 -0.38% 1m -0.38% 5m -0.38% 24h',
      '2026-11-25T10:00:30Z USER alice value 27,095.06 pnl +1,894.56 (+7.52%) tier gold unpriced ADA',
    ]);
    expect(plainLines(buildTickerView(loadSnapshot('stale')))[0]).toBe(
      '2026-11-25T10:00:30Z STALE watermark 45s behind',
    );
    expect(plainLines(buildTickerView(loadSnapshot('empty')))).toEqual(['2026-11-25T10:00:30Z STALE no data']);
  });
});
