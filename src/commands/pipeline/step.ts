import { Args, Flags } from '@oclif/core';
import { runPipelineDate } from '../../app/pipeline/pipeline.js';
import type { PipelineEvent } from '../../app/pipeline/runner.js';
import { BaseCommand, EXIT_CODES } from '../../cli/base-command.js';
import { CryptolambdaError } from '../../core/errors.js';
import { assertDate } from '../../core/pipeline/dag.js';
import { type RunRecord, runFailureReason } from '../../core/pipeline/run.js';
import PipelineRun, { describeEvent, eventFields, runSummary } from './run.js';

export const STEP_NAMES = ['sensor', 'ingest', 'batch', 'dq', 'reconcile', 'retire'] as const;

export interface PipelineStepResult {
  readonly status: 'succeeded' | 'failed' | 'interrupted';
  readonly run: RunRecord;
}

/**
 * One step of the daily DAG, for an external orchestrator (Airflow, Dagster, Argo) that maps each
 * step to its own task: the same ledger, lock, retries and exit codes as `pipeline run`, so a
 * `pipeline run` afterwards skips what the tasks did and vice versa.
 */
export default class PipelineStep extends BaseCommand<typeof PipelineStep> {
  static override summary = 'Run one step of the daily DAG for a date (one task of Airflow, Dagster, ...).';
  static override description =
    'Exits 0 when the step succeeded (or had already succeeded: it is skipped unless --force), 7 when it failed or a ' +
    'dependency has not succeeded yet in the ledger. Shares the ledger and the lock with `pipeline run`.';
  static override examples = [
    '<%= config.bin %> pipeline step sensor --date 2026-11-24 --sensor-timeout 2h',
    '<%= config.bin %> pipeline step batch --date 2026-11-24 --force',
  ];
  static override args = {
    step: Args.string({ description: 'The step to run.', options: [...STEP_NAMES], required: true }),
  };
  static override flags = {
    date: Flags.string({ description: 'Business date YYYY-MM-DD.', required: true }),
    force: Flags.boolean({ description: 'Run it again even when it already succeeded for the date.' }),
    'sensor-timeout': PipelineRun.flags['sensor-timeout'],
    'allowed-lateness': PipelineRun.flags['allowed-lateness'],
    'allow-empty': PipelineRun.flags['allow-empty'],
    'skip-check': PipelineRun.flags['skip-check'],
    retries: PipelineRun.flags.retries,
    'speed-retention': PipelineRun.flags['speed-retention'],
  };

  async run(): Promise<PipelineStepResult> {
    const f = this.flags;
    const date = assertDate(f.date);
    const step = this.args.step;
    return this.untilStopped(async (signal) => {
      const run = await runPipelineDate(this.appConfig, date, {
        only: step,
        ...(f.force ? { force: [step] } : {}),
        allowedLatenessMs: f['allowed-lateness'] ?? this.appConfig.speed.allowedLateness,
        sensorTimeoutMs: f['sensor-timeout'],
        allowEmpty: f['allow-empty'],
        skipChecks: f['skip-check'] ?? [],
        retries: f.retries,
        speedRetentionSec: Math.ceil(f['speed-retention'] / 1000),
        onEvent: (e: PipelineEvent) => this.progress(describeEvent(e), eventFields(e)),
        signal,
      });
      const status = run.status === 'succeeded' ? 'succeeded' : run.status === 'failed' ? 'failed' : 'interrupted';
      if (!this.jsonEnabled()) this.log(runSummary([run], this.viewOptions()));
      if (status !== 'succeeded') {
        const reason = runFailureReason(run) ?? `pipeline step ${step} ${date} ${status}`;
        if (this.jsonEnabled()) {
          process.exitCode = EXIT_CODES.PIPELINE_FAILED;
          return { status, run };
        }
        throw new CryptolambdaError('PIPELINE_FAILED', reason, 'see `cryptolambda pipeline status`');
      }
      return { status, run };
    });
  }
}
