import { CryptolambdaError } from '../errors.js';
import type {
  EpochMillis,
  PriceEvent,
  RewardEvent,
  RewardType,
  TransactionEvent,
  TransactionType,
  UserEvent,
} from '../events/types.js';
import { USD } from '../events/types.js';
import { assetOf } from '../events/validate.js';
import { Decimal, divRoundHalfEven, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../money/decimal.js';
import { applyEvent, bookKey, compareEvents, emptyPosition, notional, type Position } from '../portfolio/position.js';
import { DEFAULT_TIERS, initialTierState, recordSpend, type TierDef, type TierState } from '../rewards/tiers.js';
import { Prng } from './prng.js';

/**
 * The user simulator: ordered price ticks in, ordered user events out, nothing else. Pure and
 * deterministic: the same seed, options and price sequence give the same events to the byte.
 *
 * Event time is driven by the price stream: the generator never invents a price. User events get
 * event times between ticks (arrivals at `rate` per second of event time, uniform integer gaps in
 * microseconds with the right mean) and are priced at the latest tick of their asset at or before
 * that time. Every transaction is checked with the core's `applyEvent` against the simulator's own
 * book before it is emitted, so the stream replays through `applyAll` with zero rejects.
 */
export const DAY_MS = 24 * 3600 * 1000;
export const DEFAULT_CASHBACK_ASSET = 'BTC';
const q = (s: string): Decimal => Decimal.parse(s, QTY_SCALE);
export const DEFAULT_FEE_RATE = q('0.001');
export const DEFAULT_WITHDRAWAL_FEE_RATE = q('0.0005');
export const DEFAULT_APR = q('0.05');
/** Staking APR per asset; assets not listed earn DEFAULT_APR. */
export const DEFAULT_STAKING_APR: Readonly<Record<string, Decimal>> = {
  ETH: q('0.04'),
  SOL: q('0.07'),
  ADA: q('0.03'),
  DOT: q('0.12'),
};
/** Rate has micro-event precision: `--rate 0.001` is one user event per ~17 minutes of event time. */
export const RATE_SCALE = 6;
export const MAX_USERS = 999_999;

export interface SimulateOptions {
  readonly seed: number;
  readonly users: number;
  /** User-initiated transactions per second of event time (scale RATE_SCALE, > 0). */
  readonly rate: Decimal;
  /** Stop after this many user-initiated transactions (rewards not counted). */
  readonly count?: number;
  /** Stop at first tick time + durationMs (exclusive). */
  readonly durationMs?: number;
  /** Users sign up over the first half of this span from the first tick (a fifth at the start). */
  readonly signupSpanMs: number;
  readonly feeRate?: Decimal;
  readonly withdrawalFeeRate?: Decimal;
  readonly stakingApr?: Readonly<Record<string, Decimal>>;
  readonly defaultApr?: Decimal;
  readonly tiers?: readonly TierDef[];
  /** Asset cashback is credited in for card spend from the USD balance. */
  readonly cashbackAsset?: string;
}

export type SimEventType = TransactionType | RewardType;
export const SIM_EVENT_TYPES: readonly SimEventType[] = [
  'buy',
  'sell',
  'deposit',
  'withdrawal',
  'stake',
  'unstake',
  'card_spend',
  'cashback',
  'staking',
];

export type StopReason = 'count' | 'duration' | 'prices';

export interface SimulationStats {
  /** User-initiated transactions (what --count and --rate count). */
  readonly transactions: number;
  readonly rewards: number;
  readonly byType: Readonly<Record<SimEventType, number>>;
  /** Card spends per tier applied (from recordSpend). */
  readonly spendsByTier: Readonly<Record<string, number>>;
  /** Card spends whose cashback the monthly cap cut (fully or partly). */
  readonly cappedSpends: number;
  /** Candidate transactions applyEvent refused; never emitted (expected 0). */
  readonly refused: number;
  readonly pricesUsed: number;
  /** Ticks of symbols not quoted in USDT. */
  readonly pricesIgnored: number;
  /** Ticks older than one already seen (live mode only; ordered input has none). */
  readonly pricesLate: number;
  readonly users: number;
  readonly activeUsers: number;
  readonly firstEventTime: EpochMillis | null;
  readonly lastEventTime: EpochMillis | null;
  readonly stoppedBy: StopReason | null;
}

interface SimUser {
  readonly id: string;
  readonly signupAt: EpochMillis;
  readonly whale: boolean;
  tier: TierState;
  /** Assets the user has a position in, sorted. */
  readonly assets: string[];
  active: boolean;
}

interface Latest {
  readonly price: Decimal;
  readonly eventTime: EpochMillis;
  readonly eventId: string;
}

export const userId = (i: number): string => `u${String(i).padStart(6, '0')}`;
/**
 * `sim-${seed}-${seq}` with the sequence zero-padded: every consumer orders a user's events by
 * (eventTime, eventId) in code-unit order, so ids must sort like the generation order when two
 * events share a millisecond (unpadded, "sim-1-10" would sort before "sim-1-9").
 */
export const simEventId = (seed: number, seq: number): string => `sim-${seed}-${String(seq).padStart(12, '0')}`;

const ONE_PRICE = Decimal.fromUnits(10n ** BigInt(PRICE_SCALE), PRICE_SCALE);
const Z_USD = Decimal.zero(USD_SCALE);
const DAYS_PER_YEAR = Decimal.fromUnits(365n, 0);
const BP = 10_000n;

/** `d` x bp / 10000 at d's scale, HALF-EVEN. */
const part = (d: Decimal, bp: number): Decimal =>
  Decimal.fromUnits(divRoundHalfEven(d.units * BigInt(bp), BP), d.scale);

/** Daily staking reward: staked x APR / 365, rounded once HALF-EVEN to QTY_SCALE. */
export const dailyStakingReward = (staked: Decimal, apr: Decimal): Decimal =>
  staked.mul(apr, staked.scale + apr.scale).div(DAYS_PER_YEAR, QTY_SCALE);

/** Cashback in units of the credited asset: cashback USD / price, HALF-EVEN to QTY_SCALE. */
export const cashbackQuantity = (cashbackUsd: Decimal, price: Decimal): Decimal => cashbackUsd.div(price, QTY_SCALE);

const nextMidnight = (t: EpochMillis): EpochMillis => (Math.floor(t / DAY_MS) + 1) * DAY_MS;

export class Simulator {
  private readonly rng: Prng;
  private readonly tiers: readonly TierDef[];
  private readonly feeRate: Decimal;
  private readonly withdrawalFeeRate: Decimal;
  private readonly aprs: Readonly<Record<string, Decimal>>;
  private readonly defaultApr: Decimal;
  private readonly cashbackAsset: string;
  private readonly meanGapUs: bigint;
  private readonly users: SimUser[] = [];
  /** Cumulative activity weights in signup order (users sign up in id order). */
  private readonly cumWeights: number[] = [];
  private readonly book = new Map<string, Position>();
  private readonly latest = new Map<string, Latest>();
  /** Assets with a price, sorted. */
  private readonly priced: string[] = [];
  private lastTick: { eventTime: number; eventId: string } | undefined;

  private started = false;
  private done = false;
  private nextUs = 0n;
  private midnight = 0;
  private endTime = Number.POSITIVE_INFINITY;
  private signedUp = 0;
  private seq = 0;

  private transactions = 0;
  private rewards = 0;
  private readonly byType = Object.fromEntries(SIM_EVENT_TYPES.map((t) => [t, 0])) as Record<SimEventType, number>;
  private readonly spendsByTier: Record<string, number>;
  private cappedSpends = 0;
  private refused = 0;
  private pricesUsed = 0;
  private pricesIgnored = 0;
  private pricesLate = 0;
  private activeUsers = 0;
  private firstEventTime: number | null = null;
  private lastEventTime: number | null = null;
  private stoppedBy: StopReason | null = null;

  constructor(private readonly opts: SimulateOptions) {
    this.rng = new Prng(opts.seed);
    this.tiers = opts.tiers ?? DEFAULT_TIERS;
    this.feeRate = opts.feeRate ?? DEFAULT_FEE_RATE;
    this.withdrawalFeeRate = opts.withdrawalFeeRate ?? DEFAULT_WITHDRAWAL_FEE_RATE;
    this.aprs = opts.stakingApr ?? DEFAULT_STAKING_APR;
    this.defaultApr = opts.defaultApr ?? DEFAULT_APR;
    this.cashbackAsset = opts.cashbackAsset ?? DEFAULT_CASHBACK_ASSET;
    this.spendsByTier = Object.fromEntries(this.tiers.map((t) => [t.name, 0]));
    if (!Number.isInteger(opts.users) || opts.users < 1 || opts.users > MAX_USERS) {
      throw new CryptolambdaError('INVALID_ARGUMENT', `users must be 1..${MAX_USERS}, got ${opts.users}`);
    }
    const rate = opts.rate.rescale(RATE_SCALE);
    if (!rate.isPositive() || !rate.eq(opts.rate)) {
      throw new CryptolambdaError(
        'INVALID_ARGUMENT',
        `rate must be > 0 with at most ${RATE_SCALE} decimals, got ${opts.rate.toPlain()}`,
      );
    }
    // mean gap (µs) = 1e6 / (units / 1e6) = 1e12 / units; at least 1 µs.
    const mean = 10n ** BigInt(6 + RATE_SCALE) / rate.units;
    this.meanGapUs = mean < 1n ? 1n : mean;
  }

  get finished(): boolean {
    return this.done;
  }

  /**
   * Feed the next tick (in (eventTime, eventId) order). Returns the user events with event times
   * before the tick: they are priced with what was known until then.
   */
  advance(tick: PriceEvent): UserEvent[] {
    const asset = assetOf(tick.symbol);
    if (asset === undefined) {
      this.pricesIgnored++;
      return [];
    }
    if (!this.started) this.start(tick.eventTime);
    const out = this.done ? [] : this.generateUntil(tick.eventTime, false);
    this.applyTick(asset, tick);
    return out;
  }

  /**
   * End of input: generate up to and including `until` (default: the last tick's time), then stop.
   */
  finish(until?: EpochMillis): UserEvent[] {
    if (!this.started || this.done) {
      this.done = true;
      return [];
    }
    const limit = until ?? this.lastTick?.eventTime ?? 0;
    const out = this.generateUntil(limit, true);
    if (!this.done) {
      this.done = true;
      this.stoppedBy = 'prices';
    }
    return out;
  }

  stats(): SimulationStats {
    return {
      transactions: this.transactions,
      rewards: this.rewards,
      byType: { ...this.byType },
      spendsByTier: { ...this.spendsByTier },
      cappedSpends: this.cappedSpends,
      refused: this.refused,
      pricesUsed: this.pricesUsed,
      pricesIgnored: this.pricesIgnored,
      pricesLate: this.pricesLate,
      users: this.opts.users,
      activeUsers: this.activeUsers,
      firstEventTime: this.firstEventTime,
      lastEventTime: this.lastEventTime,
      stoppedBy: this.stoppedBy,
    };
  }

  private start(t0: EpochMillis): void {
    this.started = true;
    const n = this.opts.users;
    // Activity is Zipf-like (weight ~ 1/rank): a few users are very active, most are occasional.
    // Ranks are shuffled so the heavy users are not simply the first to sign up.
    const ranks = Array.from({ length: n }, (_, i) => i + 1);
    for (let i = n - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      [ranks[i], ranks[j]] = [ranks[j]!, ranks[i]!];
    }
    // Signups: a fifth of the users exist at the first tick, the rest join over the first half of
    // the span, in id order.
    const firstWave = Math.max(1, Math.ceil(n / 5));
    const half = BigInt(Math.max(0, Math.floor(this.opts.signupSpanMs / 2)));
    const later = Array.from({ length: n - firstWave }, () => t0 + Number(this.rng.bigBelow(half + 1n)));
    later.sort((a, b) => a - b);
    const whales = Math.max(1, Math.floor(n / 50));
    let cum = 0;
    for (let i = 0; i < n; i++) {
      const rank = ranks[i]!;
      cum += Math.max(1, Math.floor(2 ** 24 / rank));
      this.cumWeights.push(cum);
      this.users.push({
        id: userId(i + 1),
        signupAt: i < firstWave ? t0 : later[i - firstWave]!,
        whale: rank <= whales,
        tier: initialTierState(this.tiers),
        assets: [],
        active: false,
      });
    }
    this.nextUs = BigInt(t0) * 1000n + this.gap();
    this.midnight = nextMidnight(t0);
    if (this.opts.durationMs !== undefined) this.endTime = t0 + this.opts.durationMs;
  }

  private gap(): bigint {
    // Uniform on [0, 2 x mean]: integer-only, mean exactly `meanGapUs`.
    return this.rng.bigBelow(2n * this.meanGapUs + 1n);
  }

  private applyTick(asset: string, tick: PriceEvent): void {
    if (this.lastTick && compareEvents(tick, this.lastTick) < 0) this.pricesLate++;
    else this.lastTick = { eventTime: tick.eventTime, eventId: tick.eventId };
    const prev = this.latest.get(asset);
    if (prev && compareEvents(tick, prev) < 0) return; // an older print never replaces a newer one
    if (!prev) {
      this.priced.push(asset);
      this.priced.sort();
    }
    this.latest.set(asset, {
      price: tick.price.rescale(PRICE_SCALE),
      eventTime: tick.eventTime,
      eventId: tick.eventId,
    });
    this.pricesUsed++;
  }

  private generateUntil(limit: EpochMillis, inclusive: boolean): UserEvent[] {
    const out: UserEvent[] = [];
    const within = (t: number): boolean => (inclusive ? t <= limit : t < limit);
    while (!this.done) {
      const t = Number(this.nextUs / 1000n);
      const m = this.midnight;
      if (m <= t && m < this.endTime) {
        if (!within(m)) break;
        this.stakingRewards(m, out);
        this.midnight += DAY_MS;
        continue;
      }
      if (t >= this.endTime) {
        this.done = true;
        this.stoppedBy = 'duration';
        break;
      }
      if (!within(t)) break;
      this.userTransaction(t, out);
      this.nextUs += this.gap();
      if (this.opts.count !== undefined && this.transactions >= this.opts.count) {
        this.done = true;
        this.stoppedBy = 'count';
      }
    }
    return out;
  }

  private pickUser(t: EpochMillis): SimUser {
    while (this.signedUp < this.users.length && this.users[this.signedUp]!.signupAt <= t) this.signedUp++;
    const n = Math.max(1, this.signedUp);
    const r = this.rng.int(this.cumWeights[n - 1]!);
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumWeights[mid]! > r) hi = mid;
      else lo = mid + 1;
    }
    return this.users[lo]!;
  }

  private position(u: SimUser, asset: string): Position {
    return this.book.get(bookKey(u.id, asset)) ?? emptyPosition(u.id, asset);
  }

  private emit(u: SimUser, e: UserEvent, out: UserEvent[]): void {
    out.push(e);
    if (e.kind === 'transaction') this.byType[e.type]++;
    else {
      this.byType[e.rewardType]++;
      this.rewards++;
    }
    this.firstEventTime ??= e.eventTime;
    this.lastEventTime = e.eventTime;
    if (!u.active) {
      u.active = true;
      this.activeUsers++;
    }
  }

  /** Apply to the simulator's book; false (and nothing changes) when the core refuses it. */
  private applyToBook(u: SimUser, e: UserEvent): boolean {
    if (e.asset === USD) return true;
    const r = applyEvent(this.position(u, e.asset), e);
    if (!r.ok) {
      this.refused++;
      return false;
    }
    if (!this.book.has(bookKey(u.id, e.asset))) {
      u.assets.push(e.asset);
      u.assets.sort();
    }
    this.book.set(bookKey(u.id, e.asset), r.position);
    return true;
  }

  /** $10-$100 x 10^k (k skewed small), x10 for the heaviest users: cents, exact. */
  private usdAmount(u: SimUser): Decimal {
    const k = this.rng.weighted([60, 30, 9, 1]);
    const cents = BigInt(this.rng.between(1000, 9999)) * 10n ** BigInt(k) * (u.whale ? 10n : 1n);
    return Decimal.fromUnits(cents, 2);
  }

  private priceOf(asset: string): Decimal {
    return this.latest.get(asset)!.price;
  }

  private tx(
    u: SimUser,
    t: EpochMillis,
    type: TransactionType,
    asset: string,
    quantity: Decimal,
    fee: Decimal,
    feeAsset: string,
  ): TransactionEvent {
    return {
      kind: 'transaction',
      eventId: '',
      userId: u.id,
      type,
      asset,
      quantity,
      price: asset === USD ? ONE_PRICE : this.priceOf(asset),
      fee,
      feeAsset,
      eventTime: t,
    };
  }

  private userTransaction(t: EpochMillis, out: UserEvent[]): void {
    const u = this.pickUser(t);
    const free = u.assets.filter((a) => {
      const p = this.position(u, a);
      return p.quantity.sub(p.staked).isPositive();
    });
    const staked = u.assets.filter((a) => this.position(u, a).staked.isPositive());
    const usdSpendOk = this.latest.has(this.cashbackAsset);
    const has = free.length > 0;
    // buy, sell, deposit, withdrawal, stake, unstake, card (crypto), card (USD)
    const weights = has
      ? [30, 14, 6, 4, 6, staked.length > 0 ? 3 : 0, 12, usdSpendOk ? 10 : 0]
      : [75, 0, 15, 0, 0, staked.length > 0 ? 3 : 0, 0, usdSpendOk ? 7 : 0];
    const action = this.rng.weighted(weights);
    const candidate = this.candidate(u, t, action, free, staked);
    if (candidate && this.tryEmit(u, candidate, out)) return;
    // The core refused the candidate (or there was none): a buy always applies.
    const buy = this.candidate(u, t, 0, free, staked);
    if (!buy || !this.tryEmit(u, buy, out))
      throw new CryptolambdaError('INTERNAL', `simulator: a buy was refused at ${t}`);
  }

  private tryEmit(u: SimUser, candidate: TransactionEvent, out: UserEvent[]): boolean {
    // A fraction of a tiny holding can round to nothing: not an event, fall back to a buy.
    if (!candidate.quantity.isPositive()) return false;
    const e: TransactionEvent = { ...candidate, eventId: simEventId(this.opts.seed, this.seq + 1) };
    if (!this.applyToBook(u, e)) return false;
    this.seq++;
    this.transactions++;
    this.emit(u, e, out);
    if (e.type === 'card_spend') this.cashback(u, e, out);
    return true;
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.rng.int(xs.length)]!;
  }

  private candidate(
    u: SimUser,
    t: EpochMillis,
    action: number,
    free: readonly string[],
    staked: readonly string[],
  ): TransactionEvent | undefined {
    const avail = (a: string): Decimal => {
      const p = this.position(u, a);
      return p.quantity.sub(p.staked);
    };
    switch (action) {
      case 0: {
        // Buy in USD: a quote fee (0.1 %) mostly, a base-asset fee for a quarter of them.
        const asset = this.pick(this.priced);
        const quantity = this.usdAmount(u).div(this.priceOf(asset), QTY_SCALE);
        if (this.rng.chance(1, 4)) {
          return this.tx(u, t, 'buy', asset, quantity, quantity.mul(this.feeRate, QTY_SCALE), asset);
        }
        const fee = notional(quantity, this.priceOf(asset)).mul(this.feeRate, USD_SCALE);
        return this.tx(u, t, 'buy', asset, quantity, fee, USD);
      }
      case 1: {
        const asset = this.pick(free);
        const a = avail(asset);
        let quantity = this.rng.chance(15, 100) ? a : part(a, this.rng.between(500, 9000));
        if (this.rng.chance(1, 5)) {
          const fee = quantity.mul(this.feeRate, QTY_SCALE);
          if (quantity.add(fee).gt(a)) quantity = a.sub(fee);
          return this.tx(u, t, 'sell', asset, quantity, fee, asset);
        }
        const fee = notional(quantity, this.priceOf(asset)).mul(this.feeRate, USD_SCALE);
        return this.tx(u, t, 'sell', asset, quantity, fee, USD);
      }
      case 2: {
        // Deposits arrive from outside wallets, free of charge, valued at market.
        const asset = this.pick(this.priced);
        const quantity = this.usdAmount(u).div(this.priceOf(asset), QTY_SCALE);
        return this.tx(u, t, 'deposit', asset, quantity, Z_USD, USD);
      }
      case 3: {
        // Withdrawals pay a network fee in the asset itself.
        const asset = this.pick(free);
        const a = avail(asset);
        let quantity = part(a, this.rng.between(1000, 10000));
        const fee = quantity.mul(this.withdrawalFeeRate, QTY_SCALE);
        if (quantity.add(fee).gt(a)) quantity = a.sub(fee);
        return this.tx(u, t, 'withdrawal', asset, quantity, fee, asset);
      }
      case 4: {
        const asset = this.pick(free);
        return this.tx(u, t, 'stake', asset, part(avail(asset), this.rng.between(2000, 10000)), Z_USD, USD);
      }
      case 5: {
        const asset = this.pick(staked);
        const s = this.position(u, asset).staked;
        const quantity = this.rng.chance(3, 10) ? s : part(s, this.rng.between(1000, 10000));
        return this.tx(u, t, 'unstake', asset, quantity, Z_USD, USD);
      }
      case 6: {
        // Card spend paid in crypto: sold at market at the point of sale.
        const asset = this.pick(free);
        const a = avail(asset);
        const spend = Decimal.fromUnits(BigInt(this.rng.between(500, 29_999)) * (u.whale ? 10n : 1n), 2);
        let quantity = spend.div(this.priceOf(asset), QTY_SCALE);
        if (quantity.gt(a)) quantity = part(a, this.rng.between(5000, 10000));
        return this.tx(u, t, 'card_spend', asset, quantity, Z_USD, USD);
      }
      default: {
        const spend = Decimal.fromUnits(BigInt(this.rng.between(500, 29_999)) * (u.whale ? 10n : 1n), 2);
        return this.tx(u, t, 'card_spend', USD, spend.rescale(QTY_SCALE), Z_USD, USD);
      }
    }
  }

  /** Cashback for a card spend, at the tier recordSpend gives (after counting that spend). */
  private cashback(u: SimUser, spend: TransactionEvent, out: UserEvent[]): void {
    const amount = spend.asset === USD ? spend.quantity.rescale(USD_SCALE) : notional(spend.quantity, spend.price);
    const r = recordSpend(u.tier, { eventId: spend.eventId, eventTime: spend.eventTime, amount }, this.tiers);
    u.tier = r.state;
    this.spendsByTier[r.tier.name] = (this.spendsByTier[r.tier.name] ?? 0) + 1;
    if (r.capped.isPositive()) this.cappedSpends++;
    if (r.cashback.isZero()) return;
    const asset = spend.asset === USD ? this.cashbackAsset : spend.asset;
    const price = this.priceOf(asset);
    const quantity = cashbackQuantity(r.cashback, price);
    if (quantity.isZero()) return;
    this.reward(u, 'cashback', asset, quantity, price, spend.eventTime, out, spend.eventId);
  }

  private reward(
    u: SimUser,
    rewardType: RewardType,
    asset: string,
    quantity: Decimal,
    price: Decimal,
    eventTime: EpochMillis,
    out: UserEvent[],
    refEventId?: string,
  ): void {
    const e: RewardEvent = {
      kind: 'reward',
      eventId: simEventId(this.opts.seed, this.seq + 1),
      userId: u.id,
      rewardType,
      asset,
      quantity,
      price,
      eventTime,
      ...(refEventId === undefined ? {} : { refEventId }),
    };
    if (!this.applyToBook(u, e)) return;
    this.seq++;
    this.emit(u, e, out);
  }

  /** Daily staking rewards at UTC midnight `m` for every staked position, users in id order. */
  private stakingRewards(m: EpochMillis, out: UserEvent[]): void {
    for (const u of this.users) {
      for (const asset of u.assets) {
        const p = this.position(u, asset);
        if (!p.staked.isPositive() || !this.latest.has(asset)) continue;
        const quantity = dailyStakingReward(p.staked, this.aprs[asset] ?? this.defaultApr);
        if (quantity.isZero()) continue;
        this.reward(u, 'staking', asset, quantity, this.priceOf(asset), m, out);
      }
    }
  }
}

/**
 * Prices in the simulator's order: (eventTime, eventId), duplicates of one eventId dropped. Copies
 * that disagree (a re-published print) are ordered by content too, so which one is kept never
 * depends on arrival order.
 */
export const orderPrices = (prices: readonly PriceEvent[]): PriceEvent[] => {
  const text = (p: PriceEvent): string => `${p.symbol}|${p.price.toString()}|${p.quantity.toString()}`;
  const sorted = [...prices].sort((a, b) => {
    const c = compareEvents(a, b);
    if (c !== 0) return c;
    const x = text(a);
    const y = text(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return sorted.filter((p, i) => i === 0 || p.eventId !== sorted[i - 1]!.eventId);
};

/** The whole bounded run: order the ticks, walk them, finish at the last tick (or `until`). */
export const simulate = (
  prices: readonly PriceEvent[],
  opts: SimulateOptions,
  until?: EpochMillis,
): { events: UserEvent[]; stats: SimulationStats } => {
  const sim = new Simulator(opts);
  const events: UserEvent[] = [];
  for (const p of orderPrices(prices)) {
    if (sim.finished) break;
    for (const e of sim.advance(p)) events.push(e);
  }
  for (const e of sim.finish(until)) events.push(e);
  return { events, stats: sim.stats() };
};
