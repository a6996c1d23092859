import { CryptolambdaError } from '../../core/errors.js';
import { DEFAULT_LONG_AFTER_DAYS, type GainsReport, gainsReport } from '../../core/portfolio/gains.js';
import type { CostMethod } from '../../core/portfolio/lots.js';
import { parseUserId } from '../../core/serving/input.js';
import { dayOf } from '../../core/speed/user-ledger.js';
import type { ServingContext } from './context.js';
import { readMerged } from './portfolio.js';

export interface GainsResult {
  readonly userId: string;
  readonly costMethod: CostMethod;
  readonly report: GainsReport;
  readonly batchAsOf: string | null;
  readonly speedDays: string[];
  readonly warnings: string[];
}

/**
 * `gains <user> --year Y`: realized gains lot by lot for a tax year. Disposals up to the batch cutoff
 * come from fact_realized_gain; those after it from the Lambda merge's replay of the speed layer's
 * days on top of the snapshot (the same core rows), so the year is complete up to the stream.
 * Lots exist only for the deployment's method: asking for another one is refused (a what-if under a
 * second method would need a replay of the user's whole history).
 */
export const getGains = async (
  ctx: ServingContext,
  rawUserId: string,
  year: number,
  opts: { method?: string; longAfterDays?: number } = {},
): Promise<GainsResult> => {
  const userId = parseUserId(rawUserId);
  if (!Number.isInteger(year) || year < 2009 || year > 2100) {
    throw new CryptolambdaError('INVALID_ARGUMENT', `invalid --year ${year}: expected 2009-2100`);
  }
  const method = ctx.config.costBasis;
  if (opts.method !== undefined && opts.method !== method) {
    throw new CryptolambdaError(
      'INVALID_ARGUMENT',
      `--method ${opts.method}: this deployment keeps lots by ${method}`,
      `gains are reported by the deployment's method; run with --cost-basis ${opts.method} against a lake and stream built with it`,
    );
  }
  const longAfterDays = opts.longAfterDays ?? DEFAULT_LONG_AFTER_DAYS;
  if (!Number.isInteger(longAfterDays) || longAfterDays < 0) {
    throw new CryptolambdaError('INVALID_ARGUMENT', `invalid --long-after-days ${longAfterDays}`);
  }
  const cutoff = ctx.warehouse.cutoff();
  const batchRows = cutoff === null ? [] : await ctx.warehouse.gainRows(userId, `${year}-01-01`, `${year}-12-31`);
  const { merged } = await readMerged(ctx, userId);
  const speedRows = merged.gains.filter((g) => cutoff === null || dayOf(g.disposedAt) > cutoff);
  const warnings = [...merged.warnings];
  if (merged.mode === 'speed-only' && cutoff === null) {
    warnings.push('no batch build: the speed layer keeps positions only, so no realized rows can be listed');
  }
  return {
    userId,
    costMethod: method,
    report: gainsReport([...batchRows, ...speedRows], year, longAfterDays),
    batchAsOf: cutoff,
    speedDays: merged.replay.deltaDays,
    warnings,
  };
};
