import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CryptolambdaError } from '../../../src/core/errors.js';
import {
  Decimal,
  divRoundHalfEven,
  MAX_PRECISION,
  PRICE_SCALE,
  pow10,
  price,
  QTY_SCALE,
  qty,
  USD_SCALE,
  usd,
} from '../../../src/core/money/decimal.js';

const parse = (s: string, scale: number, round = false) => Decimal.parse(s, scale, { round });
const reason = (s: string, scale: number, round = false) => Decimal.tryParse(s, scale, { round });

describe('Decimal parse / format', () => {
  it('formats canonically with exactly `scale` fractional digits', () => {
    expect(qty('1.5').toString()).toBe('1.500000000000000000');
    expect(usd('0').toString()).toBe('0.000000000000');
    expect(price('42000').toString()).toBe('42000.000000000000');
    expect(Decimal.fromUnits(7n, 0).toString()).toBe('7');
    expect(Decimal.fromUnits(-5n, 3).toString()).toBe('-0.005');
    expect(qty('0.000000000000000001').units).toBe(1n);
  });

  it('round-trips canonical text, toPlain and toJSON', () => {
    expect(parse('-0.000001', 6).toPlain()).toBe('-0.000001');
    expect(parse('100', 2).toPlain()).toBe('100');
    expect(parse('1.50', 12).toPlain()).toBe('1.5');
    expect(parse('0', 12).toPlain()).toBe('0');
    expect(Decimal.fromUnits(42n, 0).toPlain()).toBe('42');
    expect(JSON.stringify({ v: usd('1.25') })).toBe('{"v":"1.250000000000"}');
  });

  it('round-trips any value through toString at every scale (property)', () => {
    fc.assert(
      fc.property(fc.bigInt(-(10n ** 38n) + 1n, 10n ** 38n - 1n), fc.integer({ min: 0, max: 37 }), (units, scale) => {
        const d = Decimal.fromUnits(units, scale);
        const back = parse(d.toString(), scale);
        expect(back.units).toBe(units);
        expect(parse(d.toPlain(), scale).units).toBe(units);
      }),
    );
  });

  it('accepts signs, surrounding spaces and exponent notation', () => {
    expect(parse('+1.25', 2).units).toBe(125n);
    expect(parse(' 3.5 ', 1).units).toBe(35n);
    expect(parse('-0.1', 18).toString()).toBe('-0.100000000000000000');
    expect(parse('-0', 2).toString()).toBe('0.00');
    expect(parse('1e-8', QTY_SCALE).toString()).toBe('0.000000010000000000');
    expect(parse('1.5E3', PRICE_SCALE).toString()).toBe('1500.000000000000');
    expect(parse('-2.5e-1', 2).toString()).toBe('-0.25');
    expect(parse('12e+2', 0).toString()).toBe('1200');
    expect(parse('1e-18', QTY_SCALE).units).toBe(1n);
    expect(parse('123.456e-3', 6).toString()).toBe('0.123456');
  });

  it('rejects malformed text with a reason, never a throw', () => {
    expect(reason('abc', 2)).toBe('not a decimal number: "abc"');
    expect(reason('1.', 2)).toBe('not a decimal number: "1."');
    expect(reason('.5', 2)).toBe('not a decimal number: ".5"');
    expect(reason('1,000', 2)).toBe('not a decimal number: "1,000"');
    expect(reason('', 2)).toBe('not a decimal number: ""');
    expect(reason('NaN', 2)).toBe('not a decimal number: "NaN"');
    expect(reason('1e1001', 2)).toBe('exponent out of range: "1e1001"');
    expect(Decimal.tryParse(12 as unknown as string, 2)).toBe('expected a decimal string, got number');
  });

  it('never drops digits silently: extra non-zero decimals are rejected unless round is asked', () => {
    expect(reason('0.0000000000000000001', QTY_SCALE)).toBe('"0.0000000000000000001" has more than 18 decimal places');
    expect(reason('1e-19', QTY_SCALE)).toBe('"1e-19" has more than 18 decimal places');
    expect(parse('1.230000', 2).units).toBe(123n); // trailing zeros beyond the scale are not precision
    expect(parse('0.125', 2, true).units).toBe(12n);
    expect(parse('1e-19', QTY_SCALE, true).units).toBe(0n);
  });

  it('rejects values beyond DECIMAL(38, scale)', () => {
    const max20 = '99999999999999999999.999999999999999999'; // 20 + 18 = 38 digits
    expect(parse(max20, QTY_SCALE).precision()).toBe(38);
    expect(reason('100000000000000000000', QTY_SCALE)).toBe('"100000000000000000000" exceeds 38 significant digits');
    expect(reason('-100000000000000000000', QTY_SCALE)).toBe('"-100000000000000000000" exceeds 38 significant digits');
    expect(parse('99999999999999999999999999', USD_SCALE).precision()).toBe(38);
    expect(reason('1e26', USD_SCALE)).toBe('"1e26" exceeds 38 significant digits');
    expect(MAX_PRECISION).toBe(38);
  });

  it('precision counts integer digits plus scale, at least scale + 1', () => {
    expect(usd('0').precision()).toBe(13);
    expect(usd('123.4').precision()).toBe(15);
    expect(usd('-123.4').precision()).toBe(15);
  });

  it('throws INVALID_DECIMAL from parse() and INTERNAL for bad scales', () => {
    expect(() => Decimal.parse('x', 2)).toThrowError(CryptolambdaError);
    try {
      Decimal.parse('x', 2);
    } catch (e) {
      expect((e as CryptolambdaError).code).toBe('INVALID_DECIMAL');
    }
    expect(() => Decimal.fromUnits(1n, 39)).toThrowError(/invalid decimal scale 39/);
    expect(() => Decimal.fromUnits(1n, -1)).toThrowError(/invalid decimal scale/);
    expect(() => Decimal.fromUnits(1n, 1.5)).toThrowError(/invalid decimal scale/);
    expect(() => pow10(-1)).toThrowError(/negative power of ten/);
    expect(pow10(20)).toBe(100000000000000000000n);
  });
});

describe('HALF-EVEN rounding', () => {
  it('divRoundHalfEven sends ties to the even neighbour, both signs', () => {
    const cases: [bigint, bigint, bigint][] = [
      [1n, 2n, 0n],
      [3n, 2n, 2n],
      [5n, 2n, 2n],
      [7n, 2n, 4n],
      [-1n, 2n, 0n],
      [-3n, 2n, -2n],
      [-5n, 2n, -2n],
      [-7n, 2n, -4n],
      [5n, -2n, -2n],
      [-5n, -2n, 2n],
      [7n, 3n, 2n],
      [8n, 3n, 3n],
      [-8n, 3n, -3n],
      [6n, 3n, 2n],
      [0n, 5n, 0n],
    ];
    for (const [n, d, want] of cases) expect(divRoundHalfEven(n, d), `${n}/${d}`).toBe(want);
    expect(() => divRoundHalfEven(1n, 0n)).toThrowError(/division by zero/);
  });

  it('rescale rounds half-even only when digits are dropped', () => {
    const r = (s: string, from: number, to: number) => parse(s, from).rescale(to).toString();
    expect(r('0.5', 1, 0)).toBe('0');
    expect(r('1.5', 1, 0)).toBe('2');
    expect(r('2.5', 1, 0)).toBe('2');
    expect(r('2.51', 2, 0)).toBe('3');
    expect(r('-2.5', 1, 0)).toBe('-2');
    expect(r('-3.5', 1, 0)).toBe('-4');
    expect(r('-2.49', 2, 0)).toBe('-2');
    expect(r('1.0000000000005', 13, 12)).toBe('1.000000000000');
    expect(r('1.0000000000015', 13, 12)).toBe('1.000000000002');
    expect(r('1.5', 1, 3)).toBe('1.500');
    const same = usd('1');
    expect(same.rescale(USD_SCALE)).toBe(same);
  });

  it('mul rounds the exact product half-even to the requested scale', () => {
    expect(parse('0.5', 1).mul(parse('0.1', 1), 1).toString()).toBe('0.0'); // 0.05
    expect(parse('1.5', 1).mul(parse('0.1', 1), 1).toString()).toBe('0.2'); // 0.15
    expect(parse('2.5', 1).mul(parse('0.1', 1), 1).toString()).toBe('0.2'); // 0.25
    expect(parse('-2.5', 1).mul(parse('0.1', 1), 1).toString()).toBe('-0.2');
    expect(parse('3', 0).mul(parse('4', 0), 2).toString()).toBe('12.00');
    // 1 wei x 2000 USD = 2e-15 USD: below a USD_SCALE unit, rounds to zero.
    expect(qty('0.000000000000000001').mul(price('2000'), USD_SCALE).isZero()).toBe(true);
  });

  it('div rounds the quotient half-even and refuses zero', () => {
    expect(parse('1', 0).div(parse('8', 0), 2).toString()).toBe('0.12'); // 0.125
    expect(parse('3', 0).div(parse('8', 0), 2).toString()).toBe('0.38'); // 0.375
    expect(parse('-1', 0).div(parse('8', 0), 2).toString()).toBe('-0.12');
    expect(parse('2', 0).div(parse('3', 0), 4).toString()).toBe('0.6667');
    expect(usd('100').div(qty('3'), PRICE_SCALE).toString()).toBe('33.333333333333');
    // scale shift below zero: a 18-scale dividend into a 0-scale result
    expect(qty('7').div(parse('2', 0), 0).toString()).toBe('4'); // 3.5 -> 4
    expect(qty('5').div(parse('2', 0), 0).toString()).toBe('2'); // 2.5 -> 2
    expect(() => usd('1').div(usd('0'), 2)).toThrowError(/division by zero/);
  });
});

describe('Decimal arithmetic and comparison', () => {
  it('adds and subtracts exactly at the larger scale', () => {
    const s = usd('1.5').add(qty('0.000000000000000001'));
    expect(s.scale).toBe(18);
    expect(s.toString()).toBe('1.500000000000000001');
    expect(usd('1').sub(usd('1.25')).toString()).toBe('-0.250000000000');
    expect(qty('2').neg().abs().toString()).toBe('2.000000000000000000');
    expect(qty('-2').abs().toString()).toBe('2.000000000000000000');
  });

  it('compares across scales', () => {
    expect(usd('1').eq(qty('1'))).toBe(true);
    expect(usd('1').cmp(qty('1.000000000000000001'))).toBe(-1);
    expect(qty('2').cmp(usd('1.999999999999'))).toBe(1);
    expect(usd('1').lt(usd('2')) && usd('2').lte(usd('2')) && usd('3').gt(usd('2')) && usd('2').gte(usd('2'))).toBe(
      true,
    );
    expect(Decimal.max(usd('1'), usd('2')).toString()).toBe('2.000000000000');
    expect(Decimal.min(usd('1'), usd('-2')).toString()).toBe('-2.000000000000');
    expect([usd('0').isZero(), usd('-1').isNegative(), usd('1').isPositive(), usd('0').isPositive()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });

  it('displays at a chosen precision with optional grouping', () => {
    expect(usd('1234567.891').toDisplay(2)).toBe('1234567.89');
    expect(usd('1234567.895').toDisplay(2, { group: true })).toBe('1,234,567.90'); // tie -> even (…90)
    expect(usd('-1234567.885').toDisplay(2, { group: true })).toBe('-1,234,567.88');
    expect(usd('999.5').toDisplay(0, { group: true })).toBe('1,000');
    expect(usd('12').toDisplay(0)).toBe('12');
  });

  it('parses short plain texts on the fast path exactly as the general path does (any text, any scale)', () => {
    // A leading space always takes the general path (it trims first): the two must agree on every
    // text, by value and scale, or both refuse it.
    const same = (text: string, scale: number) => {
      const fast = Decimal.tryParse(text, scale);
      const general = Decimal.tryParse(` ${text}`, scale);
      if (typeof general === 'string') expect(typeof fast).toBe('string');
      else {
        expect(fast).toBeInstanceOf(Decimal);
        expect([(fast as Decimal).units, (fast as Decimal).scale]).toEqual([general.units, general.scale]);
      }
    };
    fc.assert(
      fc.property(
        fc.oneof(
          fc.stringMatching(/^[-+]?[0-9]{0,18}(\.[0-9]{0,18})?$/),
          fc.string({ unit: fc.constantFrom(...'0123456789.-+eE x'), maxLength: 20 }),
          fc
            .tuple(fc.bigInt(-(10n ** 20n), 10n ** 20n), fc.integer({ min: 0, max: 18 }))
            .map(([u, k]) => Decimal.fromUnits(u, k).toString()),
        ),
        fc.integer({ min: 0, max: 18 }),
        same,
      ),
      { numRuns: 3000 },
    );
    // The edges of the fast path: 15 digits of units, signs, zeros, a dot at either end.
    for (const t of ['999999999999999', '9999999999999999', '-0', '+0.0', '.5', '5.', '-', '+', '', '00012.3400'])
      for (const k of [0, 2, 8, 15, 16]) same(t, k);
    expect(Decimal.tryParse('-12.5', 8)).toEqual(Decimal.parse(' -12.50000000', 8));
    expect(Decimal.tryParse('0.123', 2)).toMatch(/has more than 2 decimal places/);
  });
});
