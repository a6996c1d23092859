import type { UserEvent } from '../events/types.js';
import { Decimal, USD_SCALE } from '../money/decimal.js';
import type { CostMethod } from '../portfolio/lots.js';
import { compareEvents, notional } from '../portfolio/position.js';
import { DEFAULT_TIERS, type TierDef } from '../rewards/tiers.js';
import { applyUserEvent, DAY_MS, type DayRewards, dayOf, dayStart, emptyUser } from '../speed/user-ledger.js';
import { addFlow, type DayPoint, type Flow, flowOf, NO_FLOW } from './returns.js';

/**
 * A user's portfolio day by day (docs/core.md §7a): the core replay of the user's events (the same
 * applyUserEvent both layers call), valued at the end of each day at that day's close. Feeds
 * `history` (value, cost basis, realized / unrealized P&L) and `performance` (TWR, XIRR, P&L, fees).
 *
 * - Close of an asset on a day: the caller's close for the day (batch fact_price_daily, or the last
 *   5m candle of the day from the speed layer), else the latest earlier close seen (carried forward);
 *   an asset never priced is listed in `unpriced` and left out of the market value.
 * - Unrealized P&L = market value - cost basis of the priced positions; realized P&L is cumulative.
 */
export interface SeriesPoint extends DayPoint {
  readonly costBasis: Decimal;
  readonly realizedPnl: Decimal;
  readonly unrealizedPnl: Decimal;
  readonly unpriced: readonly string[];
  readonly events: number;
}

const Z = Decimal.zero(USD_SCALE);

export const addDay = (day: string, n: number): string =>
  new Date(dayStart(day) + n * DAY_MS).toISOString().slice(0, 10);

/** Points for every day in [from, to]; `closeOf(day)` gives that day's closes by asset. */
export const dailySeries = (
  userId: string,
  events: readonly UserEvent[],
  from: string,
  to: string,
  closeOf: (day: string) => ReadonlyMap<string, Decimal>,
  opts: { tiers?: readonly TierDef[]; costMethod?: CostMethod } = {},
): SeriesPoint[] => {
  const tiers = opts.tiers ?? DEFAULT_TIERS;
  const state = emptyUser(userId, tiers, opts.costMethod);
  const sorted = [...events].sort(compareEvents);
  const first = sorted.length > 0 ? dayOf(sorted[0]!.eventTime) : from;
  const last = new Map<string, Decimal>();
  const out: SeriesPoint[] = [];
  let i = 0;
  for (let day = first < from ? first : from; day <= to; day = addDay(day, 1)) {
    const end = dayStart(day) + DAY_MS - 1;
    let flow: Flow = NO_FLOW;
    let agg: DayRewards | undefined;
    let count = 0;
    for (; i < sorted.length && sorted[i]!.eventTime <= end; i++) {
      const e = sorted[i]!;
      const step = applyUserEvent(state, e, agg, tiers);
      if (step.outcome.kind === 'duplicate') continue;
      agg = step.day;
      if (step.outcome.kind === 'applied') {
        flow = addFlow(flow, flowOf(e));
        count++;
      }
    }
    for (const [a, p] of closeOf(day)) last.set(a, p);
    if (day < from) continue;
    let mv = Z;
    let cost = Z;
    let pricedCost = Z;
    let realized = Z;
    const unpriced: string[] = [];
    for (const p of state.positions.values()) {
      cost = cost.add(p.costBasis);
      realized = realized.add(p.realizedPnl);
      const px = last.get(p.asset);
      if (px === undefined) {
        if (!p.quantity.isZero()) unpriced.push(p.asset);
        continue;
      }
      mv = mv.add(notional(p.quantity, px));
      pricedCost = pricedCost.add(p.costBasis);
    }
    out.push({
      day,
      mvEnd: mv,
      ...flow,
      costBasis: cost,
      realizedPnl: realized,
      unrealizedPnl: mv.sub(pricedCost),
      unpriced: unpriced.sort(),
      events: count,
    });
  }
  return out;
};
