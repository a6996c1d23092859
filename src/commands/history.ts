import { Args, Flags } from '@oclif/core';
import { openServing } from '../app/serving/context.js';
import { getHistory } from '../app/serving/history.js';
import { BaseCommand, queryFlags } from '../cli/base-command.js';
import { historyModel, renderHistory } from '../cli/render-lots.js';
import { type HistoryJson, historyToJson } from '../core/analytics/series-views.js';
import { parseUserId } from '../core/serving/input.js';

export default class History extends BaseCommand<typeof History> {
  static override summary = "A user's portfolio day by day: value, cost basis, realized and unrealized P&L.";
  static override description =
    'The core replay of the user’s events (the raw zone up to the batch cutoff, the speed layer after it), valued at each day’s close.';
  static override examples = ['<%= config.bin %> history u0001 --from 2026-11-01 --to 2026-11-30'];
  static override args = { user: Args.string({ description: 'User id ([A-Za-z0-9_-]{1,64}).', required: true }) };
  static override flags = {
    ...queryFlags,
    from: Flags.string({ description: 'First day (YYYY-MM-DD, UTC); default: 29 days before --to.' }),
    to: Flags.string({ description: 'Last day; default: the latest day either layer has.' }),
  };

  async run(): Promise<HistoryJson> {
    const user = parseUserId(this.args.user);
    const ctx = await openServing(this.appConfig);
    try {
      const h = historyToJson(
        await getHistory(ctx, user, {
          ...(this.flags.from === undefined ? {} : { from: this.flags.from }),
          ...(this.flags.to === undefined ? {} : { to: this.flags.to }),
        }),
      );
      this.show(
        (o) => renderHistory(h, o),
        () => historyModel(h),
      );
      return h;
    } finally {
      ctx.close();
    }
  }
}
