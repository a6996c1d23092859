import { Args, Flags } from '@oclif/core';
import { openServing } from '../app/serving/context.js';
import { getPerformance } from '../app/serving/history.js';
import { BaseCommand, queryFlags } from '../cli/base-command.js';
import { performanceModel, renderPerformance } from '../cli/render-lots.js';
import { PERIODS, type PeriodName } from '../core/analytics/returns.js';
import { type PerformanceJson, performanceToJson } from '../core/analytics/series-views.js';
import { parseUserId } from '../core/serving/input.js';

export default class Performance extends BaseCommand<typeof Performance> {
  static override summary = "A user's returns over a period: time-weighted (TWR), money-weighted (XIRR), P&L, fees.";
  static override description =
    'TWR chains (end value + cash out) / (start value + cash in) - 1 per day (Portfolio Performance’s formula); cash flows and rounding are in docs/core.md §7a.';
  static override examples = [
    '<%= config.bin %> performance u0001 --period ytd',
    '<%= config.bin %> performance u0001 --from 2026-11-01 --to 2026-11-30 --json',
  ];
  static override args = { user: Args.string({ description: 'User id ([A-Za-z0-9_-]{1,64}).', required: true }) };
  static override flags = {
    ...queryFlags,
    period: Flags.string({ description: 'Period ending on --to (default ytd).', options: [...PERIODS] }),
    from: Flags.string({ description: 'First day (YYYY-MM-DD, UTC) of a custom period.', exclusive: ['period'] }),
    to: Flags.string({ description: 'Last day; default: the latest day either layer has.' }),
  };

  async run(): Promise<PerformanceJson> {
    const user = parseUserId(this.args.user);
    const ctx = await openServing(this.appConfig);
    try {
      const p = performanceToJson(
        await getPerformance(ctx, user, {
          ...(this.flags.period === undefined ? {} : { period: this.flags.period as PeriodName }),
          ...(this.flags.from === undefined ? {} : { from: this.flags.from }),
          ...(this.flags.to === undefined ? {} : { to: this.flags.to }),
        }),
      );
      this.show(
        (o) => renderPerformance(p, o),
        () => performanceModel(p),
      );
      return p;
    } finally {
      ctx.close();
    }
  }
}
