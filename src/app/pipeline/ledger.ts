import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { type OffsetGap, readManifest, writeFileAtomic } from '../../adapters/lake/manifest.js';
import { CryptolambdaError } from '../../core/errors.js';
import { assertDate, effectiveStatuses, type StepStatus } from '../../core/pipeline/dag.js';
import type { RunRecord, RunStatus } from '../../core/pipeline/run.js';
import { inspectLock, type LockState, pipelineLockPath } from './lock.js';

/**
 * The run ledger: `<stateDir>/pipeline/runs/<date>.json`, one JSON document per business date
 * holding every run of that date, oldest first:
 *
 *   { "version": 1, "date": "2024-03-01", "runs": [ RunRecord, ... ] }
 *
 * One file per date keeps each write small (a backfill of years never rewrites a growing file)
 * and lets the planner read a date's whole history in one read. Every change rewrites the file
 * to a temp name and renames it over the old one (fsync'd), so a kill -9 at any moment leaves
 * either the previous or the next version, never a torn file. Only the lock holder writes.
 */
export interface DateLedger {
  readonly version: 1;
  readonly date: string;
  readonly runs: readonly RunRecord[];
}

export const pipelineDir = (stateDir: string): string => path.join(stateDir, 'pipeline');

export class RunLedger {
  readonly dir: string;

  constructor(readonly stateDir: string) {
    this.dir = path.join(pipelineDir(stateDir), 'runs');
  }

  fileFor(date: string): string {
    return path.join(this.dir, `${assertDate(date)}.json`);
  }

  /** Every run of `date`, oldest first (empty when the date never ran). */
  async runsFor(date: string): Promise<RunRecord[]> {
    const file = this.fileFor(date);
    let raw: string;
    try {
      raw = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    try {
      const doc = JSON.parse(raw) as DateLedger;
      if (doc.version !== 1 || !Array.isArray(doc.runs)) throw new Error('unexpected shape');
      return [...doc.runs];
    } catch (err) {
      throw new CryptolambdaError(
        'INTERNAL',
        `pipeline ledger ${file} is corrupt: ${(err as Error).message}`,
        undefined,
        {
          cause: err,
        },
      );
    }
  }

  /** Insert or replace (by runId) one run in its date's file, atomically. */
  async save(run: RunRecord): Promise<void> {
    const runs = await this.runsFor(run.date);
    const i = runs.findIndex((r) => r.runId === run.runId);
    if (i >= 0) runs[i] = run;
    else runs.push(run);
    const doc: DateLedger = { version: 1, date: run.date, runs };
    await writeFileAtomic(this.fileFor(run.date), `${JSON.stringify(doc, null, 1)}\n`);
  }

  /** Dates that have a ledger file, ascending. */
  async dates(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names
      .filter((n) => /^\d{4}-\d{2}-\d{2}\.json$/.test(n))
      .map((n) => n.slice(0, 10))
      .sort();
  }

  /** Runs of dates in [from, to] (all when omitted), newest start first, at most `limit`. */
  async history(opts: { from?: string; to?: string; limit?: number } = {}): Promise<RunRecord[]> {
    const dates = (await this.dates()).filter(
      (d) => (opts.from === undefined || d >= opts.from) && (opts.to === undefined || d <= opts.to),
    );
    const runs: RunRecord[] = [];
    for (const d of dates) runs.push(...(await this.runsFor(d)));
    runs.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0));
    return opts.limit === undefined ? runs : runs.slice(0, opts.limit);
  }
}

/** One date as `pipeline status` shows it. */
export interface DateStatus {
  readonly date: string;
  /** Status of the latest run of the date. */
  readonly lastRun: {
    readonly runId: string;
    readonly status: RunStatus;
    readonly startedAt: string;
    readonly endedAt?: string;
  };
  readonly runs: number;
  /** What the next run would see per step (latest non-skipped status). */
  readonly steps: Readonly<Record<string, StepStatus>>;
}

export interface PipelineStatus {
  readonly lock: LockState;
  readonly dates: readonly DateStatus[];
  /** Newest first. */
  readonly recentRuns: readonly RunRecord[];
  /** Accepted data loss recorded in the raw zone (ingest --accept-gap). */
  readonly gaps: readonly OffsetGap[];
  readonly lostOffsets: number;
}

/** What `pipeline status` prints: the lock holder, each date's state, and recent runs. */
export const readPipelineStatus = async (
  stateDir: string,
  opts: { from?: string; to?: string; limit?: number; lakeDir?: string } = {},
): Promise<PipelineStatus> => {
  const gaps = opts.lakeDir === undefined ? [] : ((await readManifest(opts.lakeDir)).gaps ?? []);
  const ledger = new RunLedger(stateDir);
  const dates = (await ledger.dates()).filter(
    (d) => (opts.from === undefined || d >= opts.from) && (opts.to === undefined || d <= opts.to),
  );
  const out: DateStatus[] = [];
  for (const date of dates) {
    const runs = await ledger.runsFor(date);
    const last = runs.at(-1);
    if (!last) continue;
    out.push({
      date,
      lastRun: {
        runId: last.runId,
        status: last.status,
        startedAt: last.startedAt,
        ...(last.endedAt ? { endedAt: last.endedAt } : {}),
      },
      runs: runs.length,
      steps: Object.fromEntries(effectiveStatuses(runs)),
    });
  }
  return {
    lock: await inspectLock(pipelineLockPath(stateDir)),
    dates: out,
    recentRuns: await ledger.history({ ...opts, limit: opts.limit ?? 20 }),
    gaps,
    lostOffsets: gaps.reduce((n, g) => n + g.lost, 0),
  };
};
