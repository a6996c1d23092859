import { Flags } from '@oclif/core';
import { formatIngestProgress, formatIngestSummary } from '../app/batch/format.js';
import { type IngestRawResult, runIngestRaw } from '../app/batch/ingest-raw.js';
import { fillIngest, jobSinkFromEnv, withJobMetrics } from '../app/metrics/job-metrics.js';
import { BaseCommand } from '../cli/base-command.js';
import { jobMetricsFlags, jobSinkFlags } from '../cli/metrics-flags.js';

export default class Ingest extends BaseCommand<typeof Ingest> {
  static override summary = 'Land raw.prices, raw.transactions and raw.rewards in the Parquet raw zone (lake/raw).';
  static override description =
    'Reads each topic from the offsets in the raw-zone manifest up to its end at start, writes zstd Parquet files ' +
    'partitioned by event date (dt=YYYY-MM-DD) and publishes files and offsets in one atomic manifest commit, so a ' +
    'crash and a re-run neither lose nor duplicate. Records that do not decode or validate go to the dlq topic with ' +
    'the reason. Late events land in their event date and mark an already built date for a rebuild.';
  static override examples = ['<%= config.bin %> ingest', '<%= config.bin %> ingest --compact --json'];
  static override flags = {
    compact: Flags.boolean({ description: 'Afterwards, merge each partition’s small files into one.' }),
    'accept-gap': Flags.boolean({
      description:
        'Offsets gone from Kafka (retention) are data loss: record them as a gap in the manifest and continue instead of exiting 10.',
    }),
    'any-partition-count': Flags.boolean({
      description:
        'Repartitioning only: read raw topics whose partition count breaks the contract, to land everything in the raw zone before `topics recreate` (docs/runbook.md).',
    }),
    ...jobMetricsFlags,
  };

  async run(): Promise<IngestRawResult> {
    const tty = process.stderr.isTTY === true;
    let last = 0;
    const sink = jobSinkFromEnv(jobSinkFlags(this.flags));
    // SIGINT/SIGTERM: ingest commits what it read and stops with one line saying what it left.
    const r = await this.untilStopped((signal) =>
      withJobMetrics(
        'ingest',
        sink,
        () =>
          runIngestRaw(this.appConfig, {
            signal,
            compact: this.flags.compact,
            acceptGap: this.flags['accept-gap'],
            anyPartitionCount: this.flags['any-partition-count'],
            // A terminal gets one line redrawn in place; pipes and logs get a plain line per second.
            onProgress: (p) => {
              const now = Date.now();
              if (!tty && now - last < 1000 && p.records < p.total) return;
              last = now;
              this.logs.statusLine(formatIngestProgress(p, tty));
            },
          }),
        fillIngest,
      ),
    );
    this.logs.endStatus();
    for (const line of formatIngestSummary(r)) this.log(line);
    return r;
  }
}
