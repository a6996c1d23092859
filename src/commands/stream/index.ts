import { Flags } from '@oclif/core';
import { newRegistry, serveMetrics } from '../../adapters/metrics/prometheus.js';
import { BOOTSTRAP_CONCURRENCY, type BootstrapResult, bootstrapFromBatch } from '../../app/stream/bootstrap.js';
import { resetSpeedLayer, runStream, type StreamSummary } from '../../app/stream/run-stream.js';
import { DEFAULT_SPEED_OPTIONS } from '../../app/stream/speed-handler.js';
import { BaseCommand } from '../../cli/base-command.js';
import { durationFlag } from '../../cli/flags.js';
import { tiersOf } from '../../config/config.js';

export default class Stream extends BaseCommand<typeof Stream> {
  static override summary = 'Run a speed-layer worker: candles, live positions and reward tiers into Redis.';
  static override description =
    `Consumes raw.prices, raw.transactions and raw.rewards in one consumer group and keeps the speed
layer's state in Redis with exactly-once effects (state and offsets committed together). Start
several workers to split the partitions; stop with Ctrl-C or SIGTERM (final checkpoint).`;
  static override examples = [
    '<%= config.bin %> stream',
    '<%= config.bin %> stream --from-beginning',
    '<%= config.bin %> stream --bootstrap-from-batch',
    '<%= config.bin %> stream --bootstrap-from-batch --date 2026-11-23 --force',
    '<%= config.bin %> stream --exit-when-idle 5 --json',
  ];
  static override flags = {
    'from-beginning': Flags.boolean({
      description: "Wipe the speed layer's Redis state and rebuild it from the start of the Kafka logs.",
      default: false,
    }),
    'bootstrap-from-batch': Flags.boolean({
      description:
        "Rebuild the speed layer from the batch first: every user's state from the warehouse snapshot, the raw zone's later events and prices, then resume each partition at the offsets the raw zone covered (for when Kafka no longer holds the history).",
      default: false,
      exclusive: ['from-beginning'],
    }),
    date: Flags.string({
      description:
        'With --bootstrap-from-batch: the build to seed from (YYYY-MM-DD) [default: the latest published build]',
      dependsOn: ['bootstrap-from-batch'],
    }),
    force: Flags.boolean({
      description:
        "With --bootstrap-from-batch: delete the prefix's speed-layer keys first instead of refusing a non-empty keyspace.",
      default: false,
      dependsOn: ['bootstrap-from-batch'],
    }),
    'bootstrap-concurrency': Flags.integer({
      description: `With --bootstrap-from-batch: partitions seeded at once (each on its own Redis slot and DuckDB connection) [default: ${BOOTSTRAP_CONCURRENCY}]`,
      min: 1,
      max: 64,
      dependsOn: ['bootstrap-from-batch'],
    }),
    'out-of-orderness': durationFlag({
      description: 'Bounded out-of-orderness of event time [default: speed.outOfOrderness of the config, 5s]',
      bare: 'ms',
    }),
    'allowed-lateness': durationFlag({
      description: 'How long closed windows accept late trades [default: speed.allowedLateness, 30s]',
      bare: 'ms',
    }),
    'checkpoint-interval': durationFlag({
      description:
        'Checkpoint interval under load; quiet input is committed within a few ms anyway [default: speed.checkpointInterval, 250ms]',
      bare: 'ms',
      min: '50ms',
      max: '60s',
      aliases: ['checkpoint-ms'],
    }),
    'accept-gap': Flags.boolean({
      description:
        'Offsets gone from Kafka (retention) are data loss: record them as a gap and continue instead of exiting 10.',
      default: false,
    }),
    'session-timeout': durationFlag({
      description: 'Kafka group session timeout: how long a worker that died without leaving keeps its partitions',
      default: '10s',
      bare: 'ms',
      min: '6s',
      max: '300s',
    }),
    'metrics-every': durationFlag({ description: 'Time between metrics lines', default: '5s', bare: 's', min: '1s' }),
    'metrics-port': Flags.integer({
      description: 'Serve Prometheus metrics at http://<metrics-host>:<port>/metrics (0: any free port).',
      min: 0,
      max: 65_535,
    }),
    'metrics-host': Flags.string({ description: 'Address the metrics endpoint binds.', default: '127.0.0.1' }),
    'exit-when-idle': durationFlag({
      description: 'Exit after catching up and seeing no new records for this long (for scripts)',
      bare: 's',
      min: '1s',
    }),
  };

  async run(): Promise<StreamSummary & { bootstrap?: BootstrapResult }> {
    const config = this.appConfig;
    if (this.flags['from-beginning']) {
      const n = await resetSpeedLayer(config);
      this.progress(`stream: speed layer reset (${n} keys removed); rebuilding from the beginning of the logs`);
    }
    const speed = {
      ...DEFAULT_SPEED_OPTIONS,
      costMethod: config.costBasis,
      outOfOrdernessMs: this.flags['out-of-orderness'] ?? config.speed.outOfOrderness,
      allowedLatenessMs: this.flags['allowed-lateness'] ?? config.speed.allowedLateness,
      userIdleMs: config.speed.userIdle,
      // A setting, not a flag: the batch applies the same lateness rule (core/time/lateness.ts).
      userLatenessMs: config.speed.userLateness,
      tiers: tiersOf(config),
    };
    const bootstrap = this.flags['bootstrap-from-batch']
      ? await bootstrapFromBatch(config, {
          speed,
          force: this.flags.force,
          acceptGap: this.flags['accept-gap'],
          ...(this.flags.date === undefined ? {} : { date: this.flags.date }),
          ...(this.flags['bootstrap-concurrency'] === undefined
            ? {}
            : { concurrency: this.flags['bootstrap-concurrency'] }),
          progress: (line) => this.progress(line),
        })
      : undefined;
    if (bootstrap)
      this.progress(
        `stream: bootstrapped from the build of ${bootstrap.date} in ${bootstrap.seconds.toFixed(1)} s: ${bootstrap.users} users, ` +
          `${bootstrap.userEvents} user events and ${bootstrap.prices} prices replayed from the raw zone; catching up from Kafka`,
        { bootstrap },
      );
    const port = this.flags['metrics-port'];
    const metrics = port === undefined ? undefined : newRegistry();
    const endpoint =
      metrics === undefined ? undefined : await serveMetrics(metrics, this.flags['metrics-host'], port ?? 0);
    if (endpoint) this.progress(`stream: metrics at http://${this.flags['metrics-host']}:${endpoint.port}/metrics`);
    const s = await this.untilStopped((signal) =>
      runStream(config, {
        ...(metrics === undefined ? {} : { metrics }),
        speed,
        checkpointIntervalMs: this.flags['checkpoint-interval'] ?? config.speed.checkpointInterval,
        sessionTimeoutMs: this.flags['session-timeout'],
        acceptGap: this.flags['accept-gap'],
        metricsEveryMs: this.flags['metrics-every'],
        signal,
        ...(this.flags['exit-when-idle'] === undefined ? {} : { exitWhenIdleMs: this.flags['exit-when-idle'] }),
        onMetrics: (m) =>
          this.progress(
            `stream ${m.workerId} p[${m.partitions.join(',')}] ${m.eventsPerSec} ev/s, ${m.records} records, lag ${m.lag}, ` +
              `watermark delay ${m.watermarkDelayMs === null ? 'n/a' : `${(m.watermarkDelayMs / 1000).toFixed(1)} s`}, ` +
              `late ${m.late}, too late ${m.tooLate}, duplicate trades ${m.duplicateTrades}, user events ${m.userEvents}, ` +
              `duplicate user events ${m.userDuplicates}, rejected ${m.rejected}, invalid ${m.invalid}`,
            { metrics: m },
          ),
      }),
    ).finally(() => endpoint?.close());
    this.log(
      `stream stopped (${s.stoppedBy}) after ${s.seconds.toFixed(1)} s: ${s.records} records, ${s.userEvents} user events, ` +
        `late ${s.late}, too late ${s.tooLate}, duplicates ${s.duplicateTrades} trades / ${s.userDuplicates} user events, ` +
        `user events too late ${s.userTooLate}${s.unplaceable > 0 ? ` (+${s.unplaceable} unplaceable)` : ''}, ` +
        `rejected ${s.rejected}, invalid ${s.invalid}, ${s.checkpoints} checkpoints`,
    );
    return bootstrap === undefined ? s : { ...s, bootstrap };
  }
}
