import type { SpeedUser, SpeedWatermarks } from '../../adapters/redis/serving-reader.js';
import { tiersOf } from '../../config/config.js';
import { CryptolambdaError } from '../../core/errors.js';
import { symbolOf } from '../../core/events/validate.js';
import { Decimal, PRICE_SCALE } from '../../core/money/decimal.js';
import { daysAfter, parseDate, parseUserId } from '../../core/serving/input.js';
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
  asOf?: string,
): Promise<MergedRead> => {
  const userId = parseUserId(rawUserId);
  const cutoff = ctx.warehouse.cutoff();
  let marks = ctx.speed ? await ctx.speed.watermarks() : NO_MARKS;
  const endOfAsOf = asOf === undefined ? null : dayStart(asOf) + DAY_MS - 1;
  // As of the end of a day: only the speed days up to it, and no watermark past it (the tier is
  // then taken at the end of that day, not at the stream's present).
  if (endOfAsOf !== null && marks.usersWatermark !== null && marks.usersWatermark > endOfAsOf) {
    marks = { ...marks, usersWatermark: endOfAsOf };
  }
  const days = [...new Set([...speedDaysAfter(cutoff, marks), ...extraDays])]
    .filter((d) => asOf === undefined || d <= asOf)
    .sort();
  const [speed, state, eod] = await Promise.all([
    ctx.speed ? ctx.speed.user(userId, days) : Promise.resolve(NO_SPEED),
    cutoff === null ? Promise.resolve(null) : ctx.warehouse.snapshot(userId, cutoff),
    // Without any build the speed side is a whole book: `pos:` now, `eod:<user>:<D>` as of D.
    asOf !== undefined && cutoff === null && ctx.speed ? ctx.speed.endOfDay(userId, asOf) : Promise.resolve(null),
  ]);
  const merged = mergeUser({
    userId,
    batch: cutoff === null ? null : { asOf: cutoff, builtAt: ctx.warehouse.builtAt(cutoff), state },
    speed: {
      deltas: speed.deltas,
      positions: eod ?? speed.positions,
      tier: eod === null ? speed.tier : null,
      ...marks,
    },
    tiers: tiersOf(ctx.config),
    costMethod: ctx.config.costBasis,
  });
  if (merged === null) {
    throw new CryptolambdaError(
      'NOT_FOUND',
      asOf === undefined ? `no data for user ${userId}` : `no data for user ${userId} as of the end of ${asOf}`,
      cutoff === null && ctx.speed === null
        ? 'no batch build and no speed layer to read'
        : `neither the batch (as of ${cutoff ?? 'no build'}) nor the speed layer knows this user`,
    );
  }
  return { merged, speed, marks, cutoff };
};

const assetOfSymbol = (s: string): string => s.replace(/USDT$/, '');

/**
 * The close of each asset on `day`: fact_price_daily when the day is built, else the day's last 5m
 * candle in Redis (`history`, `performance` and `portfolio --date` value a day the same way).
 */
export const dayCloses = async (
  ctx: ServingContext,
  day: string,
  assets: readonly string[],
): Promise<Map<string, Decimal>> => {
  const m = new Map<string, Decimal>();
  const cutoff = ctx.warehouse.cutoff();
  if (cutoff !== null && day <= cutoff) {
    for (const [sym, px] of await ctx.warehouse.closes(day)) m.set(assetOfSymbol(sym), Decimal.parse(px, PRICE_SCALE));
  } else if (ctx.speed) {
    for (const a of assets) {
      const c = await ctx.speed.candles('5m', symbolOf(a), dayStart(day), dayStart(day) + DAY_MS);
      const lastCandle = c.candles.at(-1);
      if (lastCandle) m.set(a, lastCandle.candle.close);
    }
  }
  return m;
};

/**
 * `portfolio <user> --date D`: the book at the end of UTC day D — the snapshot of D when D is built,
 * else the batch cutoff plus the speed deltas of the days up to D (without a build: `eod:<user>:<D>`)
 * — valued at D's close (dayCloses). A day after today is refused; a day before the user's first
 * event is NOT_FOUND (exit 5), as an unknown user is.
 */
const getPortfolioAsOf = async (ctx: ServingContext, userId: string, date: string): Promise<PortfolioView> => {
  const today = dayOf(ctx.now());
  if (date > today) throw new CryptolambdaError('INVALID_ARGUMENT', `--date ${date} is after today (${today} UTC)`);
  const cutoff = ctx.warehouse.cutoff();
  const built = cutoff !== null && date <= cutoff;
  if (built && !ctx.warehouse.dates().includes(date)) {
    throw new CryptolambdaError(
      'NOT_FOUND',
      `--date ${date} is not a built date`,
      `built dates run ${ctx.warehouse.dates()[0]} .. ${cutoff}; build it with \`cryptolambda batch --date ${date}\``,
    );
  }
  let merged: MergedUser;
  let marks: SpeedWatermarks = NO_MARKS;
  if (built) {
    const state = await ctx.warehouse.snapshot(userId, date);
    const m = mergeUser({
      userId,
      batch: { asOf: date, builtAt: ctx.warehouse.builtAt(date), state },
      speed: { deltas: [], positions: [], tier: null, ...NO_MARKS },
      tiers: tiersOf(ctx.config),
      costMethod: ctx.config.costBasis,
    });
    if (m === null) {
      throw new CryptolambdaError(
        'NOT_FOUND',
        `no data for user ${userId} as of the end of ${date}`,
        `the batch snapshot of ${date} has no state for this user`,
      );
    }
    merged = m;
  } else {
    ({ merged, marks } = await readMerged(ctx, userId, [], date));
  }
  const closes = await dayCloses(
    ctx,
    date,
    merged.positions.map((p) => p.asset),
  );
  const prices = new Map<string, PriceQuote>();
  for (const [a, price] of closes) {
    prices.set(a, { price, eventTime: dayStart(date) + DAY_MS - 1, source: built ? 'batch-close' : 'candle-close' });
  }
  return valuePortfolio(merged, prices, marks, ctx.now());
};

/**
 * `portfolio <user>`: the merged state valued at the latest price of each asset, the live one
 * (`price:last`) or the batch close of the cutoff day, whichever is later. With `date`, as of the
 * end of that day (getPortfolioAsOf).
 */
export const getPortfolio = async (
  ctx: ServingContext,
  rawUserId: string,
  opts: { date?: string } = {},
): Promise<PortfolioView> => {
  if (opts.date !== undefined) return getPortfolioAsOf(ctx, parseUserId(rawUserId), parseDate(opts.date, '--date'));
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
