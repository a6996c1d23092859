import { CryptolambdaError } from '../errors.js';
import type { UserEvent } from '../events/types.js';
import { Decimal, USD_SCALE } from '../money/decimal.js';
import {
  type PositionJson,
  positionFromJson,
  positionToJson,
  type TierStateJson,
  tierStateFromJson,
  tierStateToJson,
} from '../portfolio/codec.js';
import { applyLotEvent, type Disposal, openingLots } from '../portfolio/lot-accounting.js';
import {
  type CostMethod,
  DEFAULT_COST_METHOD,
  LotQueue,
  type LotQueueJson,
  lotQueueFromJson,
  lotQueueToJson,
} from '../portfolio/lots.js';
import {
  compareEvents,
  emptyPosition,
  notional,
  type Position,
  type RejectCode,
  touchesPosition,
} from '../portfolio/position.js';
import {
  advanceTo,
  DEFAULT_TIERS,
  initialTierState,
  recordSpend,
  type TierChange,
  type TierDef,
  type TierState,
  tierFor,
} from '../rewards/tiers.js';

/**
 * One user's complete state as both layers keep it: positions per asset, the reward-tier state and
 * per-day reward aggregates. `applyUserEvent` is THE function the speed layer (per Kafka record) and
 * the batch layer (per day, events sorted by (eventTime, eventId)) call, so their numbers are equal.
 */
export const DAY_MS = 24 * 3600 * 1000;
export const dayOf = (t: number): string => new Date(t).toISOString().slice(0, 10);
export const dayStart = (day: string): number => Date.parse(`${day}T00:00:00.000Z`);

/** How long event ids are remembered for duplicate detection, in event time. */
export const DEDUP_WINDOW_MS = 2 * DAY_MS;

export interface DayRewards {
  /** Card spend (USD_SCALE). */
  spend: Decimal;
  /** Cashback owed by the tier rules for the day's spend, after the monthly cap. */
  cashbackOwed: Decimal;
  /** Cashback withheld by the monthly cap. */
  cashbackCapped: Decimal;
  /** Cashback rewards credited (market value at credit, USD_SCALE). */
  cashbackPaid: Decimal;
  /** Staking rewards credited (market value at credit, USD_SCALE). */
  stakingIncome: Decimal;
  /** Realized P&L booked that day. */
  realizedPnl: Decimal;
  /** Tier and 30-day spend after the user's last event of the day. */
  tier: string;
  spend30d: Decimal;
  events: number;
  rejected: number;
}

export interface UserState {
  readonly userId: string;
  readonly positions: ReadonlyMap<string, Position>;
  readonly tier: TierState;
  /** Recently applied event ids with their event time (duplicate detection). */
  readonly recent: ReadonlyMap<string, number>;
  /** The deployment's cost-basis method the lots are kept by (docs/core.md §3a). */
  readonly costMethod: CostMethod;
  /** Open tax lots per asset (persistent queues: applying an event never changes a held state). */
  readonly lots: ReadonlyMap<string, LotQueue>;
}

export const emptyUser = (
  userId: string,
  tiers: readonly TierDef[] = DEFAULT_TIERS,
  costMethod: CostMethod = DEFAULT_COST_METHOD,
): UserState => ({
  userId,
  positions: new Map(),
  tier: initialTierState(tiers),
  recent: new Map(),
  costMethod,
  lots: new Map(),
});

const Z = Decimal.zero(USD_SCALE);
export const emptyDay = (tier: string): DayRewards => ({
  spend: Z,
  cashbackOwed: Z,
  cashbackCapped: Z,
  cashbackPaid: Z,
  stakingIncome: Z,
  realizedPnl: Z,
  tier,
  spend30d: Z,
  events: 0,
  rejected: 0,
});

export type UserOutcome =
  | { kind: 'duplicate' }
  | { kind: 'rejected'; code: RejectCode; reason: string }
  | { kind: 'applied' };

export interface UserStep {
  readonly state: UserState;
  readonly outcome: UserOutcome;
  /** The event's day aggregate after this event (undefined for duplicates). */
  readonly day?: DayRewards;
  /** Asset whose position changed. */
  readonly asset?: string;
  readonly tierChanges: TierChange[];
  /** Realized gains rows of this event, lot by lot (empty unless it disposed of units or expensed a fee). */
  readonly disposals: readonly Disposal[];
}

/**
 * Apply one event. `day` is the running aggregate of the event's day (or undefined for a fresh day).
 * Rejected events (sell beyond holdings...) change no position but are counted in the day.
 */
export const applyUserEvent = (
  s: UserState,
  e: UserEvent,
  day: DayRewards | undefined,
  tiers: readonly TierDef[] = DEFAULT_TIERS,
): UserStep => {
  if (s.recent.has(e.eventId)) return { state: s, outcome: { kind: 'duplicate' }, tierChanges: [], disposals: [] };
  const recent = new Map(s.recent);
  recent.set(e.eventId, e.eventTime);
  for (const [id, t] of recent) if (t < e.eventTime - DEDUP_WINDOW_MS) recent.delete(id);

  let d = { ...(day ?? emptyDay(s.tier.tier)) };
  d.events++;
  let positions = s.positions;
  let lots = s.lots;
  let disposals: readonly Disposal[] = [];
  let tier = s.tier;
  const tierChanges: TierChange[] = [];
  let outcome: UserOutcome = { kind: 'applied' };
  let asset: string | undefined;

  let spendUsd = Z;
  if (touchesPosition(e)) {
    const r = applyLotEvent(
      positions.get(e.asset) ?? emptyPosition(e.userId, e.asset),
      lots.get(e.asset) ?? LotQueue.empty(s.costMethod),
      e,
    );
    if (!r.ok) {
      d.rejected++;
      outcome = { kind: 'rejected', code: r.code, reason: r.reason };
    } else {
      const next = new Map(positions);
      next.set(e.asset, r.position);
      positions = next;
      const nextLots = new Map(lots);
      nextLots.set(e.asset, r.lots);
      lots = nextLots;
      disposals = r.disposals;
      asset = e.asset;
      d.realizedPnl = d.realizedPnl.add(r.effect.realized);
      spendUsd = r.effect.spendUsd;
    }
  } else if (e.kind === 'transaction' && e.type === 'card_spend') {
    // Card spend from the USD balance: no crypto position, but it counts for tiers.
    spendUsd = notional(e.quantity, e.price);
  }

  if (outcome.kind === 'applied' && e.kind === 'transaction' && e.type === 'card_spend') {
    const r = recordSpend(tier, { eventId: e.eventId, eventTime: e.eventTime, amount: spendUsd }, tiers);
    tier = r.state;
    tierChanges.push(...r.changes);
    d.spend = d.spend.add(spendUsd);
    d.cashbackOwed = d.cashbackOwed.add(r.cashback);
    d.cashbackCapped = d.cashbackCapped.add(r.capped);
  } else if (outcome.kind === 'applied') {
    const r = advanceTo(tier, e.eventTime, tiers);
    tier = r.state;
    tierChanges.push(...r.changes);
    if (e.kind === 'reward') {
      const value = notional(e.quantity, e.price);
      if (e.rewardType === 'cashback') d.cashbackPaid = d.cashbackPaid.add(value);
      else d.stakingIncome = d.stakingIncome.add(value);
    }
  }
  d = { ...d, tier: tier.tier, spend30d: tier.spend30d };
  return {
    state: { userId: s.userId, positions, tier, recent, costMethod: s.costMethod, lots },
    outcome,
    day: d,
    ...(asset === undefined ? {} : { asset }),
    tierChanges,
    disposals,
  };
};

/** Expire old spend up to event time t (the watermark): tiers can drop without a new event. */
export const advanceUser = (
  s: UserState,
  t: number,
  tiers: readonly TierDef[] = DEFAULT_TIERS,
): { state: UserState; changes: TierChange[] } => {
  const r = advanceTo(s.tier, t, tiers);
  return r.changes.length === 0 && r.state === s.tier
    ? { state: s, changes: [] }
    : { state: { ...s, tier: r.state }, changes: r.changes };
};

/** Tier name and 30-day spend at event time t without mutating the state. */
export const tierAtTime = (s: UserState, t: number, tiers: readonly TierDef[] = DEFAULT_TIERS) => {
  const r = advanceTo(s.tier, t, tiers);
  return { tier: tierFor(tiers, r.state.spend30d).name, spend30d: r.state.spend30d };
};

/** Apply a user's events (any order; sorted by the tie-break rule) and collect per-day aggregates. */
export const replayUser = (
  start: UserState,
  events: readonly UserEvent[],
  tiers: readonly TierDef[] = DEFAULT_TIERS,
): {
  state: UserState;
  days: Map<string, DayRewards>;
  rejected: { event: UserEvent; reason: string; code: RejectCode }[];
} => {
  let state = start;
  const days = new Map<string, DayRewards>();
  const rejected: { event: UserEvent; reason: string; code: RejectCode }[] = [];
  for (const e of [...events].sort(compareEvents)) {
    const day = dayOf(e.eventTime);
    const r = applyUserEvent(state, e, days.get(day), tiers);
    state = r.state;
    if (r.day) days.set(day, r.day);
    if (r.outcome.kind === 'rejected') rejected.push({ event: e, reason: r.outcome.reason, code: r.outcome.code });
  }
  return { state, days, rejected };
};

export interface UserStateJson {
  userId: string;
  positions: PositionJson[];
  tier: TierStateJson;
  recent: [string, number][];
  /** Absent in states written before lots existed: read as average cost with one opening lot per position. */
  costMethod?: CostMethod;
  lots?: Record<string, LotQueueJson>;
}

export const userToJson = (s: UserState): UserStateJson => ({
  userId: s.userId,
  positions: [...s.positions.values()].map(positionToJson),
  tier: tierStateToJson(s.tier),
  recent: [...s.recent],
  costMethod: s.costMethod,
  lots: Object.fromEntries([...s.lots].map(([a, q]) => [a, lotQueueToJson(q)])),
});

/**
 * Parse a stored state. A state written before lots existed has no method: it takes `method` (the
 * deployment's) with one opening lot per position. A state kept by ANOTHER method is refused: mixing
 * methods would give numbers no single method produces; changing it means rebuilding from history.
 */
export const userFromJson = (j: UserStateJson, method: CostMethod = DEFAULT_COST_METHOD): UserState => {
  if (j.costMethod !== undefined && j.costMethod !== method) {
    throw new CryptolambdaError(
      'INVALID_CONFIG',
      `the state of ${j.userId} is kept by cost-basis method ${j.costMethod}, this deployment uses ${method}`,
      `run with --cost-basis ${j.costMethod} (CRYPTOLAMBDA_COST_BASIS), or rebuild both layers from history to change it`,
    );
  }
  const positions = new Map(j.positions.map((p) => [p.asset, positionFromJson(p)]));
  const costMethod = method;
  const lots = new Map<string, LotQueue>();
  for (const [asset, p] of positions) {
    const q = j.lots?.[asset];
    lots.set(asset, q === undefined ? openingLots(p, costMethod) : lotQueueFromJson(q));
  }
  return { userId: j.userId, positions, tier: tierStateFromJson(j.tier), recent: new Map(j.recent), costMethod, lots };
};

export interface DayRewardsJson {
  spend: string;
  cashbackOwed: string;
  cashbackCapped: string;
  cashbackPaid: string;
  stakingIncome: string;
  realizedPnl: string;
  tier: string;
  spend30d: string;
  events: number;
  rejected: number;
}

export const dayToJson = (d: DayRewards): DayRewardsJson => ({
  spend: d.spend.toString(),
  cashbackOwed: d.cashbackOwed.toString(),
  cashbackCapped: d.cashbackCapped.toString(),
  cashbackPaid: d.cashbackPaid.toString(),
  stakingIncome: d.stakingIncome.toString(),
  realizedPnl: d.realizedPnl.toString(),
  tier: d.tier,
  spend30d: d.spend30d.toString(),
  events: d.events,
  rejected: d.rejected,
});

export const dayFromJson = (j: DayRewardsJson): DayRewards => {
  const u = (s: string) => Decimal.parse(s, USD_SCALE);
  return {
    spend: u(j.spend),
    cashbackOwed: u(j.cashbackOwed),
    cashbackCapped: u(j.cashbackCapped),
    cashbackPaid: u(j.cashbackPaid),
    stakingIncome: u(j.stakingIncome),
    realizedPnl: u(j.realizedPnl),
    tier: j.tier,
    spend30d: u(j.spend30d),
    events: j.events,
    rejected: j.rejected,
  };
};
