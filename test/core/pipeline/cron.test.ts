import { describe, expect, it } from 'vitest';
import { nextFire, parseCron } from '../../../src/core/pipeline/cron.js';

const next = (expr: string, after: string) => nextFire(expr, new Date(after)).toISOString();

describe('parseCron', () => {
  it('expands *, lists, ranges and steps', () => {
    const s = parseCron('*/15 1,13 1-5 */3 *');
    expect([...s.minutes]).toEqual([0, 15, 30, 45]);
    expect([...s.hours]).toEqual([1, 13]);
    expect([...s.daysOfMonth]).toEqual([1, 2, 3, 4, 5]);
    expect([...s.months]).toEqual([1, 4, 7, 10]);
    expect(s.daysOfWeek.size).toBe(7);
    expect([s.domRestricted, s.dowRestricted]).toEqual([true, false]);
  });

  it('accepts month and day names case-insensitively, 7 as Sunday, and N/step', () => {
    const s = parseCron('5/20 0 * jan-MAR,Dec mon-fri,7');
    expect([...s.minutes]).toEqual([5, 25, 45]);
    expect([...s.months]).toEqual([1, 2, 3, 12]);
    expect([...s.daysOfWeek].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('expands macros', () => {
    expect([...parseCron('@daily').hours]).toEqual([0]);
    expect([...parseCron('@hourly').minutes]).toEqual([0]);
    expect([...parseCron('@weekly').daysOfWeek]).toEqual([0]);
  });

  it.each([
    ['* * * *', /expected 5 fields, got 4/],
    ['60 * * * *', /minute 60 is outside 0-59/],
    ['* 24 * * *', /hour 24 is outside 0-23/],
    ['* * 0 * *', /day-of-month 0 is outside 1-31/],
    ['* * * 13 *', /month 13 is outside 1-12/],
    ['* * * * 8', /day-of-week 8 is outside 0-7/],
    ['*/0 * * * *', /step "0" must be a positive number/],
    ['5-1 * * * *', /range 5-1 is reversed/],
    ['1,,2 * * * *', /empty list item/],
    ['* * * foo *', /month value "foo" is not a number/],
    ['@reboot', /unknown macro/],
  ])('rejects %s with a one-line reason', (expr, reason) => {
    expect(() => parseCron(expr)).toThrow(reason);
  });
});

describe('nextFire (UTC)', () => {
  it.each([
    [
      'every minute is strictly after, truncated to the minute',
      '* * * * *',
      '2024-03-01T10:15:42.123Z',
      '2024-03-01T10:16:00.000Z',
    ],
    [
      'exactly on a fire time moves to the next one',
      '30 2 * * *',
      '2024-03-01T02:30:00.000Z',
      '2024-03-02T02:30:00.000Z',
    ],
    ['daily 02:30 later the same day', '30 2 * * *', '2024-03-01T01:00:00Z', '2024-03-01T02:30:00.000Z'],
    ['month rollover', '0 0 1 * *', '2024-01-31T12:00:00Z', '2024-02-01T00:00:00.000Z'],
    ['year rollover', '0 6 * * *', '2024-12-31T23:59:00Z', '2025-01-01T06:00:00.000Z'],
    ['leap day', '0 0 29 2 *', '2024-03-01T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['31st skips short months', '0 12 31 * *', '2024-04-01T00:00:00Z', '2024-05-31T12:00:00.000Z'],
    ['weekdays only: Friday evening → Monday', '0 9 * * MON-FRI', '2024-03-01T18:00:00Z', '2024-03-04T09:00:00.000Z'],
    [
      'dom OR dow when both restricted (1st or Monday)',
      '0 0 1 * 1',
      '2024-03-02T00:00:00Z',
      '2024-03-04T00:00:00.000Z',
    ],
    ['dom OR dow: the 1st comes first', '0 0 1 * 1', '2024-03-26T00:00:00Z', '2024-04-01T00:00:00.000Z'],
    ['steps over hours', '15 */6 * * *', '2024-03-01T06:16:00Z', '2024-03-01T12:15:00.000Z'],
    ['Sunday as 7', '0 0 * * 7', '2024-03-01T00:00:00Z', '2024-03-03T00:00:00.000Z'],
    ['quarterly', '0 0 1 */3 *', '2024-02-10T00:00:00Z', '2024-04-01T00:00:00.000Z'],
  ])('%s', (_name, expr, after, expected) => {
    expect(next(expr, after)).toBe(expected);
  });

  it('throws for an expression that can never fire', () => {
    expect(() => nextFire('0 0 30 2 *', new Date('2024-01-01T00:00:00Z'))).toThrow(/never fires/);
  });
});
