import { Flags } from '@oclif/core';
import { formatBatchSummary } from '../../app/batch/format.js';
import { type BatchResult, runPublish } from '../../app/batch/run-batch.js';
import { BaseCommand } from '../../cli/base-command.js';

export default class BatchPublish extends BaseCommand<typeof BatchPublish> {
  static override summary = 'Publish the shards of a date built with `batch --date D --shard i/N`, in one commit.';
  static override description =
    'Checks that every shard 0..N-1 of the date is present and was built from the current raw-zone commit and ' +
    'starting point, builds the platform-wide tables (daily prices, correlations, dimensions) and publishes ' +
    'everything in one atomic ledger write. A missing or stale shard is refused with the command that rebuilds it.';
  static override examples = ['<%= config.bin %> batch publish --date 2025-01-01'];
  static override flags = {
    date: Flags.string({ description: 'UTC date to publish, YYYY-MM-DD.', required: true }),
  };

  async run(): Promise<BatchResult> {
    const r = await runPublish(this.appConfig, { date: this.flags.date });
    this.log(formatBatchSummary(r));
    return r;
  }
}
