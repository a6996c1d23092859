import { Decimal, USD_SCALE } from '../money/decimal.js';

/**
 * Reward tiers on 30-day rolling card spend, in event time.
 *
 * spend30d(t) = sum of card spend (USD) with eventTime in (t - 30 days, t].
 * tier(t)     = the highest tier whose threshold <= spend30d(t).
 * Cashback for a spend at t = spend x rate(tier(t)) — the tier AFTER counting that spend — rounded
 * HALF-EVEN to USD_SCALE, then capped so the cashback owed in the spend's UTC calendar month never
 * exceeds the cap of the tier in effect for that spend.
 * Spend leaves the window at exactly eventTime + 30 days; the tier is re-evaluated at that instant,
 * so a user drops a tier at a deterministic event time whenever the watermark passes it.
 */
export const WINDOW_MS = 30 * 24 * 3600 * 1000;

export interface TierDef {
  readonly name: string;
  /** Minimum 30-day spend (USD). */
  readonly threshold: Decimal;
  /** Cashback rate as a fraction (0.005 = 0.5 %). */
  readonly rate: Decimal;
  /** Maximum cashback owed per calendar month (USD). */
  readonly monthlyCap: Decimal;
}

const d = (s: string): Decimal => Decimal.parse(s, USD_SCALE);

/** Default table; thresholds ascending. Override with a config file (docs/core.md). */
export const DEFAULT_TIERS: readonly TierDef[] = [
  { name: 'Bronze', threshold: d('0'), rate: d('0.005'), monthlyCap: d('25') },
  { name: 'Silver', threshold: d('1000'), rate: d('0.01'), monthlyCap: d('100') },
  { name: 'Gold', threshold: d('10000'), rate: d('0.02'), monthlyCap: d('500') },
  { name: 'Platinum', threshold: d('100000'), rate: d('0.03'), monthlyCap: d('2000') },
];

/** Reasons, not exceptions: a tier table from config is checked before use. */
export const checkTiers = (tiers: readonly TierDef[]): string | undefined => {
  if (tiers.length === 0) return 'tier table is empty';
  if (!tiers[0]!.threshold.isZero()) return 'the first tier must start at 0';
  for (let i = 1; i < tiers.length; i++) {
    if (!tiers[i]!.threshold.gt(tiers[i - 1]!.threshold)) return `tier ${tiers[i]!.name}: thresholds must increase`;
  }
  for (const t of tiers)
    if (t.rate.isNegative() || t.monthlyCap.isNegative()) return `tier ${t.name}: negative rate or cap`;
  return undefined;
};

export const tierFor = (tiers: readonly TierDef[], spend: Decimal): TierDef => {
  let out = tiers[0]!;
  for (const t of tiers) if (spend.gte(t.threshold)) out = t;
  return out;
};

export interface Spend {
  readonly eventId: string;
  readonly eventTime: number;
  readonly amount: Decimal;
}

/** One user's reward state. Immutable; every function returns a new one. */
export interface TierState {
  /** Spends still inside the window, ordered by (eventTime, eventId). */
  readonly spends: readonly Spend[];
  readonly spend30d: Decimal;
  readonly tier: string;
  /** Event time the current tier took effect (0 = never changed). */
  readonly since: number;
  /** `YYYY-MM` of the month `owedThisMonth` belongs to. */
  readonly month: string;
  readonly owedThisMonth: Decimal;
}

export interface TierChange {
  readonly at: number;
  readonly from: string;
  readonly to: string;
  readonly spend30d: Decimal;
}

export const initialTierState = (tiers: readonly TierDef[] = DEFAULT_TIERS): TierState => ({
  spends: [],
  spend30d: Decimal.zero(USD_SCALE),
  tier: tiers[0]!.name,
  since: 0,
  month: '',
  owedThisMonth: Decimal.zero(USD_SCALE),
});

export const monthOf = (t: number): string => new Date(t).toISOString().slice(0, 7);

const retier = (s: TierState, tiers: readonly TierDef[], at: number, changes: TierChange[]): TierState => {
  const t = tierFor(tiers, s.spend30d).name;
  if (t === s.tier) return s;
  changes.push({ at, from: s.tier, to: t, spend30d: s.spend30d });
  return { ...s, tier: t, since: at };
};

/**
 * Expire spend that left the window by event time `t` (every spend with eventTime + 30d <= t),
 * in expiry order, re-evaluating the tier at each expiry instant. Returns the changes it caused.
 */
export const advanceTo = (
  s: TierState,
  t: number,
  tiers: readonly TierDef[] = DEFAULT_TIERS,
): { state: TierState; changes: TierChange[] } => {
  const changes: TierChange[] = [];
  let state = s;
  while (state.spends.length > 0 && state.spends[0]!.eventTime + WINDOW_MS <= t) {
    const expiry = state.spends[0]!.eventTime + WINDOW_MS;
    let i = 0;
    let spend30d = state.spend30d;
    while (i < state.spends.length && state.spends[i]!.eventTime + WINDOW_MS === expiry) {
      spend30d = spend30d.sub(state.spends[i]!.amount);
      i++;
    }
    state = retier({ ...state, spends: state.spends.slice(i), spend30d }, tiers, expiry, changes);
  }
  return { state, changes };
};

export interface SpendResult {
  readonly state: TierState;
  readonly changes: TierChange[];
  /** Tier applied to this spend. */
  readonly tier: TierDef;
  /** Cashback owed for this spend after the monthly cap (USD_SCALE). */
  readonly cashback: Decimal;
  /** Cashback the cap withheld (USD_SCALE). */
  readonly capped: Decimal;
}

/**
 * Record a card spend (events must come in (eventTime, eventId) order per user). Expires old spend
 * first, so the tier is always that of the window ending at the spend.
 */
export const recordSpend = (s: TierState, spend: Spend, tiers: readonly TierDef[] = DEFAULT_TIERS): SpendResult => {
  const adv = advanceTo(s, spend.eventTime, tiers);
  const amount = spend.amount.rescale(USD_SCALE);
  const changes = adv.changes;
  let state: TierState = {
    ...adv.state,
    spends: [...adv.state.spends, { ...spend, amount }],
    spend30d: adv.state.spend30d.add(amount),
  };
  state = retier(state, tiers, spend.eventTime, changes);
  const tier = tierFor(tiers, state.spend30d);
  const month = monthOf(spend.eventTime);
  const owedBefore = month === state.month ? state.owedThisMonth : Decimal.zero(USD_SCALE);
  const full = amount.mul(tier.rate, USD_SCALE);
  const room = Decimal.max(tier.monthlyCap.sub(owedBefore), Decimal.zero(USD_SCALE));
  const cashback = Decimal.min(full, room);
  state = { ...state, month, owedThisMonth: owedBefore.add(cashback) };
  return { state, changes, tier, cashback, capped: full.sub(cashback) };
};

/** Tier at event time t for a user's full spend history (any order). */
export const tierAt = (spends: readonly Spend[], t: number, tiers: readonly TierDef[] = DEFAULT_TIERS): TierDef => {
  let total = Decimal.zero(USD_SCALE);
  for (const s of spends) if (s.eventTime <= t && s.eventTime > t - WINDOW_MS) total = total.add(s.amount);
  return tierFor(tiers, total);
};
