import { Flags } from '@oclif/core';
import { bar } from '../../app/batch/format.js';
import { finishPipelineRun, jobSinkFromEnv, startJob } from '../../app/metrics/job-metrics.js';
import { runPipelineDate, runPipelineRange } from '../../app/pipeline/pipeline.js';
import type { PipelineEvent } from '../../app/pipeline/runner.js';
import { BaseCommand, EXIT_CODES } from '../../cli/base-command.js';
import { durationFlag } from '../../cli/flags.js';
import { jobMetricsFlags, jobSinkFlags } from '../../cli/metrics-flags.js';
import { renderTableModel, type TableModel, type ViewOptions } from '../../cli/table.js';
import { CryptolambdaError, StoppedError, stopSignalName } from '../../core/errors.js';
import { assertDate } from '../../core/pipeline/dag.js';
import { type RunRecord, runFailureReason } from '../../core/pipeline/run.js';

export interface PipelineRunResult {
  readonly status: 'succeeded' | 'failed' | 'interrupted';
  readonly runs: readonly RunRecord[];
}

const yesterday = (): string => new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

export default class PipelineRun extends BaseCommand<typeof PipelineRun> {
  static override summary =
    'Run the daily DAG: sensor → ingest → batch → data-quality gate → reconcile → retire the speed days.';
  static override description =
    'For cron: exits 0 when every step succeeded, 7 with a one-line reason otherwise (130/143 when stopped by SIGINT/SIGTERM). Steps that succeeded in an ' +
    'earlier run of the date are skipped (--force reruns them); a run killed mid-way resumes at its unfinished step. ' +
    'Failures, data-quality violations and a missed --deadline POST one alert to CRYPTOLAMBDA_ALERT_WEBHOOK.';
  static override examples = [
    '<%= config.bin %> pipeline run --date 2026-11-24',
    '<%= config.bin %> pipeline run --from 2026-11-01 --to 2026-11-24',
    '<%= config.bin %> pipeline run --date 2026-11-24 --force batch --deadline 06:00',
  ];
  static override flags = {
    date: Flags.string({ description: 'Business date YYYY-MM-DD (default: yesterday, UTC).', exclusive: ['from'] }),
    from: Flags.string({ description: 'Backfill: first date (with --to).', dependsOn: ['to'] }),
    to: Flags.string({ description: 'Backfill: last date (with --from).', dependsOn: ['from'] }),
    force: Flags.string({
      description: 'Rerun steps that already succeeded: "all", or step names (their downstream steps rerun too).',
      multiple: true,
    }),
    deadline: Flags.string({ description: 'Alert when the run is not finished by HH:MM UTC.' }),
    'sensor-timeout': durationFlag({
      description: 'How long the sensor waits for the date to be complete',
      default: '30m',
      bare: 's',
    }),
    'allowed-lateness': durationFlag({
      description:
        "Event-time slack after the day's end before the day counts as complete [default: speed.allowedLateness, 30s]",
      bare: 'ms',
    }),
    'allow-empty': Flags.boolean({ description: 'A date without raw data is not a failure.' }),
    'skip-check': Flags.string({
      description: 'Do not run this data-quality check (repeatable); the skip is recorded in the run ledger.',
      multiple: true,
    }),
    retries: Flags.integer({ description: 'Retries of ingest and batch after a failure.', default: 2, min: 0 }),
    'speed-retention': durationFlag({
      description: "How long the speed layer's per-day keys of the date live once the batch covers it",
      default: '2d',
      bare: 's',
    }),
    ...jobMetricsFlags,
  };

  async run(): Promise<PipelineRunResult> {
    const f = this.flags;
    if (f.from !== undefined) {
      assertDate(f.from);
      assertDate(f.to!);
    }
    const date = f.from === undefined ? assertDate(f.date ?? yesterday()) : undefined;
    const force = f.force === undefined ? undefined : f.force.includes('all') ? true : f.force;
    const opts = {
      allowedLatenessMs: f['allowed-lateness'] ?? this.appConfig.speed.allowedLateness,
      sensorTimeoutMs: f['sensor-timeout'],
      allowEmpty: f['allow-empty'],
      skipChecks: f['skip-check'] ?? [],
      retries: f.retries,
      speedRetentionSec: Math.ceil(f['speed-retention'] / 1000),
      ...(force === undefined ? {} : { force }),
      ...(f.deadline === undefined ? {} : { deadline: f.deadline }),
      onEvent: (e: PipelineEvent) => this.progress(describeEvent(e), eventFields(e)),
    };
    const sink = jobSinkFromEnv(jobSinkFlags(f));
    const job = sink.textfile === undefined && sink.pushgateway === undefined ? null : startJob('pipeline', sink);
    return this.untilStopped(async (signal) => {
      let result: PipelineRunResult;
      if (date !== undefined) {
        const run = await runPipelineDate(this.appConfig, date, { ...opts, signal });
        result = {
          status: run.status === 'succeeded' ? 'succeeded' : run.status === 'failed' ? 'failed' : 'interrupted',
          runs: [run],
        };
      } else {
        const tty = process.stderr.isTTY === true;
        const r = await runPipelineRange(this.appConfig, f.from!, f.to!, {
          ...opts,
          signal,
          // One line per finished date (a terminal gets the bar too), like `batch --from --to`.
          onProgress: (p) =>
            this.progress(
              `pipeline${tty ? ` ${bar(p.index, p.total)}` : ''} ${p.index}/${p.total} dates (${p.date} ${p.run.status})`,
            ),
        });
        result = { status: r.status, runs: r.runs };
      }
      if (!this.jsonEnabled()) this.log(runSummary(result.runs, this.viewOptions()));
      await finishPipelineRun(job, result);
      const failed = result.runs.find((r) => r.status !== 'succeeded');
      if (failed !== undefined) {
        const reason = runFailureReason(failed) ?? `pipeline ${failed.date} ${failed.status}`;
        // Stopped by SIGINT/SIGTERM: exit 130/143 like every bounded job, the line names what was cut.
        const stopped = signal.aborted && result.status === 'interrupted' ? stopSignalName(signal) : undefined;
        if (this.jsonEnabled()) {
          process.exitCode =
            stopped === undefined ? EXIT_CODES.PIPELINE_FAILED : stopped === 'SIGINT' ? 130 : EXIT_CODES.STOPPED;
          return result;
        }
        const hint = 'see `cryptolambda pipeline status`; rerun resumes';
        if (stopped !== undefined) throw new StoppedError(stopped, reason, hint);
        throw new CryptolambdaError('PIPELINE_FAILED', reason, hint);
      }
      return result;
    });
  }
}

/** The structured fields of a pipeline event for `--log-format json`. */
export const eventFields = (e: PipelineEvent): Record<string, unknown> => ({
  event: e.type,
  ...('date' in e ? { date: e.date } : 'run' in e ? { date: e.run.date } : {}),
  ...('step' in e ? { step: typeof e.step === 'string' ? e.step : e.step.name } : {}),
  ...(e.type === 'step_end' ? { status: e.step.status } : {}),
});

export const describeEvent = (e: PipelineEvent): string => {
  switch (e.type) {
    case 'run_start':
      return `pipeline ${e.date}: run ${e.runId}, plan ${e.plan.map((p) => `${p.name}${p.action === 'skip' ? '(skip)' : ''}`).join(' → ')}`;
    case 'step_start':
      return `  ${e.step}: start${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`;
    case 'step_retry':
      return `  ${e.step}: failed (${e.error}); retry in ${Math.round(e.delayMs / 1000)} s`;
    case 'step_end':
      return `  ${e.step.name}: ${e.step.status}${e.step.detail ? ` (${e.step.detail})` : ''}${e.step.error ? ` (${e.step.error})` : ''}${e.step.blockedBy ? ` (blocked by ${e.step.blockedBy})` : ''}`;
    case 'log':
      return `  ${e.step}: ${e.message}`;
    case 'run_end':
      return `pipeline ${e.run.date}: ${e.run.status}`;
    case 'recovered':
      return `pipeline ${e.date}: earlier run ${e.runId} ${e.reason}`;
    case 'alert_sent':
      return `pipeline ${e.date}: ${e.kind} alert sent`;
    case 'alert_failed':
      return `pipeline ${e.date}: ${e.kind} alert failed: ${e.error}`;
  }
};

type StepRow = { date: string; step: RunRecord['steps'][number] };

const summaryModel = (runs: readonly RunRecord[]): TableModel<StepRow> => ({
  columns: [
    { header: 'date', kind: 'text', value: (r) => r.date },
    { header: 'step', kind: 'text', value: (r) => r.step.name },
    { header: 'status', kind: 'text', value: (r) => r.step.status },
    { header: 'tries', kind: 'int', csv: 'attempts', value: (r) => r.step.attempts },
    { header: 'rows', kind: 'int', value: (r) => r.step.rows ?? null },
    {
      header: 'detail',
      kind: 'text',
      value: (r) =>
        r.step.error ?? r.step.detail ?? r.step.reason ?? (r.step.blockedBy ? `blocked by ${r.step.blockedBy}` : ''),
    },
  ],
  rows: runs.flatMap((r) => r.steps.map((step) => ({ date: r.date, step }))),
});

export const runSummary = (runs: readonly RunRecord[], o: ViewOptions): string =>
  renderTableModel(summaryModel(runs), o);
