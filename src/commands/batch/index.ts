import { Flags } from '@oclif/core';
import type { ShardBuild } from '../../adapters/lake/shard-store.js';
import { formatBackfillProgress, formatBatchSummary, formatShardSummary } from '../../app/batch/format.js';
import { type BatchResult, defaultShards, runBackfill, runBatch, runShard } from '../../app/batch/run-batch.js';
import { fillBatch, jobSinkFromEnv, withJobMetrics } from '../../app/metrics/job-metrics.js';
import { BaseCommand } from '../../cli/base-command.js';
import { jobMetricsFlags, jobSinkFlags } from '../../cli/metrics-flags.js';
import { CryptolambdaError } from '../../core/errors.js';
import { parseShard } from '../../core/warehouse/shard.js';

export type BatchCommandResult = { dates: BatchResult[] } | { shard: ShardBuild };

export default class Batch extends BaseCommand<typeof Batch> {
  static override summary = 'Build the warehouse star schema of a date (or a range) from the raw zone.';
  static override description =
    "Builds date D from D-1's end-of-day user state plus D's raw events with the same core accounting as the speed " +
    'layer, writes the facts as Parquet (lake/warehouse/<table>/dt=D, sorted by user id) and publishes them in one ' +
    'atomic ledger write: re-running D replaces D. Without a valid D-1 build it replays all history. ' +
    'A date without raw data fails unless --allow-empty. Users are split into shards by the murmur2 partition of ' +
    'their id (as the producer partitions them), built in parallel on all cores; --shard i/N builds one shard ' +
    'without publishing (one task per machine) and `batch publish --date D` publishes them all at once.';
  static override examples = [
    '<%= config.bin %> batch --date 2025-01-01',
    '<%= config.bin %> batch --from 2025-01-01 --to 2025-01-31',
    '<%= config.bin %> batch --date 2025-01-02 --allow-empty --json',
    '<%= config.bin %> batch --date 2025-01-01 --shards 4',
    '<%= config.bin %> batch --date 2025-01-01 --shard 0/4   # then: batch publish --date 2025-01-01',
  ];
  static override flags = {
    date: Flags.string({ description: 'UTC date to build, YYYY-MM-DD.', exclusive: ['from', 'to'] }),
    from: Flags.string({ description: 'First date of a backfill, YYYY-MM-DD.', dependsOn: ['to'] }),
    to: Flags.string({ description: 'Last date of a backfill (inclusive), YYYY-MM-DD.', dependsOn: ['from'] }),
    'allow-empty': Flags.boolean({ description: 'Build dates without raw data (positions carry forward).' }),
    shards: Flags.integer({ description: 'Shards built in parallel (default: the machine cores).', min: 1 }),
    shard: Flags.string({
      description: 'Build only shard i of N (0-based, e.g. 0/4) without publishing.',
      dependsOn: ['date'],
      exclusive: ['shards', 'from', 'to'],
    }),
    ...jobMetricsFlags,
  };

  async run(): Promise<BatchCommandResult> {
    // SIGINT/SIGTERM: the shards stop, nothing is published, one line says what was left.
    return this.untilStopped((signal) =>
      withJobMetrics('batch', jobSinkFromEnv(jobSinkFlags(this.flags)), () => this.build(signal), fillBatch),
    );
  }

  private async build(signal: AbortSignal): Promise<BatchCommandResult> {
    const f = this.flags;
    const allowEmpty = f['allow-empty'];
    if (f.shard !== undefined && f.date !== undefined) {
      const b = await runShard(this.appConfig, { date: f.date, shard: parseShard(f.shard), allowEmpty, signal });
      this.log(formatShardSummary(b));
      return { shard: b };
    }
    const shards = f.shards ?? defaultShards();
    if (f.date !== undefined) {
      const r = await runBatch(this.appConfig, { date: f.date, allowEmpty, shards, signal });
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
      shards,
      signal,
      onDate: ({ date, index, total, result }) => {
        if (result) this.log(formatBatchSummary(result));
        // The summary (stdout) is written first: log() erases the bar, which is then redrawn.
        this.logs.statusLine(formatBackfillProgress(index, total, result ? '' : date, tty));
        if (index === total) this.logs.endStatus();
      },
    });
    return { dates: results };
  }
}
