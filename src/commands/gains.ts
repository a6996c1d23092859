import { Args, Flags } from '@oclif/core';
import { openServing } from '../app/serving/context.js';
import { getGains } from '../app/serving/gains.js';
import { BaseCommand, queryFlags } from '../cli/base-command.js';
import { renderGains } from '../cli/render-lots.js';
import { form8949Csv, type GainsJson, gainsToJson } from '../core/portfolio/gains.js';
import { COST_METHODS } from '../core/portfolio/lots.js';
import { parseUserId } from '../core/serving/input.js';

export default class Gains extends BaseCommand<typeof Gains> {
  static override summary = "A user's realized gains lot by lot for a tax year, with short / long-term totals.";
  static override description =
    'Every disposal split by the lots it consumed (the deployment cost-basis method), with holding period and term; --output csv prints Form 8949 lines (cents, short-term first).';
  static override examples = [
    '<%= config.bin %> gains u0001 --year 2026',
    '<%= config.bin %> gains u0001 --year 2026 --output csv > 8949.csv',
  ];
  static override args = { user: Args.string({ description: 'User id ([A-Za-z0-9_-]{1,64}).', required: true }) };
  static override flags = {
    wide: queryFlags.wide,
    year: Flags.integer({ description: 'Tax year (UTC calendar year of the disposal).', required: true }),
    method: Flags.string({ description: 'Cost-basis method; must be the deployment’s.', options: [...COST_METHODS] }),
    output: Flags.string({
      description: 'table (default) or csv: Form 8949 lines (cents, short-term first).',
      options: ['table', 'csv'],
      default: 'table',
      helpGroup: 'OUTPUT',
    }),
    'long-after-days': Flags.integer({ description: 'Held more than this many days is long term.', default: 365 }),
  };

  async run(): Promise<GainsJson> {
    const user = parseUserId(this.args.user);
    const ctx = await openServing(this.appConfig);
    try {
      const r = await getGains(ctx, user, this.flags.year, {
        ...(this.flags.method === undefined ? {} : { method: this.flags.method }),
        longAfterDays: this.flags['long-after-days'],
      });
      const view = gainsToJson(r.userId, r.costMethod, r.report, {
        batchAsOf: r.batchAsOf,
        speedDays: r.speedDays,
        warnings: r.warnings,
      });
      if (this.jsonEnabled()) return view;
      if (this.flags.output === 'csv') process.stdout.write(form8949Csv(r.report));
      else this.log(renderGains(view, this.viewOptions()));
      return view;
    } finally {
      ctx.close();
    }
  }
}
