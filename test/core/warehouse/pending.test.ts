import { describe, expect, it } from 'vitest';
import {
  carryForwardValid,
  dateRange,
  parseDate,
  pendingDates,
  previousDate,
} from '../../../src/core/warehouse/pending.js';

describe('pendingDates', () => {
  const files = [
    { dt: '2026-01-01', commit: 1 },
    { dt: '2026-01-02', commit: 1 },
    { dt: '2026-01-03', commit: 2 },
  ];

  it('lists raw dates without a build', () => {
    expect(pendingDates(files, [{ date: '2026-01-01', rawCommit: 1 }])).toEqual({
      unbuilt: ['2026-01-02', '2026-01-03'],
      stale: [],
      rebuild: ['2026-01-02', '2026-01-03'],
    });
  });

  it('a late file makes its date stale and every built date after it, not the ones before', () => {
    const builds = ['2026-01-01', '2026-01-02', '2026-01-03'].map((date) => ({ date, rawCommit: 2 }));
    const late = [...files, { dt: '2026-01-02', commit: 3 }];
    expect(pendingDates(late, builds)).toEqual({
      unbuilt: [],
      stale: ['2026-01-02', '2026-01-03'],
      rebuild: ['2026-01-02', '2026-01-03'],
    });
    expect(pendingDates(files, builds).rebuild).toEqual([]);
    // Rebuilding the late date alone leaves the later date stale: it carried the old end state.
    const rebuilt = builds.map((b) => (b.date === '2026-01-02' ? { ...b, rawCommit: 3 } : b));
    expect(pendingDates(late, rebuilt).rebuild).toEqual(['2026-01-03']);
  });

  it('a carry-forward is valid only when nothing dated up to it was published after its build', () => {
    expect(carryForwardValid(files, { date: '2026-01-02', rawCommit: 1 })).toBe(true);
    expect(carryForwardValid([...files, { dt: '2026-01-01', commit: 4 }], { date: '2026-01-02', rawCommit: 1 })).toBe(
      false,
    );
  });
});

describe('dates', () => {
  it('parses real calendar dates only', () => {
    expect(parseDate('2024-02-29')).toBe('2024-02-29');
    expect(parseDate('2025-02-29')).toBeUndefined();
    expect(parseDate('2025-1-01')).toBeUndefined();
    expect(parseDate("2025-01-01'; DROP")).toBeUndefined();
  });

  it('ranges and the previous date cross month and year ends', () => {
    expect(dateRange('2025-12-30', '2026-01-02')).toEqual(['2025-12-30', '2025-12-31', '2026-01-01', '2026-01-02']);
    expect(dateRange('2026-01-02', '2026-01-01')).toEqual([]);
    expect(previousDate('2024-03-01')).toBe('2024-02-29');
  });
});
