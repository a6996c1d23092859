import { Flags } from '@oclif/core';
import { openServing } from '../app/serving/context.js';
import { type ReconcileReport, reconcile } from '../app/serving/reconcile.js';
import { BaseCommand, EXIT_CODES, queryFlags } from '../cli/base-command.js';
import { reconcileModel, renderReconcile } from '../cli/render-serving.js';
import { parseDate } from '../core/serving/input.js';

export default class Reconcile extends BaseCommand<typeof Reconcile> {
  static override summary = "Compare the batch facts of a date with the speed layer's end-of-day state of it.";
  static override description =
    `Per user and asset (quantity, staked, cost basis, realized P&L, fees, reward income, event count) and per user's day rewards (spend, cashback owed/capped/paid, staking income, tier, 30-day spend, events). Every compared field is written to fact_reconciliation for the date. Exit ${EXIT_CODES.RECONCILE_MISMATCH} on any mismatch or row missing on one side (the report is still printed), 0 when clean.`;
  static override examples = [
    '<%= config.bin %> reconcile --date 2026-11-20',
    '<%= config.bin %> reconcile --date 2026-11-20 --json',
  ];
  static override flags = {
    ...queryFlags,
    date: Flags.string({
      description: 'Date to reconcile (YYYY-MM-DD, UTC); must be built by the batch.',
      required: true,
    }),
    limit: Flags.integer({
      description: 'Findings shown in the table (all are in --json and the file).',
      default: 50,
      min: 1,
    }),
  };

  async run(): Promise<ReconcileReport> {
    const date = parseDate(this.flags.date, '--date');
    const ctx = await openServing(this.appConfig);
    try {
      const r = await reconcile(ctx, date);
      this.show(
        (o) => renderReconcile(r, o, this.flags.limit),
        () => reconcileModel(r),
      );
      // A finding is an expected outcome (a returned value), but cron must see it: exit non-zero
      // after the report is printed (with --json too).
      if (!r.summary.clean) process.exitCode = EXIT_CODES.RECONCILE_MISMATCH;
      return r;
    } finally {
      ctx.close();
    }
  }
}
