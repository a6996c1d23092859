import { Args, Flags } from '@oclif/core';
import { openServing } from '../app/serving/context.js';
import { getRewards } from '../app/serving/rewards.js';
import { BaseCommand, queryFlags } from '../cli/base-command.js';
import { renderRewards, rewardsModel } from '../cli/render-serving.js';
import { parseUserId } from '../core/serving/input.js';
import type { RewardsJson } from '../core/serving/views.js';

export default class Rewards extends BaseCommand<typeof Rewards> {
  static override summary = "A user's rewards per day: spend, cashback owed vs paid, staking income, tier.";
  static override examples = [
    '<%= config.bin %> rewards u0001',
    '<%= config.bin %> rewards u0001 --from 2026-11-01 --to 2026-11-20 --json',
  ];
  static override args = { user: Args.string({ description: 'User id ([A-Za-z0-9_-]{1,64}).', required: true }) };
  static override flags = {
    ...queryFlags,
    from: Flags.string({ description: 'First day (YYYY-MM-DD, UTC); default: --days before --to.' }),
    to: Flags.string({ description: 'Last day (YYYY-MM-DD); default: the latest day either layer has.' }),
    days: Flags.integer({ description: 'Days shown when --from is not given.', default: 30, min: 1, max: 3660 }),
  };

  async run(): Promise<RewardsJson> {
    // Validated before anything is opened: a bad id never reaches Redis or DuckDB.
    const user = parseUserId(this.args.user);
    const ctx = await openServing(this.appConfig);
    try {
      const r = await getRewards(ctx, user, this.flags);
      this.show(
        (o) => renderRewards(r, o),
        () => rewardsModel(r, false),
      );
      return r;
    } finally {
      ctx.close();
    }
  }
}
