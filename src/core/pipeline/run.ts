import type { StepStatus } from './dag.js';
import type { DqResult } from './dq.js';

/** One step of one run, as the ledger records it. */
export interface StepRecord {
  readonly name: string;
  readonly status: StepStatus;
  /** ISO times; absent for skipped and blocked steps. */
  readonly startedAt?: string;
  readonly endedAt?: string;
  readonly attempts: number;
  readonly rows?: number;
  readonly detail?: string;
  /** One-line message of the last failed attempt. */
  readonly error?: string;
  /** blocked: the failed (or blocked) dependency. */
  readonly blockedBy?: string;
  /** skipped / forced reruns: why the planner decided so. */
  readonly reason?: string;
  /** Failed data-quality checks, when the step failed on them (for the alert and `status`). */
  readonly dq?: readonly DqResult[];
}

export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** One invocation of the pipeline for one date. */
export interface RunRecord {
  readonly runId: string;
  readonly date: string;
  readonly status: RunStatus;
  readonly startedAt: string;
  readonly endedAt?: string;
  /** Owner process, so a later run can tell a crashed run ('running' with a dead pid) from a live one. */
  readonly pid: number;
  readonly pidStart?: string;
  readonly host: string;
  readonly force: boolean | readonly string[];
  readonly deadline?: string;
  readonly missedDeadline?: boolean;
  /** Set when a later run found this one 'running' with its process gone. */
  readonly interruptedReason?: string;
  /** Topological order. */
  readonly steps: readonly StepRecord[];
}

/**
 * The one-line reason a command prints when a run did not succeed (undefined when it did), e.g.
 * "pipeline 2024-03-01 failed: batch (duckdb: out of memory); blocked: reconcile, dq".
 */
export const runFailureReason = (run: RunRecord): string | undefined => {
  if (run.status === 'succeeded') return undefined;
  if (run.status === 'interrupted') {
    // The step the stop cut short says what it left (ingest: not read; batch: not published).
    const cut = run.steps.find((s) => s.status === 'failed' && s.error?.startsWith('aborted: '));
    return cut === undefined
      ? `pipeline ${run.date} interrupted (rerun to resume)`
      : `pipeline ${run.date} interrupted in ${cut.name} (${cut.error!.slice('aborted: '.length)}); rerun to resume`;
  }
  if (run.status === 'running') return `pipeline ${run.date} still running`;
  const failed = run.steps.filter((s) => s.status === 'failed').map((s) => `${s.name} (${s.error ?? 'unknown error'})`);
  const blocked = run.steps.filter((s) => s.status === 'blocked').map((s) => s.name);
  if (failed.length === 0 && blocked.length > 0) {
    const first = run.steps.find((s) => s.status === 'blocked')!;
    return `pipeline ${run.date}: ${blocked.join(', ')} blocked by ${first.blockedBy ?? 'a dependency'} (not succeeded yet)`;
  }
  return `pipeline ${run.date} failed: ${failed.join(', ')}${blocked.length > 0 ? `; blocked: ${blocked.join(', ')}` : ''}`;
};
