import { describe, expect, it } from 'vitest';
import { formatDuration, tryParseDuration } from '../../../src/core/time/duration.js';

describe('the one duration syntax', () => {
  it('reads 500ms, 30s, 5m, 2h, 2d, 1w, decimals and compounds', () => {
    expect(['500ms', '30s', '5m', '2h', '2d', '1w', '1.5m', '1h30m', '0'].map(tryParseDuration)).toEqual([
      500, 30_000, 300_000, 7_200_000, 172_800_000, 604_800_000, 90_000, 5_400_000, 0,
    ]);
  });

  it('rejects a bare number (ms or seconds?) and anything else, with a reason', () => {
    expect(tryParseDuration('5000')).toBe('"5000" has no unit (e.g. 500ms, 30s, 5m, 2h, 2d)');
    for (const bad of ['', '-5m', 'soon', '5 m', '5mm', 'm5']) expect(typeof tryParseDuration(bad), bad).toBe('string');
  });

  it('formats the shortest exact text', () => {
    expect([0, 500, 90_000, 5_400_000, 172_800_000, 1500].map(formatDuration)).toEqual([
      '0',
      '500ms',
      '90s',
      '90m',
      '2d',
      '1500ms',
    ]);
  });
});
