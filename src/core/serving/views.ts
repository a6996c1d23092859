import { Decimal, USD_SCALE } from '../money/decimal.js';
import { type DayRewards, type DayRewardsJson, dayToJson } from '../speed/user-ledger.js';
import type { PortfolioMode, PortfolioView, PriceSource } from './merge.js';
import { portfolioShares } from './shares.js';

/**
 * The JSON shapes of the serving commands (`--json`), pinned by tests. Every exact amount is its
 * canonical decimal string (fixed scale: 18 for quantities, 12 for prices and USD), never a number.
 */
export interface PortfolioLineJson {
  asset: string;
  quantity: string;
  staked: string;
  avgCost: string;
  costBasis: string;
  price: string | null;
  priceSource: PriceSource | null;
  priceTime: number | null;
  marketValue: string | null;
  unrealizedPnl: string | null;
  /** marketValue / totals.marketValue, a fraction at scale 6 (HALF-EVEN); null when unpriced or the total is 0. */
  allocation: string | null;
  /** unrealizedPnl / costBasis, a fraction at scale 6 (HALF-EVEN); null when unpriced or the cost basis is 0. */
  unrealizedPnlPct: string | null;
  realizedPnl: string;
  rewardIncome: string;
  feesPaid: string;
  eventCount: number;
  lastEventTime: number;
}

export interface PortfolioJson {
  userId: string;
  mode: PortfolioMode;
  tier: string | null;
  spend30d: string | null;
  positions: PortfolioLineJson[];
  totals: {
    marketValue: string;
    costBasis: string;
    unrealizedPnl: string;
    /** unrealizedPnl / the cost basis of the priced positions (fraction, scale 6, HALF-EVEN); null when that is 0. */
    unrealizedPnlPct: string | null;
    realizedPnl: string;
    totalPnl: string;
    rewardIncome: string;
    feesPaid: string;
    unpriced: string[];
  };
  freshness: {
    batchAsOf: string | null;
    batchBuiltAt: string | null;
    speedDays: string[];
    speedEvents: number;
    usersWatermark: number | null;
    priceWatermark: number | null;
    oldestPriceTime: number | null;
    priceAgeMs: number | null;
    now: number;
  };
  warnings: string[];
}

const s = (d: Decimal | null): string | null => (d === null ? null : d.toString());

export const portfolioToJson = (v: PortfolioView): PortfolioJson => {
  const { mode: _m, ...freshness } = v.freshness;
  const shares = portfolioShares(v.lines, v.totals.marketValue);
  return {
    userId: v.userId,
    mode: v.mode,
    tier: v.tier?.tier ?? null,
    spend30d: v.tier ? v.tier.spend30d.toString() : null,
    positions: v.lines.map((l, i) => ({
      asset: l.asset,
      quantity: l.quantity.toString(),
      staked: l.staked.toString(),
      avgCost: l.avgCost.toString(),
      costBasis: l.costBasis.toString(),
      price: s(l.price?.price ?? null),
      priceSource: l.price?.source ?? null,
      priceTime: l.price?.eventTime ?? null,
      marketValue: s(l.marketValue),
      unrealizedPnl: s(l.unrealizedPnl),
      allocation: s(shares.lines[i]!.allocation),
      unrealizedPnlPct: s(shares.lines[i]!.unrealizedPnlPct),
      realizedPnl: l.realizedPnl.toString(),
      rewardIncome: l.rewardIncome.toString(),
      feesPaid: l.feesPaid.toString(),
      eventCount: l.eventCount,
      lastEventTime: l.lastEventTime,
    })),
    totals: {
      marketValue: v.totals.marketValue.toString(),
      costBasis: v.totals.costBasis.toString(),
      unrealizedPnl: v.totals.unrealizedPnl.toString(),
      unrealizedPnlPct: s(shares.totalUnrealizedPnlPct),
      realizedPnl: v.totals.realizedPnl.toString(),
      totalPnl: v.totals.totalPnl.toString(),
      rewardIncome: v.totals.rewardIncome.toString(),
      feesPaid: v.totals.feesPaid.toString(),
      unpriced: v.totals.unpriced,
    },
    freshness,
    warnings: v.warnings,
  };
};

/** One day of `rewards --json`: the core day aggregate plus where it came from. */
export interface RewardDayJson extends DayRewardsJson {
  date: string;
  source: 'batch' | 'speed';
}

export interface RewardsJson {
  userId: string;
  mode: PortfolioMode;
  from: string;
  to: string;
  tier: string | null;
  spend30d: string | null;
  days: RewardDayJson[];
  totals: { spend: string; cashbackOwed: string; cashbackCapped: string; cashbackPaid: string; stakingIncome: string };
  freshness: { batchAsOf: string | null; speedDays: string[] };
}

export const rewardDayJson = (date: string, source: 'batch' | 'speed', d: DayRewards): RewardDayJson => ({
  date,
  source,
  ...dayToJson(d),
});

/**
 * Per-day rewards: batch rows up to the cutoff, the merged replay's days after it (never both for a
 * day), restricted to [from, to].
 */
export const buildRewards = (opts: {
  userId: string;
  mode: PortfolioMode;
  from: string;
  to: string;
  batchAsOf: string | null;
  batchDays: readonly { date: string; day: DayRewards }[];
  speedDays: ReadonlyMap<string, DayRewards>;
  tier: { tier: string; spend30d: Decimal } | null;
}): RewardsJson => {
  const days: RewardDayJson[] = [];
  for (const b of opts.batchDays) {
    if (opts.batchAsOf !== null && b.date > opts.batchAsOf) continue;
    if (b.date >= opts.from && b.date <= opts.to) days.push(rewardDayJson(b.date, 'batch', b.day));
  }
  for (const [date, d] of opts.speedDays) {
    if (opts.batchAsOf !== null && date <= opts.batchAsOf) continue;
    if (date >= opts.from && date <= opts.to) days.push(rewardDayJson(date, 'speed', d));
  }
  days.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  const total = (f: (d: RewardDayJson) => string): string =>
    days
      .reduce((acc, d) => acc.add(Decimal.parse(f(d), USD_SCALE)), Decimal.zero(USD_SCALE))
      .rescale(USD_SCALE)
      .toString();
  return {
    userId: opts.userId,
    mode: opts.mode,
    from: opts.from,
    to: opts.to,
    tier: opts.tier?.tier ?? null,
    spend30d: opts.tier ? opts.tier.spend30d.toString() : null,
    days,
    totals: {
      spend: total((d) => d.spend),
      cashbackOwed: total((d) => d.cashbackOwed),
      cashbackCapped: total((d) => d.cashbackCapped),
      cashbackPaid: total((d) => d.cashbackPaid),
      stakingIncome: total((d) => d.stakingIncome),
    },
    freshness: {
      batchAsOf: opts.batchAsOf,
      speedDays: [...opts.speedDays.keys()].filter((d) => opts.batchAsOf === null || d > opts.batchAsOf).sort(),
    },
  };
};
