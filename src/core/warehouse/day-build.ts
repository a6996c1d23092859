import { CryptolambdaError } from '../errors.js';
import { eventToRaw } from '../events/json.js';
import type { UserEvent } from '../events/types.js';
import { Decimal, USD_SCALE } from '../money/decimal.js';
import type { Disposal } from '../portfolio/lot-accounting.js';
import { type CostMethod, type LotRow, type OpenLot, openLotOf } from '../portfolio/lots.js';
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

export interface LotFact {
  readonly asset: string;
  readonly lot: OpenLot;
}

export interface UserDayResult {
  readonly state: UserState;
  readonly portfolio: PortfolioFact[];
  /** Open lots at the end of the date, by asset then acquisition order (fact_lot_daily). */
  readonly lots: LotFact[];
  /** Realized gains rows of the date's events (fact_realized_gain). */
  readonly gains: Disposal[];
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

/** Where a streamed user day puts its row facts as they happen (nothing is held for the day). */
export interface UserDaySink {
  gain(g: Disposal): void;
  reject(r: RejectFact): void;
}

/**
 * A streamed user day's end: UserDayResult without the row facts the sink already received, and
 * with the open lots as a pass over the queues (`forEachLot`, `lotCount` of them) instead of a list:
 * a heavy user holds millions of lots, which as OpenLots (four Decimals each) were a GB at once.
 */
export type UserDayEnd = Omit<UserDayResult, 'gains' | 'rejects' | 'lots'> & {
  readonly lotCount: number;
  /** Each open lot, position by position in acquisition order, as the queue's own record (read-only). */
  forEachLot(f: (asset: string, row: Readonly<LotRow>) => void): void;
};

/**
 * One user's date, streamed: `apply` each event in (eventTime, eventId) order (events before the
 * date only fold into the state; the date's realized gains and rejects go to the sink at once),
 * then `finish` for the end-of-date portfolio, lots, rewards and tier. Memory is the user's state,
 * never its day of events: a heavy user with a million events of the date streams through (the
 * batch reads them already sorted by DuckDB). An event out of order is refused (INTERNAL), since the
 * ledger's result depends on the order.
 */
export class UserDayBuilder {
  private state: UserState;
  private startPositions: ReadonlyMap<string, Position>;
  private day: DayRewards | undefined;
  private count = 0;
  private inDate = false;
  private last: UserEvent | undefined;
  private readonly from: number;

  constructor(
    readonly userId: string,
    start: UserState | undefined,
    private readonly date: string,
    private readonly sink: UserDaySink,
    private readonly tiers: readonly TierDef[] = DEFAULT_TIERS,
    costMethod?: CostMethod,
  ) {
    this.from = dayStart(date);
    this.state = start ?? emptyUser(userId, tiers, costMethod);
    this.startPositions = this.state.positions;
  }

  apply(e: UserEvent): void {
    if (this.last !== undefined && compareEvents(this.last, e) > 0)
      throw new CryptolambdaError(
        'INTERNAL',
        `events of user ${this.userId} out of order: ${e.eventId} after ${this.last.eventId}`,
      );
    this.last = e;
    if (!this.inDate && e.eventTime >= this.from) {
      this.inDate = true;
      // The ledger updates positions in place: keep the book as the date starts (O(assets), once).
      this.startPositions = new Map(this.state.positions);
    }
    const step = applyUserEvent(this.state, e, this.inDate ? this.day : undefined, this.tiers);
    if (!this.inDate) {
      this.state = step.state;
      return;
    }
    const source = e.kind === 'transaction' ? 'transactions' : 'rewards';
    if (step.outcome.kind === 'duplicate') {
      this.sink.reject({
        eventId: e.eventId,
        userId: this.userId,
        sourceTable: source,
        code: 'DUPLICATE',
        reason: `event id ${e.eventId} already applied within the dedup window`,
        eventJson: JSON.stringify(eventToRaw(e)),
      });
      return;
    }
    this.count++;
    this.state = step.state;
    this.day = step.day;
    for (const g of step.disposals) this.sink.gain(g);
    if (step.outcome.kind === 'rejected')
      this.sink.reject({
        eventId: e.eventId,
        userId: this.userId,
        sourceTable: source,
        code: step.outcome.code,
        reason: step.outcome.reason,
        eventJson: JSON.stringify(eventToRaw(e)),
      });
  }

  finish(closes: ReadonlyMap<string, Decimal>): UserDayEnd {
    const state = this.state;
    const startPositions = this.inDate ? this.startPositions : state.positions;
    const portfolio: PortfolioFact[] = [];
    for (const p of [...state.positions.values()].sort((a, b) =>
      a.asset < b.asset ? -1 : a.asset > b.asset ? 1 : 0,
    )) {
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
    let lotCount = 0;
    for (const p of portfolio) lotCount += state.lots.get(p.position.asset)?.size ?? 0;
    // These rows are also where the next date's build finds the open lots (the snapshot stores them
    // apart, userToJson): every open lot must be among them, none only in a dropped position.
    let open = 0;
    for (const q of state.lots.values()) open += q.size;
    if (open !== lotCount)
      throw new CryptolambdaError(
        'INTERNAL',
        `user ${this.userId} holds ${open} open lot(s), ${lotCount} in its positions of ${this.date}`,
      );
    const forEachLot = (f: (asset: string, row: Readonly<LotRow>) => void): void => {
      for (const p of portfolio) {
        const asset = p.position.asset;
        state.lots.get(asset)?.forEachRow((row) => f(asset, row));
      }
    };
    return {
      state,
      portfolio,
      lotCount,
      forEachLot,
      ...(this.day === undefined ? {} : { rewards: this.day }),
      tierAtEnd: tierAtTime(state, dayEnd(this.date), this.tiers).tier,
      events: this.count,
    };
  }
}

/**
 * Build date `date` for one user: `start` is the state after the previous date (undefined = a new
 * user), `events` every event of the user with event time <= the end of `date` that is not yet in
 * `start` (earlier ones when building from history), in any order. Rejects and duplicates of
 * `date` become RejectFacts; the day aggregate covers only `date`'s events (it starts empty, as in
 * the speed layer). `start` is updated in place and returned as `state` (the ledger owns its state;
 * see user-ledger.ts). The batch streams the same steps through UserDayBuilder.
 */
export const buildUserDay = (
  userId: string,
  start: UserState | undefined,
  events: readonly UserEvent[],
  date: string,
  closes: ReadonlyMap<string, Decimal>,
  tiers: readonly TierDef[] = DEFAULT_TIERS,
  costMethod?: CostMethod,
): UserDayResult => {
  const gains: Disposal[] = [];
  const rejects: RejectFact[] = [];
  const b = new UserDayBuilder(
    userId,
    start,
    date,
    { gain: (g) => gains.push(g), reject: (r) => rejects.push(r) },
    tiers,
    costMethod,
  );
  for (const e of [...events].sort(compareEvents)) b.apply(e);
  const { forEachLot, lotCount: _, ...end } = b.finish(closes);
  const lots: { asset: string; lot: OpenLot }[] = [];
  forEachLot((asset, row) => lots.push({ asset, lot: openLotOf(row) }));
  return { ...end, lots, gains, rejects };
};
