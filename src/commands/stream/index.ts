import { Flags } from '@oclif/core';
import { resetSpeedLayer, runStream, type StreamSummary } from '../../app/stream/run-stream.js';
import { BaseCommand } from '../../cli/base-command.js';

export default class Stream extends BaseCommand<typeof Stream> {
  static override summary = 'Run a speed-layer worker: candles, live positions and reward tiers into Redis.';
  static override description =
    `Consumes raw.prices, raw.transactions and raw.rewards in one consumer group and keeps the speed
layer's state in Redis with exactly-once effects (state and offsets committed together). Start
several workers to split the partitions; stop with Ctrl-C or SIGTERM (final checkpoint).`;
  static override examples = [
    '<%= config.bin %> stream',
    '<%= config.bin %> stream --from-beginning',
    '<%= config.bin %> stream --exit-when-idle 5 --json',
  ];
  static override flags = {
    'from-beginning': Flags.boolean({
      description: "Wipe the speed layer's Redis state and rebuild it from the start of the Kafka logs.",
      default: false,
    }),
    'out-of-orderness': Flags.integer({
      description: 'Bounded out-of-orderness of event time (ms).',
      default: 5000,
      min: 0,
    }),
    'allowed-lateness': Flags.integer({
      description: 'How long closed windows accept late trades (ms).',
      default: 30_000,
      min: 0,
    }),
    'checkpoint-ms': Flags.integer({ description: 'Checkpoint interval (ms).', default: 500, min: 50, max: 60_000 }),
    'session-timeout': Flags.integer({
      description:
        'Kafka group session timeout (ms): how long a worker that died without leaving keeps its partitions.',
      default: 10_000,
      min: 6000,
      max: 300_000,
    }),
    'metrics-every': Flags.integer({ description: 'Seconds between metrics lines.', default: 5, min: 1 }),
    'accept-gap': Flags.boolean({
      description:
        'Offsets gone from Kafka (retention) are data loss: record them as a gap and continue instead of exiting 10.',
      default: false,
    }),
    'exit-when-idle': Flags.integer({
      description: 'Exit after catching up and seeing no new records for this many seconds (for scripts).',
      min: 1,
    }),
  };

  async run(): Promise<StreamSummary> {
    const config = this.appConfig;
    if (this.flags['from-beginning']) {
      const n = await resetSpeedLayer(config);
      this.progress(`stream: speed layer reset (${n} keys removed); rebuilding from the beginning of the logs`);
    }
    const s = await this.untilStopped((signal) =>
      runStream(config, {
        speed: { outOfOrdernessMs: this.flags['out-of-orderness'], allowedLatenessMs: this.flags['allowed-lateness'] },
        checkpointIntervalMs: this.flags['checkpoint-ms'],
        sessionTimeoutMs: this.flags['session-timeout'],
        acceptGap: this.flags['accept-gap'],
        metricsEveryMs: this.flags['metrics-every'] * 1000,
        signal,
        ...(this.flags['exit-when-idle'] === undefined ? {} : { exitWhenIdleMs: this.flags['exit-when-idle'] * 1000 }),
        onMetrics: (m) =>
          this.progress(
            `stream ${m.workerId} p[${m.partitions.join(',')}] ${m.eventsPerSec} ev/s, ${m.records} records, lag ${m.lag}, ` +
              `watermark delay ${m.watermarkDelayMs === null ? 'n/a' : `${(m.watermarkDelayMs / 1000).toFixed(1)} s`}, ` +
              `late ${m.late}, too late ${m.tooLate}, user events ${m.userEvents}, rejected ${m.rejected}, invalid ${m.invalid}`,
          ),
      }),
    );
    this.log(
      `stream stopped (${s.stoppedBy}) after ${s.seconds.toFixed(1)} s: ${s.records} records, ${s.userEvents} user events, ` +
        `late ${s.late}, too late ${s.tooLate}, rejected ${s.rejected}, invalid ${s.invalid}, ${s.checkpoints} checkpoints`,
    );
    return s;
  }
}
