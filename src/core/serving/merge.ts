import { userEventFromRaw } from '../events/json.js';
import type { UserEvent } from '../events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../money/decimal.js';
import { type PositionJson, positionFromJson } from '../portfolio/codec.js';
import type { Disposal } from '../portfolio/lot-accounting.js';
import type { CostMethod, LotQueue } from '../portfolio/lots.js';
import { avgCost, compareEvents, type Position, valueAt } from '../portfolio/position.js';
import { DEFAULT_TIERS, type TierDef } from '../rewards/tiers.js';
import {
  applyUserEvent,
  DAY_MS,
  type DayRewards,
  dayOf,
  dayStart,
  emptyUser,
  tierAtTime,
  type UserState,
  type UserStateJson,
  userFromJson,
} from '../speed/user-ledger.js';

/**
 * The Lambda merge of one user, pure. The batch view is the source of truth up to its cutoff (the
 * latest built date D): its snapshot_user_state row is the user's complete core state after D. The
 * speed layer adds the days after D: every event it applied on those event days (`delta:<user>:<day>`)
 * is replayed on top of the snapshot with the same core `applyUserEvent` both layers use, in
 * (eventTime, eventId) order, so the result is exactly what a batch build of those days would give.
 * Days <= D are never taken from the speed layer (no double counting); an event id seen twice counts
 * once (the snapshot's recent ids and the replay's own set).
 */
export type PortfolioMode = 'merged' | 'batch-only' | 'speed-only';

/** One day's speed delta: the raw JSON events stored in `delta:<user>:<day>`. */
export interface DeltaDay {
  readonly day: string;
  readonly events: readonly string[];
}

export interface BatchSide {
  /** Latest built date (the cutoff), YYYY-MM-DD. */
  readonly asOf: string;
  readonly builtAt: string | null;
  /** The user's state after `asOf`, or null when the batch has never seen the user. */
  readonly state: UserStateJson | null;
}

export interface SpeedSide {
  /** Deltas of the days after the batch cutoff (any days when there is no batch build). */
  readonly deltas: readonly DeltaDay[];
  /** `pos:<user>`: the speed layer's own complete book, used only when no batch build exists. */
  readonly positions: readonly PositionJson[];
  /** `tier:<user>` (the speed layer's tier advanced to its watermark). */
  readonly tier: { readonly tier: string; readonly spend30d: string } | null;
  /** Event time up to which user events have been applied (max over partitions), null if none. */
  readonly usersWatermark: number | null;
  /** The stream-wide price watermark (min over partitions), null before any price. */
  readonly priceWatermark: number | null;
}

export interface MergeInput {
  readonly userId: string;
  /** null: no batch build exists at all. */
  readonly batch: BatchSide | null;
  readonly speed: SpeedSide;
  readonly tiers?: readonly TierDef[];
  /** The deployment's cost-basis method (default average). */
  readonly costMethod?: CostMethod;
}

export interface ReplayStats {
  readonly deltaDays: string[];
  readonly deltaEvents: number;
  readonly applied: number;
  readonly duplicates: number;
  readonly rejected: { eventId: string; code: string; reason: string }[];
  /** Stored values that are not a valid event of this user and day (never applied, always reported). */
  readonly invalid: string[];
}

export interface MergedUser {
  readonly userId: string;
  readonly mode: PortfolioMode;
  readonly positions: readonly Position[];
  readonly tier: { tier: string; spend30d: Decimal } | null;
  /** Day aggregates of the replayed days (merged mode, or speed-only after a build). */
  readonly days: ReadonlyMap<string, DayRewards>;
  readonly batchAsOf: string | null;
  readonly batchBuiltAt: string | null;
  readonly replay: ReplayStats;
  readonly warnings: string[];
  /** Open lots per asset after the merge (empty in speed-only mode without a build: `pos:` has no lots). */
  readonly lots: ReadonlyMap<string, LotQueue>;
  /** Realized gains rows of the replayed speed-layer days (those after the batch cutoff). */
  readonly gains: readonly Disposal[];
}

/** Replay delta events on top of a state; events of days <= `cutoff` are ignored (the batch has them). */
export const replayDeltas = (
  start: UserState,
  deltas: readonly DeltaDay[],
  cutoff: string | null,
  tiers: readonly TierDef[] = DEFAULT_TIERS,
): { state: UserState; days: Map<string, DayRewards>; stats: ReplayStats; gains: Disposal[] } => {
  const byId = new Map<string, UserEvent>();
  const invalid: string[] = [];
  let deltaEvents = 0;
  let duplicates = 0;
  const deltaDays: string[] = [];
  for (const d of [...deltas].sort((a, b) => (a.day < b.day ? -1 : 1))) {
    if (cutoff !== null && d.day <= cutoff) continue;
    if (d.events.length > 0) deltaDays.push(d.day);
    for (const text of d.events) {
      deltaEvents++;
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        invalid.push(`${d.day}: not JSON`);
        continue;
      }
      const r = userEventFromRaw(raw);
      if (!r.ok) invalid.push(`${d.day}: ${r.reason}`);
      else if (r.event.userId !== start.userId) invalid.push(`${d.day}: event ${r.event.eventId} of another user`);
      else if (dayOf(r.event.eventTime) !== d.day) invalid.push(`${d.day}: event ${r.event.eventId} of another day`);
      else if (byId.has(r.event.eventId)) duplicates++;
      else byId.set(r.event.eventId, r.event);
    }
  }
  let state = start;
  const days = new Map<string, DayRewards>();
  const rejected: ReplayStats['rejected'] = [];
  const gains: Disposal[] = [];
  let applied = 0;
  for (const e of [...byId.values()].sort(compareEvents)) {
    const day = dayOf(e.eventTime);
    const step = applyUserEvent(state, e, days.get(day), tiers);
    if (step.outcome.kind === 'duplicate') {
      duplicates++;
      continue;
    }
    state = step.state;
    days.set(day, step.day!);
    gains.push(...step.disposals);
    if (step.outcome.kind === 'rejected') {
      rejected.push({ eventId: e.eventId, code: step.outcome.code, reason: step.outcome.reason });
    } else applied++;
  }
  return { state, days, stats: { deltaDays, deltaEvents, applied, duplicates, rejected, invalid }, gains };
};

const sortPositions = (ps: Iterable<Position>): Position[] =>
  [...ps].sort((a, b) => (a.asset < b.asset ? -1 : a.asset > b.asset ? 1 : 0));

/**
 * Decide which sides know the user and merge them. null when neither does (the caller reports
 * NOT_FOUND). With no batch build at all, the speed layer's own book (`pos:<user>`) is the whole
 * state; with a build that has never seen the user, the deltas after the cutoff start from empty.
 */
export const mergeUser = (input: MergeInput): MergedUser | null => {
  const tiers = input.tiers ?? DEFAULT_TIERS;
  const { batch, speed, userId } = input;
  const warnings: string[] = [];
  if (batch === null) {
    if (speed.positions.length === 0 && speed.tier === null) return null;
    warnings.push('no batch build exists: the speed layer is the only source');
    return {
      userId,
      mode: 'speed-only',
      positions: sortPositions(speed.positions.map(positionFromJson)),
      tier:
        speed.tier === null ? null : { tier: speed.tier.tier, spend30d: Decimal.parse(speed.tier.spend30d, USD_SCALE) },
      days: new Map(),
      batchAsOf: null,
      batchBuiltAt: null,
      replay: { deltaDays: [], deltaEvents: 0, applied: 0, duplicates: 0, rejected: [], invalid: [] },
      warnings,
      lots: new Map(),
      gains: [],
    };
  }
  const start =
    batch.state === null ? emptyUser(userId, tiers, input.costMethod) : userFromJson(batch.state, input.costMethod);
  const r = replayDeltas(start, speed.deltas, batch.asOf, tiers);
  const hasSpeed = r.stats.deltaEvents > 0;
  if (batch.state === null && !hasSpeed) return null;
  const mode: PortfolioMode = batch.state === null ? 'speed-only' : hasSpeed ? 'merged' : 'batch-only';
  if (batch.state === null) warnings.push(`the batch (as of ${batch.asOf}) has no state for ${userId}`);
  if (r.stats.invalid.length > 0) warnings.push(`${r.stats.invalid.length} stored delta value(s) skipped as invalid`);
  // Tier as of the latest event time either side has reached: the end of the cutoff day, or the
  // speed layer's users' watermark when it is further (30-day spend expires in event time).
  const cutoffEnd = dayStart(batch.asOf) + DAY_MS - 1;
  const lastEvent = Math.max(0, ...[...r.state.positions.values()].map((p) => p.lastEventTime));
  const asAt = Math.max(cutoffEnd, speed.usersWatermark ?? cutoffEnd, lastEvent);
  return {
    userId,
    mode,
    positions: sortPositions(r.state.positions.values()),
    tier: tierAtTime(r.state, asAt, tiers),
    days: r.days,
    batchAsOf: batch.asOf,
    batchBuiltAt: batch.builtAt,
    replay: r.stats,
    warnings,
    lots: r.state.lots,
    gains: r.gains,
  };
};

/** live: `price:last`; batch-close: fact_price_daily; candle-close: a day's last 5m candle (after the cutoff). */
export type PriceSource = 'live' | 'batch-close' | 'candle-close';

export interface PriceQuote {
  readonly price: Decimal;
  /** Event time of the trade (live) or the end of the close's day (batch-close). */
  readonly eventTime: number;
  readonly source: PriceSource;
}

/** The later of a live price and the batch close (a stalled speed layer must not win over a newer build). */
export const pickPrice = (live: PriceQuote | undefined, close: PriceQuote | undefined): PriceQuote | undefined => {
  if (live === undefined) return close;
  if (close === undefined) return live;
  return close.eventTime > live.eventTime ? close : live;
};

export interface PortfolioLine {
  readonly asset: string;
  readonly quantity: Decimal;
  readonly staked: Decimal;
  readonly avgCost: Decimal;
  readonly costBasis: Decimal;
  readonly price: PriceQuote | null;
  readonly marketValue: Decimal | null;
  readonly unrealizedPnl: Decimal | null;
  readonly realizedPnl: Decimal;
  readonly rewardIncome: Decimal;
  readonly feesPaid: Decimal;
  readonly eventCount: number;
  readonly lastEventTime: number;
}

export interface PortfolioTotals {
  /** Of priced positions. */
  readonly marketValue: Decimal;
  readonly costBasis: Decimal;
  /** Of priced positions. */
  readonly unrealizedPnl: Decimal;
  readonly realizedPnl: Decimal;
  /** realized + unrealized. */
  readonly totalPnl: Decimal;
  readonly rewardIncome: Decimal;
  readonly feesPaid: Decimal;
  /** Assets held without any price: excluded from market value and unrealized P&L. */
  readonly unpriced: string[];
}

export interface Freshness {
  readonly mode: PortfolioMode;
  readonly batchAsOf: string | null;
  readonly batchBuiltAt: string | null;
  readonly speedDays: string[];
  readonly speedEvents: number;
  readonly usersWatermark: number | null;
  readonly priceWatermark: number | null;
  /** Event time of the oldest price used, and its age at `now`. */
  readonly oldestPriceTime: number | null;
  readonly priceAgeMs: number | null;
  readonly now: number;
}

export interface PortfolioView {
  readonly userId: string;
  readonly mode: PortfolioMode;
  readonly tier: { tier: string; spend30d: Decimal } | null;
  readonly lines: PortfolioLine[];
  readonly totals: PortfolioTotals;
  readonly freshness: Freshness;
  readonly warnings: string[];
}

const ZU = Decimal.zero(USD_SCALE);

export const valuePortfolio = (
  m: MergedUser,
  prices: ReadonlyMap<string, PriceQuote>,
  speed: Pick<SpeedSide, 'usersWatermark' | 'priceWatermark'>,
  now: number,
): PortfolioView => {
  const lines: PortfolioLine[] = m.positions.map((p) => {
    const q = prices.get(p.asset) ?? null;
    const v = q === null ? null : valueAt(p, q.price);
    return {
      asset: p.asset,
      quantity: p.quantity.rescale(QTY_SCALE),
      staked: p.staked.rescale(QTY_SCALE),
      avgCost: avgCost(p).rescale(PRICE_SCALE),
      costBasis: p.costBasis,
      price: q,
      marketValue: v?.marketValue ?? null,
      unrealizedPnl: v?.unrealizedPnl ?? null,
      realizedPnl: p.realizedPnl,
      rewardIncome: p.rewardIncome,
      feesPaid: p.feesPaid,
      eventCount: p.eventCount,
      lastEventTime: p.lastEventTime,
    };
  });
  const sum = (f: (l: PortfolioLine) => Decimal | null): Decimal =>
    lines.reduce((acc, l) => acc.add(f(l) ?? ZU), ZU).rescale(USD_SCALE);
  const realized = sum((l) => l.realizedPnl);
  const unrealized = sum((l) => l.unrealizedPnl);
  const priceTimes = lines.flatMap((l) => (l.price === null || l.quantity.isZero() ? [] : [l.price.eventTime]));
  const oldest = priceTimes.length === 0 ? null : Math.min(...priceTimes);
  return {
    userId: m.userId,
    mode: m.mode,
    tier: m.tier,
    lines,
    totals: {
      marketValue: sum((l) => l.marketValue),
      costBasis: sum((l) => l.costBasis),
      unrealizedPnl: unrealized,
      realizedPnl: realized,
      totalPnl: realized.add(unrealized),
      rewardIncome: sum((l) => l.rewardIncome),
      feesPaid: sum((l) => l.feesPaid),
      unpriced: lines.filter((l) => l.price === null && !l.quantity.isZero()).map((l) => l.asset),
    },
    freshness: {
      mode: m.mode,
      batchAsOf: m.batchAsOf,
      batchBuiltAt: m.batchBuiltAt,
      speedDays: m.replay.deltaDays,
      speedEvents: m.replay.deltaEvents,
      usersWatermark: speed.usersWatermark,
      priceWatermark: speed.priceWatermark,
      oldestPriceTime: oldest,
      priceAgeMs: oldest === null ? null : now - oldest,
      now,
    },
    warnings: [
      ...m.warnings,
      ...(lines.some((l) => l.price === null && !l.quantity.isZero()) ? ['some holdings have no price'] : []),
    ],
  };
};
