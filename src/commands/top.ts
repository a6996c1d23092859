import { Flags } from '@oclif/core';
import { getTop, type TopResult } from '../app/serving/analytics.js';
import { openServing } from '../app/serving/context.js';
import { BaseCommand, queryFlags } from '../cli/base-command.js';
import { renderTop, topModel } from '../cli/render-serving.js';

export default class Top extends BaseCommand<typeof Top> {
  static override summary = 'Top users of a built date by total P&L, card spend or rewards, from the warehouse.';
  static override examples = [
    '<%= config.bin %> top --by pnl',
    '<%= config.bin %> top --by spend --days 30 --limit 20',
    '<%= config.bin %> top --by rewards --date 2026-11-20 --json',
  ];
  static override flags = {
    ...queryFlags,
    by: Flags.string({ description: 'Ranking metric.', options: ['pnl', 'spend', 'rewards'], required: true }),
    date: Flags.string({ description: 'A built date (YYYY-MM-DD); default: the batch cutoff.' }),
    days: Flags.integer({
      description: 'spend / rewards: sum over this many days ending at --date.',
      default: 1,
      min: 1,
      max: 366,
    }),
    limit: Flags.integer({ description: 'Users listed.', default: 10, min: 1, max: 10_000 }),
  };

  async run(): Promise<TopResult> {
    const ctx = await openServing(this.appConfig, { redis: false });
    try {
      const r = await getTop(ctx, { ...this.flags, by: this.flags.by as TopResult['by'] });
      this.show(
        (o) => renderTop(r, o),
        () => topModel(r),
      );
      return r;
    } finally {
      ctx.close();
    }
  }
}
