import type { PriceEvent } from '../events/types.js';
import { Decimal, divRoundHalfEven, PRICE_SCALE, QTY_SCALE } from '../money/decimal.js';

/**
 * Seeded synthetic trade prints: one geometric Brownian motion per symbol,
 *
 *   S(t+dt) = S(t) * exp((mu - sigma^2/2) dt + sigma sqrt(dt) Z),   Z ~ N(0, 1)
 *
 * computed with integers only, so the same seed gives bit-identical events on every machine and
 * Node version (Math.log/exp/cos results are not specified bit-exactly across platforms, so
 * Box-Muller in floats is avoided):
 *
 * - PRNG: xoshiro128** on 32-bit integers (Math.imul and shifts are exact), one stream per
 *   symbol, seeded by splitmix64(seed XOR fnv1a64(symbol)); adding a symbol does not change the
 *   paths of the others.
 * - Z: Irwin-Hall approximation, the sum of 12 uniforms minus 6 (mean 0, variance 1; tails cut at
 *   +-6 sigma, which is fine for demo data). The sum of twelve 32-bit draws is an exact integer in a
 *   JS number (< 2^36), then a bigint at scale 2^32.
 * - exp, sqrt: bigint fixed point at 18 decimals (Taylor series with halving for exp, Newton
 *   integer square root); all divisions truncate toward zero, which is deterministic.
 * - The path is kept at 18 decimals internally; emitted prices are rounded HALF-EVEN to
 *   PRICE_SCALE, quantities are uniform between the profile's bounds in steps of 1e-8 (a
 *   typical exchange lot step).
 *
 * Event times: tick k happens at start + k * stepMs and emits one trade per symbol, in the order
 * the symbols were given. How fast ticks are produced in wall time is the caller's business
 * (rate control); event time only depends on k.
 */
export interface AssetProfile {
  /** Initial price (quote per unit). */
  readonly startPrice: string;
  /** Annualized volatility, e.g. "0.60" for 60 %. */
  readonly volatility: string;
  /** Annualized drift, e.g. "0.05". */
  readonly drift: string;
  readonly minQty: string;
  readonly maxQty: string;
}

export const DEFAULT_PROFILES: Readonly<Record<string, AssetProfile>> = {
  BTCUSDT: { startPrice: '65000', volatility: '0.60', drift: '0.10', minQty: '0.00001', maxQty: '0.5' },
  ETHUSDT: { startPrice: '3200', volatility: '0.75', drift: '0.10', minQty: '0.0001', maxQty: '10' },
  SOLUSDT: { startPrice: '150', volatility: '1.00', drift: '0.05', minQty: '0.01', maxQty: '200' },
  BNBUSDT: { startPrice: '580', volatility: '0.55', drift: '0.05', minQty: '0.001', maxQty: '40' },
  XRPUSDT: { startPrice: '0.55', volatility: '0.90', drift: '0', minQty: '1', maxQty: '20000' },
  ADAUSDT: { startPrice: '0.45', volatility: '0.95', drift: '0', minQty: '1', maxQty: '20000' },
  DOGEUSDT: { startPrice: '0.15', volatility: '1.10', drift: '0', minQty: '10', maxQty: '100000' },
};

/** Used for symbols without a profile. */
export const FALLBACK_PROFILE: AssetProfile = {
  startPrice: '100',
  volatility: '0.80',
  drift: '0',
  minQty: '0.001',
  maxQty: '100',
};

export interface SyntheticOptions {
  /** Non-negative integer seed. */
  readonly seed: bigint;
  readonly symbols: readonly string[];
  /** Event time of tick 0, epoch ms. */
  readonly startTime: number;
  /** Event-time distance between ticks (default 100 ms). */
  readonly stepMs?: number;
  readonly profiles?: Readonly<Record<string, AssetProfile>>;
}

const FP = 18;
const ONE = 10n ** 18n;
const MS_PER_YEAR = 31_557_600_000n; // 365.25 days
const MASK64 = (1n << 64n) - 1n;
const LOT_UNITS = 10n ** BigInt(QTY_SCALE - 8); // 1e-8 at QTY_SCALE

const GUARD = 10n ** 6n;
const ONE_G = ONE * GUARD;
const HALF_G = ONE_G / 2n;

const expGuarded = (x: bigint): bigint => {
  if (x > HALF_G || x < -HALF_G) {
    const r = expGuarded(x / 2n);
    return (r * r) / ONE_G;
  }
  let sum = ONE_G;
  let term = ONE_G;
  for (let n = 1n; n < 64n; n++) {
    term = (term * x) / (ONE_G * n);
    if (term === 0n) break;
    sum += term;
  }
  return sum;
};

/** e^x for x at 18-decimal fixed point, result at 18 decimals (computed with 6 guard digits). */
export const expFixed = (x: bigint): bigint => expGuarded(x * GUARD) / GUARD;

/** floor(sqrt(n)) for n >= 0 (Newton's method on bigints). */
export const isqrt = (n: bigint): bigint => {
  if (n < 0n) throw new RangeError('isqrt of a negative number');
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n)))) + 1n; // any start above the root converges
  for (;;) {
    const y = (x + n / x) / 2n;
    if (y >= x) {
      // Newton from above stops decreasing at the root; fix up the float start if it was low.
      while (x * x > n) x--;
      while ((x + 1n) * (x + 1n) <= n) x++;
      return x;
    }
    x = y;
  }
};

const splitmix64 = (state: { s: bigint }): bigint => {
  state.s = (state.s + 0x9e3779b97f4a7c15n) & MASK64;
  let z = state.s;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
};

const fnv1a64 = (text: string): bigint => {
  let h = 0xcbf29ce484222325n;
  for (const ch of new TextEncoder().encode(text)) h = ((h ^ BigInt(ch)) * 0x100000001b3n) & MASK64;
  return h;
};

/** xoshiro128** (Blackman & Vigna), 32-bit integer arithmetic only. */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: bigint) {
    const st = { s: seed & MASK64 };
    const a = splitmix64(st);
    const b = splitmix64(st);
    this.s0 = Number(a & 0xffffffffn) | 0;
    this.s1 = Number(a >> 32n) | 0;
    this.s2 = Number(b & 0xffffffffn) | 0;
    this.s3 = Number(b >> 32n) | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** Next uniform 32-bit unsigned integer. */
  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

/** Standard normal approximation at 18-decimal fixed point (Irwin-Hall, 12 draws). */
const normalFixed = (rng: Xoshiro128): bigint => {
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += rng.nextU32();
  const z32 = BigInt(sum - 6 * 4294967296); // exact: |sum| < 2^36
  return (z32 * ONE) >> 32n; // floor on the scale change; deterministic
};

const fixed = (text: string, field: string, symbol: string): bigint => {
  const d = Decimal.tryParse(text, FP);
  if (typeof d === 'string') throw new RangeError(`${symbol} ${field}: ${d}`);
  return d.units;
};

interface SymbolState {
  readonly symbol: string;
  readonly rng: Xoshiro128;
  /** Current price at 18 decimals. */
  price: bigint;
  /** (mu - sigma^2/2) dt at 18 decimals. */
  readonly driftTerm: bigint;
  /** sigma sqrt(dt) at 18 decimals. */
  readonly volTerm: bigint;
  readonly minQtyUnits: bigint;
  readonly qtyRangeUnits: bigint;
  trades: number;
}

export class SyntheticPrices {
  private readonly states: SymbolState[];
  private tick = 0;
  private index = 0;
  private readonly stepMs: number;
  private readonly idPrefix: string;

  constructor(readonly options: SyntheticOptions) {
    if (options.seed < 0n) throw new RangeError('seed must be a non-negative integer');
    if (options.symbols.length === 0) throw new RangeError('at least one symbol is needed');
    this.stepMs = options.stepMs ?? 100;
    if (!Number.isSafeInteger(this.stepMs) || this.stepMs < 1)
      throw new RangeError('stepMs must be a positive integer');
    if (!Number.isSafeInteger(options.startTime)) throw new RangeError('startTime must be integer epoch ms');
    this.idPrefix = `s${options.seed}.${options.startTime}.`;
    const dt = (BigInt(this.stepMs) * ONE) / MS_PER_YEAR; // years, 18 decimals
    const sqrtDt = isqrt(dt * ONE);
    this.states = options.symbols.map((symbol) => {
      const p = options.profiles?.[symbol] ?? DEFAULT_PROFILES[symbol] ?? FALLBACK_PROFILE;
      const sigma = fixed(p.volatility, 'volatility', symbol);
      const mu = fixed(p.drift, 'drift', symbol);
      const minQ = Decimal.parse(p.minQty, QTY_SCALE).units;
      const maxQ = Decimal.parse(p.maxQty, QTY_SCALE).units;
      const start = fixed(p.startPrice, 'startPrice', symbol);
      if (sigma < 0n || start <= 0n || minQ < LOT_UNITS || maxQ < minQ) {
        throw new RangeError(`${symbol}: invalid synthetic profile`);
      }
      return {
        symbol,
        rng: new Xoshiro128(options.seed ^ fnv1a64(symbol)),
        price: start,
        driftTerm: ((mu - (sigma * sigma) / ONE / 2n) * dt) / ONE,
        volTerm: (sigma * sqrtDt) / ONE,
        minQtyUnits: minQ,
        qtyRangeUnits: maxQ - minQ,
        trades: 0,
      };
    });
  }

  /** Events emitted so far. */
  get emitted(): number {
    return this.tick * this.states.length + this.index;
  }

  /** The next trade print (the sequence is infinite). */
  next(): PriceEvent {
    const st = this.states[this.index]!;
    const eventTime = this.options.startTime + this.tick * this.stepMs;
    const z = normalFixed(st.rng);
    st.price = (st.price * expFixed(st.driftTerm + (st.volTerm * z) / ONE)) / ONE;
    if (st.price < ONE / 10n ** BigInt(PRICE_SCALE)) st.price = ONE / 10n ** BigInt(PRICE_SCALE); // keep > 0 at PRICE_SCALE
    const u = BigInt(st.rng.nextU32());
    const q = st.minQtyUnits + ((st.qtyRangeUnits * u) >> 32n);
    const quantity = (q / LOT_UNITS) * LOT_UNITS;
    st.trades++;
    const tradeId = `${this.idPrefix}${st.trades}`;
    this.index++;
    if (this.index === this.states.length) {
      this.index = 0;
      this.tick++;
    }
    return {
      kind: 'price',
      eventId: `synthetic:${st.symbol}:${tradeId}`,
      symbol: st.symbol,
      price: Decimal.fromUnits(divRoundHalfEven(st.price, 10n ** BigInt(FP - PRICE_SCALE)), PRICE_SCALE),
      quantity: Decimal.fromUnits(quantity < LOT_UNITS ? LOT_UNITS : quantity, QTY_SCALE),
      eventTime,
      tradeId,
      source: 'synthetic',
    };
  }
}
