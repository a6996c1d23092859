import { describe, expect, it } from 'vitest';
import { exact, fixed, percent, priceDecimals, priceText, quantity, sign, usd } from '../../src/cli/numbers.js';

describe('display numbers', () => {
  it('USD: 2 decimals, grouped, HALF-EVEN, no "-0.00"', () => {
    expect(usd('1234.565000000000')).toBe('1,234.56');
    expect(usd('1234.575000000000')).toBe('1,234.58');
    expect(usd('-0.005000000000')).toBe('0.00');
    expect(usd('-1234567.891')).toBe('-1,234,567.89');
    expect(usd(null)).toBe('-');
  });

  it('quantities: 8 decimals', () => {
    expect(quantity('1.500000000000000000')).toBe('1.50000000');
    expect(quantity('0.000000005000000000')).toBe('0.00000000');
    expect(quantity('0.000000015000000000')).toBe('0.00000002');
  });

  it('prices: decimals by magnitude', () => {
    expect(priceText('64516.188803542373')).toBe('64,516.19');
    expect(priceText('145.234567')).toBe('145.2346');
    expect(priceText('0.501234567')).toBe('0.5012');
    expect(priceText('0.000012345678')).toBe('0.00001235');
    expect(priceDecimals('0.000000000001')).toBe(12);
    expect(priceText('0')).toBe('0.00');
  });

  it('amounts of any size render (golden case 15: 24-25 integer digits), as mantissa and exponent', () => {
    expect(usd('617283945061724999999993.827160549383')).toBe('6.1728e23');
    expect(usd('-1219326311370211247064463.046668263452')).toBe('-1.2193e24');
    expect(usd('999995000000000000000.5')).toBe('1.0000e21');
    expect(priceText('98765432109.876543210987')).toBe('98,765,432,109.88');
    expect(usd('999999999999999.99')).toBe('999,999,999,999,999.99');
    expect(usd('1000000000000000')).toBe('1.0000e15');
  });

  it('exact: every digit, trailing zeros dropped', () => {
    expect(exact('1999.800019998000')).toBe('1999.800019998');
    expect(exact('5.000')).toBe('5');
    expect(exact('617283945061724999999993.827160549383')).toBe('617283945061724999999993.827160549383');
    expect(exact('n/a')).toBe('n/a');
  });

  it('sign and fixed', () => {
    expect([sign('-0.1'), sign('0.000'), sign('3'), sign(null)]).toEqual([-1, 0, 1, 0]);
    expect(fixed('12345.6789', 2, { group: false })).toBe('12345.68');
  });

  it('percent moves the point two places exactly, HALF-EVEN at 2 decimals', () => {
    expect(percent('0.125000')).toBe('12.50%');
    expect(percent('-0.250000')).toBe('-25.00%');
    expect(percent('0.000125')).toBe('0.01%');
    expect(percent('0.000050')).toBe('0.00%');
    expect(percent('-0.000040')).toBe('0.00%');
    expect(percent('12')).toBe('1,200.00%');
    expect(percent(null)).toBe('-');
  });
});
