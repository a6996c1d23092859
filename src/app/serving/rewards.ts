import { CryptolambdaError } from '../../core/errors.js';
import { addDays, parseDate } from '../../core/serving/input.js';
import { buildRewards, type RewardsJson } from '../../core/serving/views.js';
import { dayFromJson, dayOf } from '../../core/speed/user-ledger.js';
import type { ServingContext } from './context.js';
import { readMerged } from './portfolio.js';

/**
 * `rewards <user>`: per day spend, cashback owed / capped / paid, staking income and tier. Days up to
 * the batch cutoff come from fact_reward_daily; days after it from the merged replay (the batch
 * snapshot + the speed deltas), so the tier and the monthly cap carry over from the batch exactly.
 * Without any build, the speed layer's own day aggregates (`rw:<user>:<day>`) are shown.
 */
export const getRewards = async (
  ctx: ServingContext,
  rawUserId: string,
  range: { from?: string; to?: string; days?: number } = {},
): Promise<RewardsJson> => {
  const to = range.to === undefined ? undefined : parseDate(range.to, '--to');
  const from = range.from === undefined ? undefined : parseDate(range.from, '--from');
  const cutoff = ctx.warehouse.cutoff();
  // Speed-only (no build): read rw keys of the requested window, at most a week (their TTL) back.
  const read = await readMerged(ctx, rawUserId);
  const wmDay = read.marks.usersWatermark === null ? null : dayOf(read.marks.usersWatermark);
  const last =
    to ??
    [cutoff, wmDay]
      .filter((d): d is string => d !== null)
      .sort()
      .at(-1) ??
    dayOf(ctx.now());
  const first = from ?? addDays(last, -((range.days ?? 30) - 1));
  if (first > last) throw new CryptolambdaError('INVALID_ARGUMENT', `--from ${first} is after --to ${last}`);
  let speedDays = read.merged.days;
  if (cutoff === null && ctx.speed) {
    const days: string[] = [];
    for (let d = first > addDays(last, -7) ? first : addDays(last, -7); d <= last; d = addDays(d, 1)) days.push(d);
    const s = await ctx.speed.user(read.merged.userId, days);
    speedDays = new Map([...s.dayRewards].map(([d, j]) => [d, dayFromJson(j)]));
  }
  const batchDays =
    cutoff === null ? [] : await ctx.warehouse.rewardDays(read.merged.userId, first, last < cutoff ? last : cutoff);
  return buildRewards({
    userId: read.merged.userId,
    mode: read.merged.mode,
    from: first,
    to: last,
    batchAsOf: cutoff,
    batchDays,
    speedDays,
    tier: read.merged.tier,
  });
};
