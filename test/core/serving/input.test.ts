import { describe, expect, it } from 'vitest';
import { CryptolambdaError } from '../../../src/core/errors.js';
import {
  addDays,
  daysAfter,
  parseDate,
  parseInstant,
  parseSymbol,
  parseUserId,
} from '../../../src/core/serving/input.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof CryptolambdaError ? e.code : 'OTHER';
  }
};

describe('serving input validation', () => {
  it.each([
    'a:b',
    '*',
    "x' OR 1=1 --",
    'a\nb',
    '',
    'a b',
    'x'.repeat(65),
    'ü',
    'a?',
    '[a]',
  ])('rejects user id %j', (s) => {
    expect(code(() => parseUserId(s))).toBe('INVALID_ARGUMENT');
  });

  it('accepts valid user ids and says what is expected otherwise', () => {
    expect(parseUserId('u-0001_A')).toBe('u-0001_A');
    expect(() => parseUserId('a:b')).toThrow(`invalid user id "a:b": expected 1-64 letters, digits, '_' or '-'`);
    expect(() => parseUserId('a\nb')).toThrow('invalid user id "a\\nb"');
  });

  it.each(['BTC:USDT', '*', "x' OR 1=1 --", 'BTC\nUSDT', 'B', 'BTC-USDT', ''])('rejects symbol %j', (s) => {
    expect(code(() => parseSymbol(s))).toBe('INVALID_ARGUMENT');
  });

  it('upper-cases symbols', () => {
    expect(parseSymbol('btcusdt')).toBe('BTCUSDT');
  });

  it('parses dates and instants strictly in UTC', () => {
    expect(parseDate('2026-11-20')).toBe('2026-11-20');
    expect(code(() => parseDate('2026-02-30'))).toBe('INVALID_ARGUMENT');
    expect(code(() => parseDate("2026-11-20' --"))).toBe('INVALID_ARGUMENT');
    expect(parseInstant('2026-11-20')).toBe(Date.UTC(2026, 10, 20));
    expect(parseInstant('2026-11-20T10:00Z')).toBe(Date.UTC(2026, 10, 20, 10));
    expect(parseInstant('2026-11-20T10:00:00+01:00')).toBe(Date.UTC(2026, 10, 20, 9));
    expect(parseInstant('1763632800000')).toBe(1763632800000);
    expect(code(() => parseInstant('2026-11-20T10:00'))).toBe('INVALID_ARGUMENT');
    expect(code(() => parseInstant('yesterday'))).toBe('INVALID_ARGUMENT');
  });

  it('enumerates the days after a cutoff', () => {
    expect(daysAfter('2026-11-28', '2026-12-01')).toEqual(['2026-11-29', '2026-11-30', '2026-12-01']);
    expect(daysAfter('2026-11-28', '2026-11-28')).toEqual([]);
    expect(daysAfter(null, '2026-11-28', 2)).toEqual(['2026-11-27', '2026-11-28']);
    expect(daysAfter('2020-01-01', '2026-11-28', 3)).toEqual(['2026-11-26', '2026-11-27', '2026-11-28']);
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
  });
});
