import { Flags } from '@oclif/core';
import { type CorrelationsResult, getCorrelations } from '../app/serving/analytics.js';
import { openServing } from '../app/serving/context.js';
import { BaseCommand, queryFlags } from '../cli/base-command.js';
import { correlationsModel, renderCorrelations } from '../cli/render-serving.js';

export default class Correlations extends BaseCommand<typeof Correlations> {
  static override summary = 'Pairwise correlation of daily returns over 30 and 90 days, from the warehouse.';
  static override examples = [
    '<%= config.bin %> correlations',
    '<%= config.bin %> correlations --date 2026-11-20 --window 30 --json',
  ];
  static override flags = {
    ...queryFlags,
    date: Flags.string({ description: 'Last day of the windows (a built date); default: the batch cutoff.' }),
    window: Flags.string({ description: 'Only this window length in days.', options: ['30', '90'] }),
  };

  async run(): Promise<CorrelationsResult> {
    const ctx = await openServing(this.appConfig, { redis: false });
    try {
      const { date, window } = this.flags;
      const r = await getCorrelations(ctx, { date, window: window === undefined ? undefined : Number(window) });
      this.show(
        (o) => renderCorrelations(r, o),
        () => correlationsModel(r),
      );
      return r;
    } finally {
      ctx.close();
    }
  }
}
