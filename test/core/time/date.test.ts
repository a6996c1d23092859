import { describe, expect, it } from 'vitest';
import {
  addDays,
  DAY_MS,
  dateRange,
  datesEnding,
  dayOf,
  dayStart,
  daysAfter,
  parseDate,
  parseInstant,
  previousDate,
  tryParseDate,
} from '../../../src/core/time/date.js';

describe('the one UTC date module', () => {
  it('accepts only real calendar dates', () => {
    expect(['2024-02-29', '2026-12-31'].map(tryParseDate)).toEqual(['2024-02-29', '2026-12-31']);
    for (const bad of ['2026-02-29', '2026-13-01', '2026-1-01', "2026-11-20' --", '']) {
      expect(tryParseDate(bad), bad).toBeUndefined();
      expect(() => parseDate(bad, '--date'), bad).toThrow(/^invalid --date ".*": expected a UTC date YYYY-MM-DD$/);
    }
  });

  it('days and instants are UTC whatever the machine zone', () => {
    expect(dayOf(Date.UTC(2026, 10, 23, 23, 59, 59, 999))).toBe('2026-11-23');
    expect(dayStart('2026-11-23')).toBe(Date.UTC(2026, 10, 23));
    expect([addDays('2024-02-28', 1), addDays('2024-03-01', -1), previousDate('2026-01-01')]).toEqual([
      '2024-02-29',
      '2024-02-29',
      '2025-12-31',
    ]);
    expect(DAY_MS).toBe(86_400_000);
    expect(parseInstant('2026-11-20T10:00+02:00')).toBe(Date.UTC(2026, 10, 20, 8));
    expect(parseInstant('2026-11-20')).toBe(Date.UTC(2026, 10, 20));
    expect(() => parseInstant('2026-11-20T10:00')).toThrow(/ISO timestamp with Z or an offset/);
  });

  it('ranges: inclusive, empty when inverted, bounded windows', () => {
    expect(dateRange('2025-12-30', '2026-01-02')).toEqual(['2025-12-30', '2025-12-31', '2026-01-01', '2026-01-02']);
    expect(dateRange('2026-01-02', '2026-01-01')).toEqual([]);
    expect(datesEnding('2026-03-01', 3)).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
    expect(daysAfter('2026-11-20', '2026-11-22')).toEqual(['2026-11-21', '2026-11-22']);
    expect(daysAfter(null, '2026-11-22', 2)).toEqual(['2026-11-21', '2026-11-22']);
    expect(daysAfter('2026-01-01', '2026-11-22', 2)).toEqual(['2026-11-21', '2026-11-22']);
    expect(daysAfter('2026-11-22', '2026-11-22')).toEqual([]);
  });
});
