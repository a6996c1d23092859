import { Flags } from '@oclif/core';
import { formatBackfillProgress, formatBatchSummary } from '../app/batch/format.js';
import { type BatchResult, runBackfill, runBatch } from '../app/batch/run-batch.js';
import { fillBatch, jobSinkFromEnv, withJobMetrics } from '../app/metrics/job-metrics.js';
import { BaseCommand } from '../cli/base-command.js';
import { jobMetricsFlags, jobSinkFlags } from '../cli/metrics-flags.js';
import { CryptolambdaError } from '../core/errors.js';

export type BatchCommandResult = { dates: BatchResult[] };

export default class Batch extends BaseCommand<typeof Batch> {
  static override summary = 'Build the warehouse star schema of a date (or a range) from the raw zone.';
  static override description =
    "Builds date D from D-1's end-of-day user state plus D's raw events with the same core accounting as the speed " +
    'layer, writes the facts as Parquet (lake/warehouse/<table>/dt=D, sorted by user id) and publishes them in one ' +
    'atomic ledger write: re-running D replaces D. Without a valid D-1 build it replays all history. ' +
    'A date without raw data fails unless --allow-empty.';
  static override examples = [
    '<%= config.bin %> batch --date 2025-01-01',
    '<%= config.bin %> batch --from 2025-01-01 --to 2025-01-31',
    '<%= config.bin %> batch --date 2025-01-02 --allow-empty --json',
  ];
  static override flags = {
    date: Flags.string({ description: 'UTC date to build, YYYY-MM-DD.', exclusive: ['from', 'to'] }),
    from: Flags.string({ description: 'First date of a backfill, YYYY-MM-DD.', dependsOn: ['to'] }),
    to: Flags.string({ description: 'Last date of a backfill (inclusive), YYYY-MM-DD.', dependsOn: ['from'] }),
    'allow-empty': Flags.boolean({ description: 'Build dates without raw data (positions carry forward).' }),
    ...jobMetricsFlags,
  };

  async run(): Promise<BatchCommandResult> {
    return withJobMetrics('batch', jobSinkFromEnv(jobSinkFlags(this.flags)), () => this.build(), fillBatch);
  }

  private async build(): Promise<BatchCommandResult> {
    const f = this.flags;
    const allowEmpty = f['allow-empty'];
    if (f.date !== undefined) {
      const r = await runBatch(this.appConfig, { date: f.date, allowEmpty });
      this.log(formatBatchSummary(r));
      return { dates: [r] };
    }
    if (f.from === undefined || f.to === undefined)
      throw new CryptolambdaError('INVALID_ARGUMENT', 'pass --date D, or --from A --to B', 'see --help');
    const tty = process.stderr.isTTY === true;
    const results = await runBackfill(this.appConfig, {
      from: f.from,
      to: f.to,
      allowEmpty,
      onDate: ({ date, index, total, result }) => {
        if (result) this.log(formatBatchSummary(result));
        if (this.jsonEnabled()) return;
        const line = formatBackfillProgress(index, total, result ? '' : date, tty);
        process.stderr.write(tty ? `\r\x1b[K${line}${index === total ? '\n' : ''}` : `${line}\n`);
      },
    });
    return { dates: results };
  }
}
