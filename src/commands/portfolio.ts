import { Args, Flags } from '@oclif/core';
import { openServing } from '../app/serving/context.js';
import { getPortfolio } from '../app/serving/portfolio.js';
import { BaseCommand, queryFlags } from '../cli/base-command.js';
import { portfolioModel, renderPortfolio } from '../cli/render-serving.js';
import { parseUserId } from '../core/serving/input.js';
import { type PortfolioJson, portfolioToJson } from '../core/serving/views.js';

export default class Portfolio extends BaseCommand<typeof Portfolio> {
  static override summary = "A user's portfolio: batch snapshot + speed-layer events since, at live prices.";
  static override description =
    'Per asset quantity, average cost, market value, allocation, unrealized P&L (absolute and % of cost basis), realized P&L and reward income, with totals and how fresh each part is. Works with only the batch or only the speed layer, and says which. An unknown user exits 5.';
  static override examples = [
    '<%= config.bin %> portfolio u0001',
    '<%= config.bin %> portfolio u0001 --wide',
    '<%= config.bin %> portfolio u0001 --output csv',
    '<%= config.bin %> portfolio u0001 --json',
    '<%= config.bin %> portfolio u0001 --date 2026-11-20',
  ];
  static override args = { user: Args.string({ description: 'User id ([A-Za-z0-9_-]{1,64}).', required: true }) };
  static override flags = {
    ...queryFlags,
    date: Flags.string({
      description:
        'As of the end of this UTC day (YYYY-MM-DD), valued at its close: the batch snapshot when built, else the cutoff plus the speed days up to it.',
    }),
  };

  async run(): Promise<PortfolioJson> {
    // Validated before anything is opened: a bad id never reaches Redis or DuckDB.
    const user = parseUserId(this.args.user);
    const ctx = await openServing(this.appConfig);
    try {
      const view = portfolioToJson(
        await getPortfolio(ctx, user, this.flags.date === undefined ? {} : { date: this.flags.date }),
      );
      // No speed-layer watermark at all under this prefix: most likely the wrong --topic-prefix
      // (the demo's ends with "."), which would otherwise quietly serve batch-only numbers.
      // (Not with --date: a built date reads the batch alone by design.)
      if (
        this.flags.date === undefined &&
        ctx.speed !== null &&
        view.freshness.usersWatermark === null &&
        view.freshness.priceWatermark === null
      )
        this.warnLine(
          `no speed-layer state for topic prefix ${JSON.stringify(this.appConfig.topicPrefix)}: showing the batch only; is the prefix right?`,
        );
      this.show(
        (o) => renderPortfolio(view, o),
        () => portfolioModel(view, false),
      );
      return view;
    } finally {
      ctx.close();
    }
  }
}
