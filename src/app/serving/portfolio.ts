import type { SpeedUser, SpeedWatermarks } from '../../adapters/redis/serving-reader.js';
import { tiersOf } from '../../config/config.js';
import { CryptolambdaError } from '../../core/errors.js';
import { symbolOf } from '../../core/events/validate.js';
import { Decimal, PRICE_SCALE } from '../../core/money/decimal.js';
import { daysAfter, parseUserId } from '../../core/serving/input.js';
import {
  type MergedUser,
  mergeUser,
  type PortfolioView,
  type PriceQuote,
  pickPrice,
  valuePortfolio,
} from '../../core/serving/merge.js';
import { DAY_MS, dayOf, dayStart } from '../../core/speed/user-ledger.js';
import type { ServingContext } from './context.js';

const NO_SPEED: SpeedUser = { deltas: [], positions: [], tier: null, dayRewards: new Map() };
const NO_MARKS: SpeedWatermarks = { usersWatermark: null, priceWatermark: null };

/** Speed-layer days that can hold deltas after the cutoff: up to the day of the users' watermark. */
export const speedDaysAfter = (cutoff: string | null, marks: SpeedWatermarks, maxDays = 366): string[] =>
  marks.usersWatermark === null ? [] : daysAfter(cutoff, dayOf(marks.usersWatermark), maxDays);

export interface MergedRead {
  readonly merged: MergedUser;
  readonly speed: SpeedUser;
  readonly marks: SpeedWatermarks;
  readonly cutoff: string | null;
}

/** Read both sides for one user and merge them (throws NOT_FOUND when neither knows the user). */
export const readMerged = async (
  ctx: ServingContext,
  rawUserId: string,
  extraDays: string[] = [],
): Promise<MergedRead> => {
  const userId = parseUserId(rawUserId);
  const cutoff = ctx.warehouse.cutoff();
  const marks = ctx.speed ? await ctx.speed.watermarks() : NO_MARKS;
  const days = [...new Set([...speedDaysAfter(cutoff, marks), ...extraDays])].sort();
  const [speed, state] = await Promise.all([
    ctx.speed ? ctx.speed.user(userId, days) : Promise.resolve(NO_SPEED),
    cutoff === null ? Promise.resolve(null) : ctx.warehouse.snapshot(userId, cutoff),
  ]);
  const merged = mergeUser({
    userId,
    batch: cutoff === null ? null : { asOf: cutoff, builtAt: ctx.warehouse.builtAt(cutoff), state },
    speed: { deltas: speed.deltas, positions: speed.positions, tier: speed.tier, ...marks },
    tiers: tiersOf(ctx.config),
    costMethod: ctx.config.costBasis,
  });
  if (merged === null) {
    throw new CryptolambdaError(
      'NOT_FOUND',
      `no data for user ${userId}`,
      cutoff === null && ctx.speed === null
        ? 'no batch build and no speed layer to read'
        : `neither the batch (as of ${cutoff ?? 'no build'}) nor the speed layer knows this user`,
    );
  }
  return { merged, speed, marks, cutoff };
};

/**
 * `portfolio <user>`: the merged state valued at the latest price of each asset, the live one
 * (`price:last`) or the batch close of the cutoff day, whichever is later.
 */
export const getPortfolio = async (ctx: ServingContext, rawUserId: string): Promise<PortfolioView> => {
  const { merged, marks, cutoff } = await readMerged(ctx, rawUserId);
  const assets = merged.positions.map((p) => p.asset);
  const symbols = assets.map(symbolOf);
  const [live, closes] = await Promise.all([
    ctx.speed ? ctx.speed.lastPrices(symbols) : Promise.resolve(new Map()),
    cutoff === null ? Promise.resolve(new Map<string, string>()) : ctx.warehouse.closes(cutoff),
  ]);
  const prices = new Map<string, PriceQuote>();
  for (const a of assets) {
    const l = live.get(symbolOf(a));
    const c = closes.get(symbolOf(a));
    const q = pickPrice(
      l === undefined ? undefined : { price: l.price, eventTime: l.eventTime, source: 'live' },
      c === undefined || cutoff === null
        ? undefined
        : { price: Decimal.parse(c, PRICE_SCALE), eventTime: dayStart(cutoff) + DAY_MS - 1, source: 'batch-close' },
    );
    if (q !== undefined) prices.set(a, q);
  }
  return valuePortfolio(merged, prices, marks, ctx.now());
};
