import { Gauge } from 'prom-client';
import {
  exportJobMetrics,
  type JobMetricsSink,
  newRegistry,
  type Registry,
} from '../../adapters/metrics/prometheus.js';
import type { RunRecord } from '../../core/pipeline/run.js';
import type { IngestRawResult } from '../batch/ingest-raw.js';
import type { BatchResult } from '../batch/run-batch.js';

/**
 * Metrics of a short job (ingest, batch, pipeline run): a process that ends before any scrape, so it
 * hands its numbers over once at exit, to node_exporter's textfile collector (a .prom file) or a
 * Pushgateway. Everything is a gauge of THIS run (a textfile holds one run; a Pushgateway PUT
 * replaces the job's group), the usual shape for batch jobs: `..._last_success_timestamp_seconds`
 * for "has it run", durations and counts of the run for dashboards.
 */
export type JobName = 'ingest' | 'batch' | 'pipeline';

export const jobSinkFromEnv = (
  flags: { textfile?: string | undefined; pushgateway?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): JobMetricsSink => {
  const textfile = flags.textfile ?? env.CRYPTOLAMBDA_METRICS_TEXTFILE;
  const pushgateway = flags.pushgateway ?? env.CRYPTOLAMBDA_PUSHGATEWAY_URL;
  return {
    ...(textfile ? { textfile } : {}),
    ...(pushgateway ? { pushgateway } : {}),
  };
};

const g = (reg: Registry, name: string, help: string, labelNames: string[] = []): Gauge<string> =>
  new Gauge({ name, help, labelNames, registers: [reg] });

/** One run of a short job: its registry, and `finish` to add the outcome and hand the metrics over. */
export interface JobRun {
  readonly registry: Registry;
  finish(ok: boolean): Promise<void>;
}

export const startJob = (job: JobName, sink: JobMetricsSink, now: () => number = Date.now): JobRun => {
  const reg = newRegistry({ defaults: false });
  const t0 = now();
  g(reg, 'cryptolambda_job_last_run_timestamp_seconds', 'When the last run started.', ['job']).set({ job }, t0 / 1000);
  return {
    registry: reg,
    finish: async (ok) => {
      g(reg, 'cryptolambda_job_duration_seconds', 'Wall time of the last run.', ['job']).set(
        { job },
        (now() - t0) / 1000,
      );
      const outcome = g(
        reg,
        'cryptolambda_job_last_run_outcome',
        'Outcome of the last run (1 for the outcome it had).',
        ['job', 'outcome'],
      );
      outcome.set({ job, outcome: 'succeeded' }, ok ? 1 : 0);
      outcome.set({ job, outcome: 'failed' }, ok ? 0 : 1);
      if (ok) {
        g(reg, 'cryptolambda_job_last_success_timestamp_seconds', 'When the last successful run ended.', ['job']).set(
          { job },
          now() / 1000,
        );
      }
      // The Pushgateway job name is the `job` label value itself: it sets `job` on every pushed series.
      await exportJobMetrics(reg, job, sink);
    },
  };
};

/**
 * Run `fn` as job `job`, then export its metrics (also when it threw: a failed run is what the
 * alert needs to see). `fill` adds the job's own figures from its typed result.
 */
export const withJobMetrics = async <R>(
  job: JobName,
  sink: JobMetricsSink,
  fn: () => Promise<R>,
  fill: (reg: Registry, result: R) => void,
): Promise<R> => {
  if (sink.textfile === undefined && sink.pushgateway === undefined) return fn();
  const run = startJob(job, sink);
  let result: R;
  try {
    result = await fn();
  } catch (err) {
    await run.finish(false).catch(() => undefined);
    throw err;
  }
  fill(run.registry, result);
  await run.finish(true);
  return result;
};

export const fillIngest = (reg: Registry, r: IngestRawResult): void => {
  const rows = g(reg, 'cryptolambda_ingest_records', 'Records landed in the raw zone by the run, by table.', ['table']);
  for (const t of ['prices', 'transactions', 'rewards']) rows.set({ table: t }, 0);
  for (const f of r.files) rows.inc({ table: f.table }, f.rows);
  g(reg, 'cryptolambda_ingest_dead_letters', 'Records the run sent to the dead-letter topic.').set(r.deadLetters);
  g(reg, 'cryptolambda_ingest_bytes', 'Parquet bytes the run wrote.').set(r.files.reduce((a, f) => a + f.bytes, 0));
  g(reg, 'cryptolambda_ingest_late_dates', 'Already built dates that received late rows (need a rebuild).').set(
    r.lateDates.length,
  );
};

export const fillBatch = (
  reg: Registry,
  r: { dates: readonly BatchResult[] } | { shard: { readonly stats: { events: number; users: number } } },
): void => {
  if ('shard' in r) {
    // One shard of a multi-machine build (`batch --shard i/N`): nothing is published yet.
    g(reg, 'cryptolambda_batch_dates_built', 'Dates the run built.').set(0);
    g(reg, 'cryptolambda_batch_events', 'Events the run replayed.').set(r.shard.stats.events);
    g(reg, 'cryptolambda_batch_users', 'Users with a state at the end of the last built date.').set(
      r.shard.stats.users,
    );
    return;
  }
  g(reg, 'cryptolambda_batch_dates_built', 'Dates the run built.').set(r.dates.length);
  g(reg, 'cryptolambda_batch_events', 'Events the run replayed.').set(r.dates.reduce((a, d) => a + d.events, 0));
  g(reg, 'cryptolambda_batch_rejected_events', 'Events the ledger rejected (e.g. a sell beyond holdings).').set(
    r.dates.reduce((a, d) => a + d.rejects, 0),
  );
  g(reg, 'cryptolambda_batch_users', 'Users with a state at the end of the last built date.').set(
    r.dates.at(-1)?.users ?? 0,
  );
  const last = r.dates
    .map((d) => d.date)
    .sort()
    .at(-1);
  g(reg, 'cryptolambda_batch_last_date_timestamp_seconds', 'Midnight UTC of the newest date the run built.').set(
    last === undefined ? 0 : Date.parse(`${last}T00:00:00Z`) / 1000,
  );
};

const STEP_OUTCOMES = ['succeeded', 'failed', 'skipped', 'blocked'] as const;

export const fillPipeline = (reg: Registry, r: { runs: readonly RunRecord[] }): void => {
  const duration = g(
    reg,
    'cryptolambda_pipeline_step_duration_seconds',
    'Duration of each step of the last run of the newest date.',
    ['step'],
  );
  const outcome = g(
    reg,
    'cryptolambda_pipeline_step_outcome',
    'Outcome of each step of the last run (1 for the outcome it had).',
    ['step', 'outcome'],
  );
  const attempts = g(reg, 'cryptolambda_pipeline_step_attempts', 'Attempts each step took (retries + 1).', ['step']);
  const runs = g(reg, 'cryptolambda_pipeline_runs', 'Date runs of this invocation by status.', ['status']);
  for (const s of ['succeeded', 'failed', 'interrupted']) runs.set({ status: s }, 0);
  for (const run of r.runs) runs.inc({ status: run.status }, 1);
  const last = [...r.runs].sort((a, b) => (a.date < b.date ? -1 : 1)).at(-1);
  for (const s of last?.steps ?? []) {
    if (s.startedAt && s.endedAt)
      duration.set({ step: s.name }, (Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000);
    for (const o of STEP_OUTCOMES) outcome.set({ step: s.name, outcome: o }, s.status === o ? 1 : 0);
    attempts.set({ step: s.name }, s.attempts);
  }
};

/**
 * The pipeline reports failures as a result (the command turns them into exit 7), not a throw:
 * its run is started before and finished from the result, before the command decides how to exit.
 */
export const finishPipelineRun = async (
  run: JobRun | null,
  result: { status: 'succeeded' | 'failed' | 'interrupted'; runs: readonly RunRecord[] },
): Promise<void> => {
  if (run === null) return;
  fillPipeline(run.registry, result);
  await run.finish(result.status === 'succeeded');
};
