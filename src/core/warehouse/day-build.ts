import { eventToRaw } from '../events/json.js';
import type { UserEvent } from '../events/types.js';
import { Decimal, USD_SCALE } from '../money/decimal.js';
import { avgCost, compareEvents, type Position, valueAt } from '../portfolio/position.js';
import { DEFAULT_TIERS, type TierDef } from '../rewards/tiers.js';
import {
  applyUserEvent,
  DAY_MS,
  type DayRewards,
  dayStart,
  emptyUser,
  tierAtTime,
  type UserState,
} from '../speed/user-ledger.js';

/**
 * One user's contribution to a date's warehouse build: the batch layer's only accounting. It calls
 * the same `applyUserEvent` the speed layer calls per Kafka record, on the user's events sorted by
 * (eventTime, eventId), starting from the previous date's end state, so the facts equal the speed
 * layer's end-of-day state to the last unit. The rows keep core Decimals; the adapter maps them to
 * DECIMAL columns of src/core/warehouse/schema.ts.
 */
export interface PortfolioFact {
  readonly position: Position;
  readonly avgCostBasis: Decimal;
  readonly realizedPnlDay: Decimal;
  readonly eventsDay: number;
  readonly closePrice?: Decimal;
  readonly marketValue?: Decimal;
  readonly unrealizedPnl?: Decimal;
}

export interface RejectFact {
  readonly eventId: string;
  readonly userId?: string;
  readonly sourceTable: string;
  readonly code: string;
  readonly reason: string;
  readonly eventJson: string;
}

export interface UserDayResult {
  readonly state: UserState;
  readonly portfolio: PortfolioFact[];
  /** The day aggregate (DayRewards), undefined when the user had no applied or rejected event on the date. */
  readonly rewards?: DayRewards;
  readonly rejects: RejectFact[];
  /** Tier at the end of the date (spend that left the 30-day window by then expired). */
  readonly tierAtEnd: string;
  /** Events of the date that were not duplicates (applied + rejected). */
  readonly events: number;
}

/** Last millisecond of a UTC date. */
export const dayEnd = (date: string): number => dayStart(date) + DAY_MS - 1;

const Z = Decimal.zero(USD_SCALE);

/**
 * Build date `date` for one user: `start` is the state after the previous date (undefined = a new
 * user), `events` every event of the user with event time <= the end of `date` that is not yet in
 * `start` (earlier ones when building from history). Rejects and duplicates of `date` become
 * RejectFacts; the day aggregate covers only `date`'s events (it starts empty, as in the speed layer).
 * `start` is updated in place and returned as `state` (the ledger owns its state; see user-ledger.ts).
 */
export const buildUserDay = (
  userId: string,
  start: UserState | undefined,
  events: readonly UserEvent[],
  date: string,
  closes: ReadonlyMap<string, Decimal>,
  tiers: readonly TierDef[] = DEFAULT_TIERS,
): UserDayResult => {
  const from = dayStart(date);
  let state = start ?? emptyUser(userId, tiers);
  let startPositions: ReadonlyMap<string, Position> = state.positions;
  let day: DayRewards | undefined;
  const rejects: RejectFact[] = [];
  let count = 0;
  let inDate = false;
  for (const e of [...events].sort(compareEvents)) {
    if (!inDate && e.eventTime >= from) {
      inDate = true;
      // The ledger updates positions in place: keep the book as the date starts (O(assets), once).
      startPositions = new Map(state.positions);
    }
    const step = applyUserEvent(state, e, inDate ? day : undefined, tiers);
    if (!inDate) {
      state = step.state;
      continue;
    }
    const source = e.kind === 'transaction' ? 'transactions' : 'rewards';
    if (step.outcome.kind === 'duplicate') {
      rejects.push({
        eventId: e.eventId,
        userId,
        sourceTable: source,
        code: 'DUPLICATE',
        reason: `event id ${e.eventId} already applied within the dedup window`,
        eventJson: JSON.stringify(eventToRaw(e)),
      });
      continue;
    }
    count++;
    state = step.state;
    day = step.day;
    if (step.outcome.kind === 'rejected') {
      rejects.push({
        eventId: e.eventId,
        userId,
        sourceTable: source,
        code: step.outcome.code,
        reason: step.outcome.reason,
        eventJson: JSON.stringify(eventToRaw(e)),
      });
    }
  }
  if (!inDate) startPositions = state.positions;
  const portfolio: PortfolioFact[] = [];
  for (const p of [...state.positions.values()].sort((a, b) => (a.asset < b.asset ? -1 : a.asset > b.asset ? 1 : 0))) {
    const before = startPositions.get(p.asset);
    const eventsDay = p.eventCount - (before?.eventCount ?? 0);
    // Positions sold to zero drop out the day after their last event; see FACT_PORTFOLIO_DAILY.
    if (p.quantity.isZero() && p.costBasis.isZero() && eventsDay === 0) continue;
    const close = closes.get(p.asset);
    const v = close === undefined ? undefined : valueAt(p, close);
    portfolio.push({
      position: p,
      avgCostBasis: avgCost(p),
      realizedPnlDay: p.realizedPnl.sub(before?.realizedPnl ?? Z).rescale(USD_SCALE),
      eventsDay,
      ...(close === undefined || v === undefined
        ? {}
        : { closePrice: close, marketValue: v.marketValue, unrealizedPnl: v.unrealizedPnl }),
    });
  }
  return {
    state,
    portfolio,
    ...(day === undefined ? {} : { rewards: day }),
    rejects,
    tierAtEnd: tierAtTime(state, dayEnd(date), tiers).tier,
    events: count,
  };
};
