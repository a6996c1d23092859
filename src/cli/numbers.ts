import { divRoundHalfEven, pow10 } from '../core/money/decimal.js';

/**
 * Display precision for people, from the exact decimal strings `--json` prints. Works on the text
 * with BigInt, so an amount of any size renders (the warehouse holds up to 38 digits at scale 12
 * or 18; re-parsing those at a storage scale overflowed Decimal's 38-digit guard and made
 * `portfolio`/`top` fail on golden case 15). Rounding is HALF-EVEN, as everywhere in the project.
 *
 * - USD amounts: 2 decimals, thousands grouped.
 * - Quantities: 8 decimals (satoshi resolution; ERC-20's 18 are noise on a screen).
 * - Prices: the digits a trader reads — 2 decimals from 1,000, 4 from 1, and 4 significant
 *   digits below 1 (0.00001234), so a 64,516.19 BTC and a 0.5012 DOGE both read naturally.
 * - Anything of 16 or more integer digits is shown as mantissa and exponent (1.2346e21): the
 *   column stays readable and `--wide` / `--json` / `--output csv` still give every digit.
 */
const NUM_RE = /^([+-])?(\d+)(?:\.(\d*))?$/;

interface Parsed {
  readonly neg: boolean;
  /** |value| = units / 10^scale */
  readonly units: bigint;
  readonly scale: number;
}

const parse = (s: string): Parsed | undefined => {
  const m = NUM_RE.exec(s.trim());
  if (!m) return undefined;
  const frac = m[3] ?? '';
  return { neg: m[1] === '-', units: BigInt(m[2]! + frac), scale: frac.length };
};

/** Rounded to `dp` decimals: integer and fraction digit strings (no sign). */
const roundTo = (p: Parsed, dp: number): { int: string; frac: string; zero: boolean } => {
  const u = dp >= p.scale ? p.units * pow10(dp - p.scale) : divRoundHalfEven(p.units, pow10(p.scale - dp));
  const digits = u.toString().padStart(dp + 1, '0');
  return { int: digits.slice(0, digits.length - dp), frac: digits.slice(digits.length - dp), zero: u === 0n };
};

const group = (int: string): string => int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** Integer digits at or beyond which a value is shown as mantissa + exponent. */
export const SCIENTIFIC_DIGITS = 16;

const scientific = (p: Parsed, intDigits: number): string => {
  const exp = intDigits - 1;
  // 5 significant digits: mantissa d.dddd
  const m = roundTo({ neg: false, units: p.units, scale: p.scale + exp }, 4);
  let int = m.int;
  let frac = m.frac;
  let e = exp;
  if (int.length > 1) {
    // 9.99995e20 rounds up to 10.0000: renormalise.
    frac = (int.slice(1) + frac).slice(0, 4);
    int = int.slice(0, 1);
    e += 1;
  }
  return `${p.neg ? '-' : ''}${int}.${frac}e${e}`;
};

const intDigitsOf = (p: Parsed): number => {
  const int = p.units / pow10(p.scale);
  return int === 0n ? 0 : int.toString().length;
};

/** Fixed decimals, grouped, sign kept only when the rounded value is non-zero. */
export const fixed = (s: string | null, dp: number, opts: { group?: boolean } = {}): string => {
  if (s === null) return '-';
  const p = parse(s);
  if (!p) return s;
  const digits = intDigitsOf(p);
  if (digits >= SCIENTIFIC_DIGITS) return scientific(p, digits);
  const r = roundTo(p, dp);
  const int = opts.group === false ? r.int : group(r.int);
  return `${p.neg && !r.zero ? '-' : ''}${int}${dp > 0 ? `.${r.frac}` : ''}`;
};

export const usd = (s: string | null): string => fixed(s, 2);

/** A fraction (0.125) as a percent at `dp` decimals ("12.50%"): the decimal point moves two places, exactly. */
export const percent = (s: string | null, dp = 2): string => {
  if (s === null) return '-';
  const p = parse(s);
  if (!p) return s;
  const moved = p.scale >= 2 ? { ...p, scale: p.scale - 2 } : { ...p, units: p.units * pow10(2 - p.scale), scale: 0 };
  const r = roundTo(moved, dp);
  return `${p.neg && !r.zero ? '-' : ''}${group(r.int)}${dp > 0 ? `.${r.frac}` : ''}%`;
};
export const quantity = (s: string | null): string => fixed(s, 8);

/** Decimals a price gets, by its magnitude (see the module comment). */
export const priceDecimals = (s: string): number => {
  const p = parse(s);
  if (!p || p.units === 0n) return 2;
  const digits = intDigitsOf(p);
  if (digits >= 4) return 2;
  if (digits >= 1) return 4;
  // Below 1: leading zeros of the fraction + 4 significant digits, at most the stored 12.
  const frac = p.units.toString().padStart(p.scale, '0');
  const zeros = frac.length - frac.replace(/^0+/, '').length;
  return Math.min(12, zeros + 4);
};

export const priceText = (s: string | null): string => (s === null ? '-' : fixed(s, priceDecimals(s)));

/** Every digit, trailing fractional zeros dropped ("1.500000" → "1.5"): `--wide`. */
export const exact = (s: string | null): string => {
  if (s === null) return '-';
  if (!NUM_RE.test(s.trim())) return s;
  const t = s.trim();
  if (!t.includes('.')) return t;
  const u = t.replace(/0+$/, '');
  return u.endsWith('.') ? u.slice(0, -1) : u;
};

export const sign = (s: string | null): -1 | 0 | 1 => {
  if (s === null) return 0;
  const p = parse(s);
  if (!p || p.units === 0n) return 0;
  return p.neg ? -1 : 1;
};

export const integer = (n: number | null): string => (n === null ? '-' : group(String(n)));
