import { CryptolambdaError } from '../errors.js';

/**
 * Exact fixed-point decimal: an integer number of units at an explicit scale
 * (value = units / 10^scale). Never a JS number. Every arithmetic result carries the scale the
 * caller asks for; the only place precision is lost is `rescale`, which rounds HALF-EVEN
 * ("banker's rounding": ties go to the even neighbour, so repeated rounding has no upward bias).
 *
 * Scales used across cryptolambda (see docs/core.md):
 *   QTY_SCALE   = 18  crypto quantities (ERC-20 precision)          DuckDB DECIMAL(38,18)
 *   PRICE_SCALE = 12  prices in quote currency (USD/USDT) per unit  DuckDB DECIMAL(38,12)
 *   USD_SCALE   = 12  quote-currency amounts (cost, value, P&L)     DuckDB DECIMAL(38,12)
 */
export const QTY_SCALE = 18;
export const PRICE_SCALE = 12;
export const USD_SCALE = 12;

/** DuckDB's widest DECIMAL holds 38 digits; values beyond that cannot be stored losslessly. */
export const MAX_PRECISION = 38;

const POW10: bigint[] = [];
/** 10^38: units of at most 38 digits are below it. */
const MAX_UNITS = 10n ** 38n;
export const pow10 = (n: number): bigint => {
  if (n < 0) throw new CryptolambdaError('INTERNAL', `negative power of ten: ${n}`);
  let p = POW10[n];
  if (p === undefined) {
    p = 10n ** BigInt(n);
    POW10[n] = p;
  }
  return p;
};

const DECIMAL_RE = /^([+-])?(\d+)(?:\.(\d+))?$/;
const EXP_RE = /^([+-])?(\d+)(?:\.(\d+))?[eE]([+-]?\d+)$/;

/** 10^k as exact integers for k <= 15. */
const POW10_SMALL = Array.from({ length: 16 }, (_, k) => 10 ** k);

/**
 * The units of a plain decimal text (`[+-]digits[.digits]`, no spaces, at most `scale` decimals)
 * whose units have at most 15 digits, or undefined for anything else (tryParse's general path then
 * decides). Integer arithmetic below 2^53 (15 digits < 2^53), exact: no regex, no intermediate
 * strings and no BigInt parsing for the amounts the states and events carry, millions per day.
 */
const shortUnits = (text: string, scale: number): bigint | undefined => {
  const n = text.length;
  if (n === 0 || n > 17) return undefined;
  let i = 0;
  const c0 = text.charCodeAt(0);
  if (c0 === 45 || c0 === 43) i = 1;
  let acc = 0;
  let digits = 0;
  let frac = -1;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      acc = acc * 10 + (c - 48);
      digits++;
      if (frac >= 0) frac++;
    } else if (c === 46 && frac < 0 && digits > 0) frac = 0;
    else return undefined;
  }
  if (digits === 0 || frac === 0) return undefined;
  const pad = scale - (frac < 0 ? 0 : frac);
  if (pad < 0 || pad > 15 || digits + pad > 15) return undefined;
  const units = BigInt(acc * POW10_SMALL[pad]!);
  return c0 === 45 ? -units : units;
};

/** Divide with HALF-EVEN rounding of the quotient. `den` must be non-zero. */
export const divRoundHalfEven = (num: bigint, den: bigint): bigint => {
  if (den === 0n) throw new CryptolambdaError('INTERNAL', 'division by zero');
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  const q = num / den; // truncates toward zero
  const r = num % den; // the remainder of that truncation (sign of num): one operation, not two
  if (r === 0n) return q;
  const twice = (r < 0n ? -r : r) * 2n;
  const awayFromZero = num < 0n ? q - 1n : q + 1n;
  if (twice > den) return awayFromZero;
  if (twice < den) return q;
  return q % 2n === 0n ? q : awayFromZero;
};

export class Decimal {
  private constructor(
    readonly units: bigint,
    readonly scale: number,
  ) {}

  static fromUnits(units: bigint, scale: number): Decimal {
    if (!Number.isInteger(scale) || scale < 0 || scale > MAX_PRECISION) {
      throw new CryptolambdaError('INTERNAL', `invalid decimal scale ${scale}`);
    }
    return new Decimal(units, scale);
  }

  static zero(scale: number): Decimal {
    return Decimal.fromUnits(0n, scale);
  }

  /**
   * Parse an exchange/user string ("123.45", "-0.1", "1e-8") at `scale`.
   * Returns a reason string instead of throwing: events are validated at the boundary.
   * Digits beyond `scale` are rejected unless they are zeros, unless `round` is true
   * (then HALF-EVEN), so no precision is ever dropped silently.
   */
  static tryParse(text: string, scale: number, opts: { round?: boolean } = {}): Decimal | string {
    if (typeof text !== 'string') return `expected a decimal string, got ${typeof text}`;
    const fast = shortUnits(text, scale);
    if (fast !== undefined) return new Decimal(fast, scale);
    const s = text.trim();
    let m = DECIMAL_RE.exec(s);
    let sign: string | undefined;
    let intPart: string;
    let frac: string;
    if (m) {
      sign = m[1];
      intPart = m[2]!;
      frac = m[3] ?? '';
    } else {
      const e = EXP_RE.exec(s);
      if (!e) return `not a decimal number: ${JSON.stringify(text)}`;
      m = e;
      sign = e[1];
      const digits = e[2]! + (e[3] ?? '');
      const exp = Number(e[4]) - (e[3] ?? '').length;
      if (!Number.isSafeInteger(exp) || Math.abs(exp) > 1000) return `exponent out of range: ${JSON.stringify(text)}`;
      if (exp >= 0) {
        intPart = digits + '0'.repeat(exp);
        frac = '';
      } else {
        const padded = digits.padStart(-exp + 1, '0');
        intPart = padded.slice(0, padded.length + exp);
        frac = padded.slice(padded.length + exp);
      }
    }
    let units: bigint;
    if (frac.length <= scale) {
      units = BigInt(intPart + frac.padEnd(scale, '0'));
    } else {
      const kept = frac.slice(0, scale);
      const dropped = frac.slice(scale);
      if (/^0*$/.test(dropped)) {
        units = BigInt(intPart + kept);
      } else if (opts.round) {
        const full = BigInt(intPart + frac);
        units = divRoundHalfEven(full, pow10(frac.length - scale));
      } else {
        return `${JSON.stringify(text)} has more than ${scale} decimal places`;
      }
    }
    if (sign === '-') units = -units;
    const d = new Decimal(units, scale);
    if (!d.fits()) return `${JSON.stringify(text)} exceeds ${MAX_PRECISION} significant digits`;
    return d;
  }

  /** Parse a trusted literal; throws INVALID_DECIMAL on bad input. */
  static parse(text: string, scale: number, opts: { round?: boolean } = {}): Decimal {
    const r = Decimal.tryParse(text, scale, opts);
    if (typeof r === 'string') throw new CryptolambdaError('INVALID_DECIMAL', r);
    return r;
  }

  /**
   * precision() <= MAX_PRECISION, without formatting the units as text: the batch checks it for
   * every amount it reads and writes (millions per day).
   */
  fits(): boolean {
    const abs = this.units < 0n ? -this.units : this.units;
    return abs < MAX_UNITS && this.scale < MAX_PRECISION;
  }

  /** Total digits of the integer part + scale; must stay <= 38 for DuckDB DECIMAL(38, scale). */
  precision(): number {
    const abs = this.units < 0n ? -this.units : this.units;
    const digits = abs.toString().length;
    return Math.max(digits, this.scale + 1);
  }

  /** Change scale; HALF-EVEN when digits are dropped. The one place rounding happens. */
  rescale(scale: number): Decimal {
    if (scale === this.scale) return this;
    if (scale > this.scale) return Decimal.fromUnits(this.units * pow10(scale - this.scale), scale);
    return Decimal.fromUnits(divRoundHalfEven(this.units, pow10(this.scale - scale)), scale);
  }

  private aligned(o: Decimal): [bigint, bigint, number] {
    if (o.scale === this.scale) return [this.units, o.units, this.scale];
    const s = Math.max(this.scale, o.scale);
    return [this.units * pow10(s - this.scale), o.units * pow10(s - o.scale), s];
  }

  /**
   * Exact sum at max(scale) (no rounding). Use `.rescale()` to come back to a storage scale.
   * Operands at one scale (nearly every call: amounts are kept at their storage scale) take a path
   * without the alignment tuple, and adding zero returns the other operand: Decimals are immutable,
   * and the ledger adds several per event (issue 13: allocation per event is most of the GC time).
   */
  add(o: Decimal): Decimal {
    if (o.scale === this.scale) {
      if (o.units === 0n) return this;
      if (this.units === 0n) return o;
      return new Decimal(this.units + o.units, this.scale);
    }
    const [a, b, s] = this.aligned(o);
    return Decimal.fromUnits(a + b, s);
  }

  sub(o: Decimal): Decimal {
    if (o.scale === this.scale) {
      if (o.units === 0n) return this;
      return new Decimal(this.units - o.units, this.scale);
    }
    const [a, b, s] = this.aligned(o);
    return Decimal.fromUnits(a - b, s);
  }

  /** Product rounded HALF-EVEN to `scale` (exact product has scale this.scale + o.scale). */
  mul(o: Decimal, scale: number): Decimal {
    const exact = this.scale + o.scale;
    if (scale < exact && scale >= 0 && exact <= MAX_PRECISION && Number.isInteger(scale)) {
      // The product's units rounded at once: no intermediate Decimal at the exact scale.
      return new Decimal(divRoundHalfEven(this.units * o.units, pow10(exact - scale)), scale);
    }
    return Decimal.fromUnits(this.units * o.units, exact).rescale(scale);
  }

  /** Quotient rounded HALF-EVEN to `scale`. Throws on division by zero (an invariant, callers check). */
  div(o: Decimal, scale: number): Decimal {
    if (o.units === 0n) throw new CryptolambdaError('INTERNAL', 'decimal division by zero');
    // value = (a/10^sa) / (b/10^sb) ; units at `scale` = a * 10^(scale + sb - sa) / b
    const shift = scale + o.scale - this.scale;
    const num = shift >= 0 ? this.units * pow10(shift) : this.units;
    const den = shift >= 0 ? o.units : o.units * pow10(-shift);
    return Decimal.fromUnits(divRoundHalfEven(num, den), scale);
  }

  neg(): Decimal {
    return Decimal.fromUnits(-this.units, this.scale);
  }

  abs(): Decimal {
    return this.units < 0n ? this.neg() : this;
  }

  cmp(o: Decimal): -1 | 0 | 1 {
    if (o.scale === this.scale) return this.units < o.units ? -1 : this.units > o.units ? 1 : 0;
    const [a, b] = this.aligned(o);
    return a < b ? -1 : a > b ? 1 : 0;
  }

  eq(o: Decimal): boolean {
    return this.cmp(o) === 0;
  }
  lt(o: Decimal): boolean {
    return this.cmp(o) < 0;
  }
  lte(o: Decimal): boolean {
    return this.cmp(o) <= 0;
  }
  gt(o: Decimal): boolean {
    return this.cmp(o) > 0;
  }
  gte(o: Decimal): boolean {
    return this.cmp(o) >= 0;
  }
  isZero(): boolean {
    return this.units === 0n;
  }
  isNegative(): boolean {
    return this.units < 0n;
  }
  isPositive(): boolean {
    return this.units > 0n;
  }

  static max(a: Decimal, b: Decimal): Decimal {
    return a.gte(b) ? a : b;
  }
  static min(a: Decimal, b: Decimal): Decimal {
    return a.lte(b) ? a : b;
  }

  /**
   * Canonical text with exactly `scale` fractional digits ("1.500000000000000000").
   * This is the storage form: Redis values, Avro decimal strings and DuckDB DECIMAL literals
   * all use it, so round trips are lossless and byte-identical.
   */
  toString(): string {
    const neg = this.units < 0n;
    const digits = (neg ? -this.units : this.units).toString().padStart(this.scale + 1, '0');
    const intPart = digits.slice(0, digits.length - this.scale);
    const frac = digits.slice(digits.length - this.scale);
    const body = this.scale === 0 ? intPart : `${intPart}.${frac}`;
    return neg ? `-${body}` : body;
  }

  /** Shortest exact text (trailing fractional zeros removed): "1.5", "100", "-0.000001". */
  toPlain(): string {
    const s = this.toString();
    if (this.scale === 0) return s;
    const t = s.replace(/0+$/, '');
    return t.endsWith('.') ? t.slice(0, -1) : t;
  }

  /** Human display at `dp` decimal places (HALF-EVEN), with thousands separators optional. */
  toDisplay(dp: number, opts: { group?: boolean } = {}): string {
    const s = this.rescale(dp).toString();
    if (!opts.group) return s;
    const [i, f] = s.split('.');
    const neg = i!.startsWith('-');
    const grouped = (neg ? i!.slice(1) : i!).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return `${neg ? '-' : ''}${grouped}${f === undefined ? '' : `.${f}`}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** Convenience constructors at the project's storage scales. */
export const qty = (s: string): Decimal => Decimal.parse(s, QTY_SCALE);
export const price = (s: string): Decimal => Decimal.parse(s, PRICE_SCALE);
export const usd = (s: string): Decimal => Decimal.parse(s, USD_SCALE);
