import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunLedger, readPipelineStatus } from '../../../src/app/pipeline/ledger.js';
import { pipelineLockPath } from '../../../src/app/pipeline/lock.js';
import { type PipelineEvent, PipelineRunner } from '../../../src/app/pipeline/runner.js';
import { CryptolambdaError } from '../../../src/core/errors.js';
import type { Alert } from '../../../src/core/pipeline/alerts.js';
import type { StepDef } from '../../../src/core/pipeline/dag.js';
import type { RunRecord } from '../../../src/core/pipeline/run.js';

const DATE = '2024-03-01';

/** A pid that is certainly not running: a child that already exited. */
const deadPid = (): number => {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
};

interface Harness {
  calls: string[];
  steps: StepDef[];
  /** step name → how many attempts fail before it succeeds (Infinity = always fails). */
  failures: Map<string, number>;
}

/**
 * ingest → batch → {reconcile, dq}; `report` depends only on ingest, so it shows that a failure in
 * one branch does not block an independent one.
 */
const harness = (): Harness => {
  const h: Harness = { calls: [], steps: [], failures: new Map() };
  const step = (name: string, dependsOn: string[], retries = 0): StepDef => ({
    name,
    dependsOn,
    retries,
    backoffMs: 100,
    run: async (ctx) => {
      h.calls.push(`${name}@${ctx.date}#${ctx.attempt}`);
      if (ctx.attempt <= (h.failures.get(name) ?? 0)) throw new Error(`${name} broke\nsecond line`);
      return { rows: name.length, detail: `${name} done` };
    },
  });
  h.steps = [
    step('ingest', []),
    step('batch', ['ingest'], 2),
    step('reconcile', ['batch']),
    step('dq', ['batch']),
    step('report', ['ingest']),
  ];
  return h;
};

describe('PipelineRunner', () => {
  let stateDir: string;
  let sleeps: number[];
  let alerts: Alert[];
  let events: PipelineEvent[];
  const runner = (steps: StepDef[]) =>
    new PipelineRunner({
      stateDir,
      steps,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      alerts: { send: async (a) => void alerts.push(a) },
      onEvent: (e) => events.push(e),
    });

  beforeEach(async () => {
    stateDir = await mkdtemp(path.join(tmpdir(), 'cl-pipeline-'));
    sleeps = [];
    alerts = [];
    events = [];
  });
  afterEach(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  const statuses = (run: RunRecord) => Object.fromEntries(run.steps.map((s) => [s.name, s.status]));

  it('runs a green DAG in dependency order and records every step', async () => {
    const h = harness();
    const run = await runner(h.steps).runDate(DATE);
    expect(run.status).toBe('succeeded');
    expect(h.calls).toEqual([
      `ingest@${DATE}#1`,
      `batch@${DATE}#1`,
      `reconcile@${DATE}#1`,
      `dq@${DATE}#1`,
      `report@${DATE}#1`,
    ]);
    expect(run.steps.map((s) => [s.name, s.status, s.attempts, s.rows, s.detail])).toEqual([
      ['ingest', 'succeeded', 1, 6, 'ingest done'],
      ['batch', 'succeeded', 1, 5, 'batch done'],
      ['reconcile', 'succeeded', 1, 9, 'reconcile done'],
      ['dq', 'succeeded', 1, 2, 'dq done'],
      ['report', 'succeeded', 1, 6, 'report done'],
    ]);
    for (const s of run.steps) expect(s.endedAt! >= s.startedAt!).toBe(true);
    const onDisk = await new RunLedger(stateDir).runsFor(DATE);
    expect(onDisk).toEqual([run]);
    expect(alerts).toEqual([]);
    // The lock is released after the run.
    await expect(readFile(pipelineLockPath(stateDir), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('retries per error code: NO_DATA and INVALID_ARGUMENT fail at once, BROKER_UNREACHABLE is retried', async () => {
    for (const [code, attempts] of [
      ['NO_DATA', 1],
      ['INVALID_ARGUMENT', 1],
      ['BROKER_UNREACHABLE', 3],
    ] as const) {
      let calls = 0;
      const step: StepDef = {
        name: 'batch',
        dependsOn: [],
        retries: 2,
        backoffMs: 1,
        run: async () => {
          calls++;
          throw new CryptolambdaError(code, `${code} happened`);
        },
      };
      const run = await runner([step]).runDate(`2024-03-0${attempts + 1}`);
      expect([code, run.status, calls, run.steps[0]!.attempts]).toEqual([code, 'failed', attempts, attempts]);
    }
  });

  it('retries a failing step with exponential backoff, then blocks its dependents only', async () => {
    const h = harness();
    h.failures.set('batch', Number.POSITIVE_INFINITY);
    const run = await runner(h.steps).runDate(DATE);
    expect(run.status).toBe('failed');
    expect(h.calls.filter((c) => c.startsWith('batch'))).toEqual([
      `batch@${DATE}#1`,
      `batch@${DATE}#2`,
      `batch@${DATE}#3`,
    ]);
    expect(sleeps).toEqual([100, 200]);
    expect(statuses(run)).toEqual({
      ingest: 'succeeded',
      batch: 'failed',
      reconcile: 'blocked',
      dq: 'blocked',
      report: 'succeeded',
    });
    const batch = run.steps.find((s) => s.name === 'batch')!;
    expect(batch).toMatchObject({ attempts: 3, error: 'batch broke' });
    expect(run.steps.find((s) => s.name === 'dq')).toEqual({
      name: 'dq',
      status: 'blocked',
      attempts: 0,
      blockedBy: 'batch',
    });
    expect(alerts).toEqual([
      {
        kind: 'step_failure',
        date: DATE,
        runId: run.runId,
        failed: [{ step: 'batch', attempts: 3, error: 'batch broke' }],
        blocked: ['reconcile', 'dq'],
      },
    ]);
  });

  it('a step that recovers within its retries succeeds and records the attempts', async () => {
    const h = harness();
    h.failures.set('batch', 1);
    const run = await runner(h.steps).runDate(DATE);
    expect(run.status).toBe('succeeded');
    const batch = run.steps.find((s) => s.name === 'batch')!;
    expect(batch.attempts).toBe(2);
    expect(batch.error).toBeUndefined();
    expect(sleeps).toEqual([100]);
    expect(events.filter((e) => e.type === 'step_retry')).toEqual([
      { type: 'step_retry', date: DATE, step: 'batch', attempt: 1, delayMs: 100, error: 'batch broke' },
    ]);
  });

  it('a rerun skips finished steps and redoes only the failed and blocked ones', async () => {
    const h = harness();
    h.failures.set('batch', Number.POSITIVE_INFINITY);
    await runner(h.steps).runDate(DATE);
    h.failures.clear();
    h.calls.length = 0;
    const second = await runner(h.steps).runDate(DATE);
    expect(second.status).toBe('succeeded');
    expect(h.calls).toEqual([`batch@${DATE}#1`, `reconcile@${DATE}#1`, `dq@${DATE}#1`]);
    expect(statuses(second)).toEqual({
      ingest: 'skipped',
      batch: 'succeeded',
      reconcile: 'succeeded',
      dq: 'succeeded',
      report: 'skipped',
    });
    // A third run has nothing to do.
    h.calls.length = 0;
    const third = await runner(h.steps).runDate(DATE);
    expect(h.calls).toEqual([]);
    expect(third.steps.every((s) => s.status === 'skipped')).toBe(true);
    expect((await new RunLedger(stateDir).runsFor(DATE)).map((r) => r.status)).toEqual([
      'failed',
      'succeeded',
      'succeeded',
    ]);
    expect(alerts).toHaveLength(1);
  });

  it('--force reruns everything; forcing one step also reruns its dependents', async () => {
    const h = harness();
    await runner(h.steps).runDate(DATE);
    h.calls.length = 0;
    await runner(h.steps).runDate(DATE, { force: true });
    expect(h.calls).toHaveLength(5);
    h.calls.length = 0;
    const run = await runner(h.steps).runDate(DATE, { force: ['batch'] });
    expect(h.calls).toEqual([`batch@${DATE}#1`, `reconcile@${DATE}#1`, `dq@${DATE}#1`]);
    expect(run.steps.find((s) => s.name === 'batch')!.reason).toBe('forced');
  });

  it('resumes after a crash: a step left running by a dead pid reruns, finished steps do not', async () => {
    const h = harness();
    const pid = deadPid();
    const ledger = new RunLedger(stateDir);
    // What a kill -9 during `batch` leaves behind: the run and the step 'running', and the lock file.
    const crashed: RunRecord = {
      runId: 'crashed-run',
      date: DATE,
      status: 'running',
      startedAt: '2024-03-02T01:00:00.000Z',
      pid,
      host: hostname(),
      force: false,
      steps: [
        {
          name: 'ingest',
          status: 'succeeded',
          startedAt: '2024-03-02T01:00:00.000Z',
          endedAt: '2024-03-02T01:01:00.000Z',
          attempts: 1,
          rows: 10,
        },
        { name: 'batch', status: 'running', startedAt: '2024-03-02T01:01:00.000Z', attempts: 1 },
      ],
    };
    await ledger.save(crashed);
    await mkdir(path.dirname(pipelineLockPath(stateDir)), { recursive: true });
    await writeFile(
      pipelineLockPath(stateDir),
      JSON.stringify({ pid, host: hostname(), acquiredAt: crashed.startedAt, purpose: `run ${DATE}`, token: 't' }),
    );

    const run = await runner(h.steps).runDate(DATE);
    expect(run.status).toBe('succeeded');
    expect(h.calls).toEqual([`batch@${DATE}#1`, `reconcile@${DATE}#1`, `dq@${DATE}#1`, `report@${DATE}#1`]);
    const runs = await ledger.runsFor(DATE);
    expect(runs[0]).toMatchObject({
      runId: 'crashed-run',
      status: 'interrupted',
      interruptedReason: `process ${pid} stopped while the run was in progress`,
    });
    expect(runs[0]!.steps[1]).toMatchObject({
      name: 'batch',
      status: 'failed',
      error: expect.stringMatching(/^interrupted: /),
    });
    expect(events.find((e) => e.type === 'recovered')).toMatchObject({ runId: 'crashed-run' });
    expect(alerts).toEqual([]);
  });

  it('refuses to run while another live process holds the lock', async () => {
    const h = harness();
    await mkdir(path.dirname(pipelineLockPath(stateDir)), { recursive: true });
    // The parent of this test process is alive and is not us.
    await writeFile(
      pipelineLockPath(stateDir),
      JSON.stringify({ pid: process.ppid, host: hostname(), acquiredAt: 'x', purpose: 'run 2024-02-29', token: 't' }),
    );
    await expect(runner(h.steps).runDate(DATE)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(h.calls).toEqual([]);
  });

  it('backfills a range in order with progress, stops at a failed date, and resumes from it', async () => {
    const h = harness();
    let failDate = '2024-03-02';
    h.steps = h.steps.map((s) =>
      s.name === 'dq'
        ? {
            ...s,
            run: async (ctx) => {
              h.calls.push(`dq@${ctx.date}#${ctx.attempt}`);
              if (ctx.date === failDate) throw new Error('dq failed');
              return {};
            },
          }
        : s,
    );
    const progress: string[] = [];
    const r1 = await runner(h.steps).backfill('2024-03-01', '2024-03-03', {
      onProgress: (p) => progress.push(`${p.index}/${p.total} ${p.date} ${p.run.status}`),
    });
    expect(r1).toMatchObject({ status: 'failed', stoppedAt: '2024-03-02', total: 3 });
    expect(progress).toEqual(['1/3 2024-03-01 succeeded', '2/3 2024-03-02 failed']);

    failDate = '';
    h.calls.length = 0;
    progress.length = 0;
    const r2 = await runner(h.steps).backfill('2024-03-01', '2024-03-03', {
      onProgress: (p) => progress.push(`${p.index}/${p.total} ${p.date} ${p.run.status}`),
    });
    expect(r2.status).toBe('succeeded');
    expect(progress).toEqual(['1/3 2024-03-01 succeeded', '2/3 2024-03-02 succeeded', '3/3 2024-03-03 succeeded']);
    // 03-01 was complete: nothing reran; 03-02 reran only dq; 03-03 ran fully.
    expect(h.calls).toEqual([
      'dq@2024-03-02#1',
      'ingest@2024-03-03#1',
      'batch@2024-03-03#1',
      'reconcile@2024-03-03#1',
      'dq@2024-03-03#1',
      'report@2024-03-03#1',
    ]);
    const status = await readPipelineStatus(stateDir);
    expect(status.dates.map((d) => [d.date, d.lastRun.status, d.runs])).toEqual([
      ['2024-03-01', 'succeeded', 2],
      ['2024-03-02', 'succeeded', 2],
      ['2024-03-03', 'succeeded', 1],
    ]);
    expect(status.dates[1]!.steps).toEqual({
      ingest: 'succeeded',
      batch: 'succeeded',
      reconcile: 'succeeded',
      dq: 'succeeded',
      report: 'succeeded',
    });
    expect(status.lock).toEqual({ state: 'free' });
  });

  it('stops between steps when aborted and records the run as interrupted', async () => {
    const h = harness();
    const ac = new AbortController();
    h.steps = h.steps.map((s) =>
      s.name === 'ingest'
        ? {
            ...s,
            run: async () => {
              ac.abort();
              return {};
            },
          }
        : s,
    );
    const run = await runner(h.steps).runDate(DATE, { signal: ac.signal });
    expect(run.status).toBe('interrupted');
    expect(statuses(run)).toEqual({ ingest: 'succeeded' });
    expect(alerts).toEqual([]);
  });

  it('alerts on a missed deadline once, naming the pending steps', async () => {
    const h = harness();
    const run = await runner(h.steps).runDate(DATE, { deadline: new Date(Date.now() - 60_000) });
    expect(run.status).toBe('succeeded');
    expect(run.missedDeadline).toBe(true);
    expect(alerts).toEqual([
      {
        kind: 'missed_deadline',
        date: DATE,
        runId: run.runId,
        deadline: run.deadline,
        pending: ['ingest', 'batch', 'reconcile', 'dq', 'report'],
      },
    ]);
  });

  it('alerts when the deadline passes while a step is still running, then once more if the run fails', async () => {
    const h = harness();
    h.steps = h.steps.map((s) =>
      s.name === 'batch'
        ? {
            ...s,
            retries: 0,
            run: async () => {
              await new Promise((r) => setTimeout(r, 150));
              throw new Error('late and broken');
            },
          }
        : s,
    );
    const run = await runner(h.steps).runDate(DATE, { deadline: new Date(Date.now() + 40) });
    expect(alerts.map((a) => a.kind)).toEqual(['missed_deadline', 'step_failure']);
    expect(alerts[0]).toMatchObject({ pending: ['batch', 'reconcile', 'dq', 'report'] });
    expect(alerts[1]).toMatchObject({ missedDeadline: run.deadline });
    expect((await new RunLedger(stateDir).runsFor(DATE))[0]!.missedDeadline).toBe(true);
  });

  it('rejects a DAG with a cycle before running anything', () => {
    const noop = async () => ({});
    expect(
      () =>
        new PipelineRunner({
          stateDir,
          steps: [
            { name: 'a', dependsOn: ['b'], retries: 0, backoffMs: 0, run: noop },
            { name: 'b', dependsOn: ['a'], retries: 0, backoffMs: 0, run: noop },
          ],
        }),
    ).toThrow(/dependency cycle: a -> b -> a/);
  });

  describe('one step at a time (pipeline step, an orchestrator task per step)', () => {
    it('runs only the named step, in the same ledger, and refuses when its dependency has not succeeded', async () => {
      const h = harness();
      const early = await runner(h.steps).runDate(DATE, { only: 'batch' });
      expect(early.status).toBe('failed');
      expect(early.steps).toEqual([{ name: 'batch', status: 'blocked', attempts: 0, blockedBy: 'ingest' }]);
      expect(h.calls).toEqual([]);
      const { runFailureReason } = await import('../../../src/core/pipeline/run.js');
      expect(runFailureReason(early)).toBe(`pipeline ${DATE}: batch blocked by ingest (not succeeded yet)`);

      expect((await runner(h.steps).runDate(DATE, { only: 'ingest' })).status).toBe('succeeded');
      const b = await runner(h.steps).runDate(DATE, { only: 'batch' });
      expect([b.status, statuses(b)]).toEqual(['succeeded', { batch: 'succeeded' }]);
      expect(h.calls).toEqual([`ingest@${DATE}#1`, `batch@${DATE}#1`]);

      // A retried task whose step already succeeded is a no-op; --force runs it again.
      const again = await runner(h.steps).runDate(DATE, { only: 'batch' });
      expect(statuses(again)).toEqual({ batch: 'skipped' });
      await runner(h.steps).runDate(DATE, { only: 'batch', force: ['batch'] });
      expect(h.calls).toEqual([`ingest@${DATE}#1`, `batch@${DATE}#1`, `batch@${DATE}#1`]);

      // pipeline run afterwards sees what the single steps did and runs only the rest.
      const rest = await runner(h.steps).runDate(DATE);
      expect(statuses(rest)).toEqual({
        ingest: 'skipped',
        batch: 'skipped',
        reconcile: 'succeeded',
        dq: 'succeeded',
        report: 'succeeded',
      });
    });

    it('retries a failing step like a run does and takes the same lock', async () => {
      const h = harness();
      h.failures.set('batch', 1);
      await runner(h.steps).runDate(DATE, { only: 'ingest' });
      const b = await runner(h.steps).runDate(DATE, { only: 'batch' });
      expect(b.steps[0]).toMatchObject({ status: 'succeeded', attempts: 2 });
      await expect(runner(h.steps).runDate(DATE, { only: 'nope' })).rejects.toThrow('unknown step "nope"');
      await mkdir(path.dirname(pipelineLockPath(stateDir)), { recursive: true });
      await writeFile(
        pipelineLockPath(stateDir),
        JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), what: 'run' }),
      );
      await expect(runner(h.steps).runDate(DATE, { only: 'dq' })).rejects.toMatchObject({ code: 'CONFLICT' });
    });
  });
});
