import { Decimal, QTY_SCALE, USD_SCALE } from '../money/decimal.js';
import type { TierState } from '../rewards/tiers.js';
import type { Position } from './position.js';

/**
 * Lossless JSON forms of core state, for Redis values and test fixtures: every Decimal is its
 * canonical string (fixed scale), parsed back at the same scale, so a round trip is byte-identical.
 */
export interface PositionJson {
  userId: string;
  asset: string;
  quantity: string;
  staked: string;
  costBasis: string;
  realizedPnl: string;
  feesPaid: string;
  rewardIncome: string;
  eventCount: number;
  lastEventTime: number;
  lastEventId: string;
}

export const positionToJson = (p: Position): PositionJson => ({
  userId: p.userId,
  asset: p.asset,
  quantity: p.quantity.rescale(QTY_SCALE).toString(),
  staked: p.staked.rescale(QTY_SCALE).toString(),
  costBasis: p.costBasis.rescale(USD_SCALE).toString(),
  realizedPnl: p.realizedPnl.rescale(USD_SCALE).toString(),
  feesPaid: p.feesPaid.rescale(USD_SCALE).toString(),
  rewardIncome: p.rewardIncome.rescale(USD_SCALE).toString(),
  eventCount: p.eventCount,
  lastEventTime: p.lastEventTime,
  lastEventId: p.lastEventId,
});

export const positionFromJson = (j: PositionJson): Position => ({
  userId: j.userId,
  asset: j.asset,
  quantity: Decimal.parse(j.quantity, QTY_SCALE),
  staked: Decimal.parse(j.staked, QTY_SCALE),
  costBasis: Decimal.parse(j.costBasis, USD_SCALE),
  realizedPnl: Decimal.parse(j.realizedPnl, USD_SCALE),
  feesPaid: Decimal.parse(j.feesPaid, USD_SCALE),
  rewardIncome: Decimal.parse(j.rewardIncome, USD_SCALE),
  eventCount: j.eventCount,
  lastEventTime: j.lastEventTime,
  lastEventId: j.lastEventId,
});

export interface TierStateJson {
  spends: { eventId: string; eventTime: number; amount: string }[];
  spend30d: string;
  tier: string;
  since: number;
  month: string;
  owedThisMonth: string;
}

export const tierStateToJson = (s: TierState): TierStateJson => ({
  spends: s.spends.map((x) => ({ eventId: x.eventId, eventTime: x.eventTime, amount: x.amount.toString() })),
  spend30d: s.spend30d.toString(),
  tier: s.tier,
  since: s.since,
  month: s.month,
  owedThisMonth: s.owedThisMonth.toString(),
});

export const tierStateFromJson = (j: TierStateJson): TierState => ({
  spends: j.spends.map((x) => ({
    eventId: x.eventId,
    eventTime: x.eventTime,
    amount: Decimal.parse(x.amount, USD_SCALE),
  })),
  spend30d: Decimal.parse(j.spend30d, USD_SCALE),
  tier: j.tier,
  since: j.since,
  month: j.month,
  owedThisMonth: Decimal.parse(j.owedThisMonth, USD_SCALE),
});
