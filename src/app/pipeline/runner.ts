import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleepTimer } from 'node:timers/promises';
import { isAlive, processStartTicks } from '../../adapters/stack/process.js';
import { CryptolambdaError } from '../../core/errors.js';
import { type Alert, type AlertSink, alertForRun } from '../../core/pipeline/alerts.js';
import {
  assertDate,
  blockedBy,
  dateRange,
  effectiveStatuses,
  type Force,
  type PlannedStep,
  planRun,
  type StepDef,
  type StepStatus,
} from '../../core/pipeline/dag.js';
import { isDqViolationError } from '../../core/pipeline/dq.js';
import type { RunRecord, StepRecord } from '../../core/pipeline/run.js';
import { RunLedger } from './ledger.js';
import { acquireLock, pipelineLockPath } from './lock.js';

/** Everything the runner reports while it works (the CLI renders these as progress lines). */
export type PipelineEvent =
  | { readonly type: 'recovered'; readonly date: string; readonly runId: string; readonly reason: string }
  | { readonly type: 'run_start'; readonly date: string; readonly runId: string; readonly plan: readonly PlannedStep[] }
  | { readonly type: 'step_start'; readonly date: string; readonly step: string; readonly attempt: number }
  | {
      readonly type: 'step_retry';
      readonly date: string;
      readonly step: string;
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: string;
    }
  | { readonly type: 'step_end'; readonly date: string; readonly step: StepRecord }
  | { readonly type: 'log'; readonly date: string; readonly step: string; readonly message: string }
  | { readonly type: 'run_end'; readonly run: RunRecord }
  | { readonly type: 'alert_sent'; readonly date: string; readonly kind: Alert['kind'] }
  | { readonly type: 'alert_failed'; readonly date: string; readonly kind: Alert['kind']; readonly error: string };

export interface RunnerOptions {
  readonly stateDir: string;
  readonly steps: readonly StepDef[];
  /** Where failure / DQ / deadline alerts go; none when absent. */
  readonly alerts?: AlertSink;
  readonly onEvent?: (e: PipelineEvent) => void;
  /** Injected for tests: waits between retries (must reject or resolve early when `signal` aborts). */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly now?: () => Date;
}

export interface RunDateOptions {
  readonly force?: Force;
  readonly signal?: AbortSignal;
  /** Absolute deadline; see `deadlineOn` for `--deadline HH:MM`. */
  readonly deadline?: Date;
  /**
   * Run this one step only (`pipeline step`, one task of an external orchestrator's DAG): its
   * dependencies must have succeeded in the ledger, otherwise it is recorded 'blocked' and the run
   * fails; a step that already succeeded is skipped unless forced.
   */
  readonly only?: string;
}

export interface BackfillProgress {
  readonly date: string;
  /** 1-based position of `date` in the range. */
  readonly index: number;
  readonly total: number;
  readonly run: RunRecord;
}

export interface BackfillOptions extends RunDateOptions {
  readonly onProgress?: (p: BackfillProgress) => void;
  /** Keep going after a failed date (default: stop, later dates usually depend on earlier ones). */
  readonly continueOnFailure?: boolean;
}

export interface BackfillResult {
  readonly from: string;
  readonly to: string;
  readonly total: number;
  readonly runs: readonly RunRecord[];
  readonly status: 'succeeded' | 'failed' | 'interrupted';
  /** The date that failed or was interrupted and stopped the backfill. */
  readonly stoppedAt?: string;
}

/** First line only: ledger entries, alerts and the CLI promise one-line reasons. */
const oneLine = (err: unknown): string => {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split('\n').find((l) => l.trim() !== '') ?? 'unknown error').trim().slice(0, 500);
};

const defaultSleep = async (ms: number, signal: AbortSignal): Promise<void> => {
  await sleepTimer(ms, undefined, { signal }).catch(() => undefined);
};

/** setTimeout cannot wait longer than this (~24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Executes the step DAG for a date under the pipeline lock, recording every transition in the
 * ledger before moving on, so the ledger is the state a restarted process resumes from:
 *   - steps that succeeded in an earlier run are skipped (unless forced);
 *   - a failing step is retried `retries` times with exponential backoff, then its dependents are
 *     recorded 'blocked' (independent branches still run);
 *   - a run left 'running' by a process that died (kill -9, OOM, reboot) is marked 'interrupted'
 *     by the next run, and its half-done step runs again. Steps must therefore be idempotent per
 *     date, which the batch layer's atomic per-date publish gives.
 */
export class PipelineRunner {
  readonly ledger: RunLedger;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly now: () => Date;

  constructor(private readonly opts: RunnerOptions) {
    this.ledger = new RunLedger(opts.stateDir);
    this.sleep = opts.sleep ?? defaultSleep;
    this.now = opts.now ?? (() => new Date());
    planRun(opts.steps, new Map()); // validates names, dependencies and cycles up front
  }

  /** One date. Throws CONFLICT when another run holds the lock; a failed run is a returned value. */
  async runDate(date: string, o: RunDateOptions = {}): Promise<RunRecord> {
    assertDate(date);
    const lock = await acquireLock(pipelineLockPath(this.opts.stateDir), `run ${date}`);
    try {
      return await this.runLocked(date, o);
    } finally {
      await lock.release();
    }
  }

  /**
   * Dates from..to in order under one lock. Resumable: running it again skips what succeeded, so
   * after a crash or a failed date it continues where it stopped.
   */
  async backfill(from: string, to: string, o: BackfillOptions = {}): Promise<BackfillResult> {
    const dates = dateRange(from, to);
    if (dates.length === 0) throw new CryptolambdaError('INVALID_ARGUMENT', `backfill range is empty: ${from} > ${to}`);
    const lock = await acquireLock(pipelineLockPath(this.opts.stateDir), `backfill ${from}..${to}`);
    const runs: RunRecord[] = [];
    try {
      for (const [i, date] of dates.entries()) {
        if (o.signal?.aborted) return { from, to, total: dates.length, runs, status: 'interrupted', stoppedAt: date };
        const run = await this.runLocked(date, o);
        runs.push(run);
        o.onProgress?.({ date, index: i + 1, total: dates.length, run });
        if (run.status === 'interrupted')
          return { from, to, total: dates.length, runs, status: 'interrupted', stoppedAt: date };
        if (run.status === 'failed' && !o.continueOnFailure) {
          return { from, to, total: dates.length, runs, status: 'failed', stoppedAt: date };
        }
      }
    } finally {
      await lock.release();
    }
    const failed = runs.find((r) => r.status === 'failed');
    return {
      from,
      to,
      total: dates.length,
      runs,
      status: failed ? 'failed' : 'succeeded',
      ...(failed ? { stoppedAt: failed.date } : {}),
    };
  }

  private emit(e: PipelineEvent): void {
    this.opts.onEvent?.(e);
  }

  /**
   * Runs of this date still marked 'running' belong to a dead process: we hold the lock, and the
   * lock is only broken when its owner is gone. The pid check is a second guard against a lock
   * file removed by hand while a run is alive.
   */
  private async recover(date: string): Promise<RunRecord[]> {
    const runs = await this.ledger.runsFor(date);
    const out: RunRecord[] = [];
    for (const r of runs) {
      if (r.status !== 'running') {
        out.push(r);
        continue;
      }
      const alive =
        r.pid !== process.pid &&
        r.host === hostname() &&
        isAlive(r.pid) &&
        (r.pidStart === undefined || processStartTicks(r.pid) === r.pidStart);
      if (alive) {
        throw new CryptolambdaError(
          'CONFLICT',
          `run ${r.runId} of ${date} is still running in pid ${r.pid}`,
          'wait for it to finish or stop that process',
        );
      }
      const reason = `process ${r.pid} stopped while the run was in progress`;
      const fixed: RunRecord = {
        ...r,
        status: 'interrupted',
        interruptedReason: reason,
        steps: r.steps.map((s) =>
          s.status === 'running' ? { ...s, status: 'failed' as const, error: `interrupted: ${reason}` } : s,
        ),
      };
      await this.ledger.save(fixed);
      this.emit({ type: 'recovered', date, runId: r.runId, reason });
      out.push(fixed);
    }
    return out;
  }

  private async runLocked(date: string, o: RunDateOptions): Promise<RunRecord> {
    const previous = await this.recover(date);
    const before = effectiveStatuses(previous);
    let plan = planRun(this.opts.steps, before, o.force ?? false);
    if (o.only !== undefined) {
      if (!plan.some((p) => p.name === o.only)) {
        throw new CryptolambdaError(
          'INVALID_ARGUMENT',
          `unknown step ${JSON.stringify(o.only)}`,
          `one of ${plan.map((p) => p.name).join(', ')}`,
        );
      }
      plan = plan.filter((p) => p.name === o.only);
    }
    const defs = new Map(this.opts.steps.map((s) => [s.name, s]));
    const signal = o.signal ?? new AbortController().signal;
    const pidStart = processStartTicks(process.pid);
    const records: StepRecord[] = [];
    let run: RunRecord = {
      runId: `${this.now().toISOString().replaceAll(/[-:]/g, '').slice(0, 15)}-${randomUUID().slice(0, 8)}`,
      date,
      status: 'running',
      startedAt: this.now().toISOString(),
      pid: process.pid,
      ...(pidStart ? { pidStart } : {}),
      host: hostname(),
      force: o.force ?? false,
      ...(o.deadline ? { deadline: o.deadline.toISOString() } : {}),
      steps: records,
    };
    // Serialized saves: the deadline timer can update the record while a step is running.
    let saving = Promise.resolve();
    const save = (patch: Partial<RunRecord> = {}): Promise<void> => {
      run = { ...run, ...patch, steps: [...records] };
      const snapshot = run;
      saving = saving.then(() => this.ledger.save(snapshot));
      return saving;
    };
    await save();
    this.emit({ type: 'run_start', date, runId: run.runId, plan });

    let deadlineAlerted = false;
    let timer: NodeJS.Timeout | undefined;
    const onDeadline = async (): Promise<void> => {
      if (run.status !== 'running' || deadlineAlerted) return;
      deadlineAlerted = true;
      await save({ missedDeadline: true });
      const done = new Set(records.filter((s) => s.status !== 'running').map((s) => s.name));
      await this.alert({
        kind: 'missed_deadline',
        date,
        runId: run.runId,
        deadline: o.deadline!.toISOString(),
        pending: plan.map((p) => p.name).filter((n) => !done.has(n)),
      });
    };
    if (o.deadline) {
      const ms = o.deadline.getTime() - this.now().getTime();
      if (ms <= 0) await onDeadline();
      else if (ms < MAX_TIMER_MS) {
        timer = setTimeout(() => void onDeadline().catch(() => undefined), ms);
        timer.unref();
      }
    }

    // A single step sees its dependencies as the ledger left them; a whole run starts from nothing.
    const current = new Map<string, StepStatus>(o.only !== undefined ? before : []);
    let interrupted = false;
    try {
      for (const p of plan) {
        if (signal.aborted) {
          interrupted = true;
          break;
        }
        const def = defs.get(p.name)!;
        if (p.action === 'skip') {
          records.push({ name: p.name, status: 'skipped', attempts: 0, reason: p.reason });
          current.set(p.name, 'skipped');
          continue;
        }
        const blocker = blockedBy(def, current);
        if (blocker) {
          const rec: StepRecord = { name: p.name, status: 'blocked', attempts: 0, blockedBy: blocker };
          records.push(rec);
          current.set(p.name, 'blocked');
          await save();
          this.emit({ type: 'step_end', date, step: rec });
          continue;
        }
        const rec = await this.runStep(def, p, date, signal, records, save);
        current.set(p.name, rec.status);
        if (signal.aborted) {
          interrupted = true;
          break;
        }
      }
    } finally {
      if (timer) clearTimeout(timer);
    }
    // 'blocked' fails the run too: in a whole run it only follows a failure, but a single step
    // whose dependency has not succeeded yet must not report success.
    const failed = records.some((s) => s.status === 'failed' || s.status === 'blocked');
    const missed = o.deadline !== undefined && this.now().getTime() > o.deadline.getTime();
    await save({
      status: interrupted ? 'interrupted' : failed ? 'failed' : 'succeeded',
      endedAt: this.now().toISOString(),
      ...(missed ? { missedDeadline: true } : {}),
    });
    this.emit({ type: 'run_end', run });
    const alert = alertForRun(run);
    if (alert) await this.alert(alert);
    else if (missed && !deadlineAlerted && !interrupted) {
      // The timer could not fire (clock injected in tests, or a deadline beyond setTimeout's range).
      await this.alert({
        kind: 'missed_deadline',
        date,
        runId: run.runId,
        deadline: o.deadline!.toISOString(),
        pending: [],
      });
    }
    return run;
  }

  private async runStep(
    def: StepDef,
    p: PlannedStep,
    date: string,
    signal: AbortSignal,
    records: StepRecord[],
    save: () => Promise<void>,
  ): Promise<StepRecord> {
    const idx = records.length;
    const startedAt = this.now().toISOString();
    let rec: StepRecord = {
      name: def.name,
      status: 'running',
      startedAt,
      attempts: 0,
      ...(p.forced ? { reason: 'forced' } : {}),
    };
    records.push(rec);
    const set = async (r: StepRecord): Promise<void> => {
      rec = r;
      records[idx] = r;
      await save();
    };
    for (let attempt = 1; ; attempt++) {
      // Recorded before the attempt starts: after a crash the ledger shows how far it got.
      await set({ ...rec, status: 'running', attempts: attempt });
      this.emit({ type: 'step_start', date, step: def.name, attempt });
      try {
        const out = await def.run({
          date,
          attempt,
          signal,
          forced: p.forced,
          log: (message) => this.emit({ type: 'log', date, step: def.name, message }),
        });
        const { error: _e, dq: _d, ...rest } = rec;
        await set({
          ...rest,
          status: 'succeeded',
          endedAt: this.now().toISOString(),
          ...(out.rows !== undefined ? { rows: out.rows } : {}),
          ...(out.detail !== undefined ? { detail: out.detail } : {}),
        });
        this.emit({ type: 'step_end', date, step: rec });
        return rec;
      } catch (err) {
        const error = signal.aborted ? `aborted: ${oneLine(err)}` : oneLine(err);
        const dq = isDqViolationError(err) ? err.report.results.filter((r) => !r.passed) : undefined;
        const retriable = !signal.aborted && (err as { retriable?: boolean } | null)?.retriable !== false;
        if (retriable && attempt <= def.retries) {
          const delayMs = def.backoffMs * 2 ** (attempt - 1);
          await set({ ...rec, error });
          this.emit({ type: 'step_retry', date, step: def.name, attempt, delayMs, error });
          await this.sleep(delayMs, signal);
          if (!signal.aborted) continue;
        }
        await set({ ...rec, status: 'failed', endedAt: this.now().toISOString(), error, ...(dq ? { dq } : {}) });
        this.emit({ type: 'step_end', date, step: rec });
        return rec;
      }
    }
  }

  /** Alert delivery problems are reported, never allowed to fail or hang the run's bookkeeping. */
  private async alert(alert: Alert): Promise<void> {
    if (!this.opts.alerts) return;
    try {
      await this.opts.alerts.send(alert);
      this.emit({ type: 'alert_sent', date: alert.date, kind: alert.kind });
    } catch (err) {
      this.emit({ type: 'alert_failed', date: alert.date, kind: alert.kind, error: oneLine(err) });
    }
  }
}
