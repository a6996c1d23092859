import path from 'node:path';
import { webhookAlerterFromEnv } from '../../adapters/alerts/webhook.js';
import type { Config } from '../../config/config.js';
import type { AlertSink } from '../../core/pipeline/alerts.js';
import { deadlineOn } from '../../core/pipeline/alerts.js';
import type { Force } from '../../core/pipeline/dag.js';
import type { RunRecord } from '../../core/pipeline/run.js';
import { type DailyDeps, type DailyOptions, dailyChecks, dailySteps } from './daily.js';
import { realDailyDeps } from './deps.js';
import { type BackfillProgress, type BackfillResult, type PipelineEvent, PipelineRunner } from './runner.js';

/** What `pipeline run` needs besides the connection config. */
export interface PipelineRunOptions extends Omit<DailyOptions, 'checks'> {
  readonly force?: Force;
  /** `pipeline step`: run this one step (see RunDateOptions.only). */
  readonly only?: string;
  /** `HH:MM` UTC on the day the run starts. */
  readonly deadline?: string;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: PipelineEvent) => void;
  readonly onProgress?: (p: BackfillProgress) => void;
  /** Injected for tests; the webhook from CRYPTOLAMBDA_ALERT_WEBHOOK otherwise. */
  readonly alerts?: AlertSink;
  readonly deps?: DailyDeps;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The run ledger and lock live with the lake they describe (`<lakeDir>/_pipeline/`), so two
 * deployments on one machine (different lake dirs and topic prefixes) never skip each other's runs.
 */
export const pipelineStateDir = (config: Config): string => path.join(config.lakeDir, '_pipeline');

const runnerFor = (config: Config, o: PipelineRunOptions): PipelineRunner => {
  const alerts = o.alerts ?? webhookAlerterFromEnv(o.env ?? process.env);
  return new PipelineRunner({
    stateDir: pipelineStateDir(config),
    // Thresholds and always-skipped checks come from the configuration's `dq` section.
    steps: dailySteps(o.deps ?? realDailyDeps(config), {
      ...o,
      checks: dailyChecks(config.dq),
      skipChecks: [...config.dq.skip, ...(o.skipChecks ?? [])],
    }),
    ...(alerts ? { alerts } : {}),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
  });
};

const runDateOptions = (o: PipelineRunOptions) => ({
  ...(o.force !== undefined ? { force: o.force } : {}),
  ...(o.only !== undefined ? { only: o.only } : {}),
  ...(o.signal ? { signal: o.signal } : {}),
  ...(o.deadline ? { deadline: deadlineOn(o.deadline, new Date()) } : {}),
});

/** Run the daily DAG for one date (skipping steps that already succeeded unless forced). */
export const runPipelineDate = async (config: Config, date: string, o: PipelineRunOptions): Promise<RunRecord> =>
  runnerFor(config, o).runDate(date, runDateOptions(o));

/** Run the daily DAG for every date of from..to in order; resumable. */
export const runPipelineRange = async (
  config: Config,
  from: string,
  to: string,
  o: PipelineRunOptions,
): Promise<BackfillResult> =>
  runnerFor(config, o).backfill(from, to, {
    ...runDateOptions(o),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
