import { Decimal, divRoundHalfEven, pow10 } from '../money/decimal.js';

/**
 * Daily returns and Pearson correlation, exactly: returns are Decimals at RETURN_SCALE, and the
 * correlation is computed from integer sums with a bigint square root, so the speed layer, the batch
 * layer and any machine produce the same digits (floating point would not).
 *
 *   r_i  = (close_i - close_{i-1}) / close_{i-1}                 HALF-EVEN to RETURN_SCALE
 *   corr = (n Σxy - Σx Σy) / sqrt((n Σx² - (Σx)²)(n Σy² - (Σy)²)) HALF-EVEN to CORR_SCALE
 * The square root is floor(sqrt(D x 10^(2 x SQRT_GUARD))), then the quotient is rounded HALF-EVEN;
 * SQRT_GUARD guard digits keep the error far below one unit of CORR_SCALE.
 */
export const RETURN_SCALE = 18;
export const CORR_SCALE = 12;
const SQRT_GUARD = 30;

export const dailyReturns = (closes: readonly Decimal[]): Decimal[] => {
  const out: Decimal[] = [];
  for (let i = 1; i < closes.length; i++) {
    const prev = closes[i - 1]!;
    if (prev.isZero()) throw new RangeError('close price of zero');
    out.push(closes[i]!.sub(prev).div(prev, RETURN_SCALE));
  }
  return out;
};

/** floor(sqrt(n)) for n >= 0 (Newton's method on bigints). */
export const isqrt = (n: bigint): bigint => {
  if (n < 0n) throw new RangeError('square root of a negative number');
  if (n < 2n) return n;
  // Newton from a power of two above the root (no float: n can exceed Number's range).
  let x = 1n << BigInt((n.toString(2).length >> 1) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) break;
    x = y;
  }
  while (x * x > n) x -= 1n;
  while ((x + 1n) * (x + 1n) <= n) x += 1n;
  return x;
};

/**
 * Pearson correlation of two equally long series (returns). undefined when n < 2 or either series is
 * constant (the coefficient is not defined).
 */
export const pearson = (xs: readonly Decimal[], ys: readonly Decimal[]): Decimal | undefined => {
  if (xs.length !== ys.length) throw new RangeError('series lengths differ');
  const n = BigInt(xs.length);
  if (n < 2n) return undefined;
  let sx = 0n;
  let sy = 0n;
  let sxx = 0n;
  let syy = 0n;
  let sxy = 0n;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!.rescale(RETURN_SCALE).units;
    const y = ys[i]!.rescale(RETURN_SCALE).units;
    sx += x;
    sy += y;
    sxx += x * x;
    syy += y * y;
    sxy += x * y;
  }
  const num = n * sxy - sx * sy;
  const vx = n * sxx - sx * sx;
  const vy = n * syy - sy * sy;
  if (vx === 0n || vy === 0n) return undefined;
  const root = isqrt(vx * vy * pow10(2 * SQRT_GUARD));
  const c = divRoundHalfEven(num * pow10(CORR_SCALE + SQRT_GUARD), root);
  // |corr| <= 1 mathematically; the floor in the root can push it a hair over: clamp.
  const one = pow10(CORR_SCALE);
  return Decimal.fromUnits(c > one ? one : c < -one ? -one : c, CORR_SCALE);
};

export interface CorrelationCell {
  readonly a: string;
  readonly b: string;
  readonly correlation: Decimal | undefined;
  readonly days: number;
}

/**
 * Pairwise correlations of daily returns over the last `windowDays` days. `closes` maps an asset to
 * its daily closes ordered by date (same dates for every asset; callers align and drop gaps).
 */
export const correlationMatrix = (
  closes: ReadonlyMap<string, readonly Decimal[]>,
  windowDays: number,
): CorrelationCell[] => {
  const assets = [...closes.keys()].sort();
  const returns = new Map(assets.map((a) => [a, dailyReturns(closes.get(a)!.slice(-(windowDays + 1)))]));
  const out: CorrelationCell[] = [];
  for (let i = 0; i < assets.length; i++) {
    for (let j = i + 1; j < assets.length; j++) {
      const a = assets[i]!;
      const b = assets[j]!;
      const ra = returns.get(a)!;
      const rb = returns.get(b)!;
      out.push({ a, b, correlation: pearson(ra, rb), days: ra.length });
    }
  }
  return out;
};
