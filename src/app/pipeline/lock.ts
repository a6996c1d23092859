import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { isAlive, processStartTicks } from '../../adapters/stack/process.js';
import { CryptolambdaError } from '../../core/errors.js';

/**
 * An exclusive lock file that keeps two pipeline runs (cron + a manual run, two cron ticks) from
 * overlapping. Created with O_EXCL, so exactly one process wins; it holds the owner's pid and
 * /proc start time. A lock whose pid is dead, or alive but started at another time (pid reuse),
 * is stale and is broken by the next acquirer: that is what makes a run resumable after kill -9.
 */
export interface LockInfo {
  readonly pid: number;
  /** /proc start time of the owner (absent off Linux): guards against pid reuse. */
  readonly pidStart?: string;
  readonly host: string;
  readonly acquiredAt: string;
  readonly purpose: string;
  readonly token: string;
  /**
   * A lease (ms): the holder touches the lock file's mtime every leaseMs/3, and a lock of ANOTHER
   * host whose mtime is older than leaseMs is stale. Without it another host's lock is never
   * broken (its pids cannot be checked); with it a lock on a shared lake directory (several
   * machines, e.g. a Kubernetes pod killed on one node and retried on another) frees itself.
   */
  readonly leaseMs?: number;
}

export interface LockHandle {
  readonly file: string;
  readonly info: LockInfo;
  release(): Promise<void>;
}

export const pipelineLockPath = (stateDir: string): string => path.join(stateDir, 'pipeline', 'run.lock');

/**
 * A lock file that is empty or unparsable was left by a process killed between create and write;
 * it is treated as stale once older than this (a live writer finishes in microseconds).
 */
const TORN_LOCK_GRACE_MS = 5_000;

export type LockState =
  | { readonly state: 'free' }
  | { readonly state: 'held'; readonly info: LockInfo }
  | { readonly state: 'stale'; readonly info?: LockInfo; readonly reason: string };

const ownerAlive = (info: LockInfo, ageMs: number): boolean => {
  // Another machine's pids cannot be checked: alive, unless its lease ran out.
  if (info.host !== hostname()) return info.leaseMs === undefined || ageMs <= info.leaseMs;
  if (!isAlive(info.pid)) return false;
  const ticks = processStartTicks(info.pid);
  return info.pidStart === undefined || ticks === undefined || ticks === info.pidStart;
};

/** Who holds the lock, without taking it (for `pipeline status` and the scheduler). */
export const inspectLock = async (file: string, now: () => number = Date.now): Promise<LockState> => {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'free' };
    throw err;
  }
  let info: LockInfo | undefined;
  try {
    info = JSON.parse(raw) as LockInfo;
    if (typeof info.pid !== 'number') info = undefined;
  } catch {
    info = undefined;
  }
  const age = await stat(file).then(
    (s) => now() - s.mtimeMs,
    () => Number.POSITIVE_INFINITY,
  );
  if (!info) {
    return age > TORN_LOCK_GRACE_MS
      ? { state: 'stale', reason: 'unreadable lock file' }
      : { state: 'held', info: { pid: 0, host: hostname(), acquiredAt: '', purpose: 'starting', token: '' } };
  }
  return ownerAlive(info, age)
    ? { state: 'held', info }
    : {
        state: 'stale',
        info,
        reason:
          info.host === hostname()
            ? `pid ${info.pid} is not running`
            : `lease of ${info.leaseMs} ms ran out (${Math.round(age / 1000)} s since its last renewal)`,
      };
};

/**
 * Take the lock or throw CONFLICT naming the holder. `purpose` is recorded for `status` (e.g.
 * "run 2024-03-01", "backfill 2024-01-01..2024-01-31").
 */
export const acquireLock = async (
  file: string,
  purpose: string,
  opts: { leaseMs?: number } = {},
): Promise<LockHandle> => {
  await mkdir(path.dirname(file), { recursive: true });
  const pidStart = processStartTicks(process.pid);
  const info: LockInfo = {
    pid: process.pid,
    ...(pidStart ? { pidStart } : {}),
    host: hostname(),
    acquiredAt: new Date().toISOString(),
    purpose,
    token: randomUUID(),
    ...(opts.leaseMs === undefined ? {} : { leaseMs: opts.leaseMs }),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fh = await open(file, 'wx');
      try {
        await fh.writeFile(`${JSON.stringify(info)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (opts.leaseMs === undefined) return { file, info, release: () => releaseLock(file, info.token) };
      // Renew the lease while we hold it (unref: a renewal never keeps the process alive).
      const renew = setInterval(
        () => {
          const t = new Date();
          utimes(file, t, t).catch(() => undefined);
        },
        Math.max(1, Math.floor(opts.leaseMs / 3)),
      );
      renew.unref();
      return {
        file,
        info,
        release: () => {
          clearInterval(renew);
          return releaseLock(file, info.token);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const state = await inspectLock(file);
    if (state.state === 'held') {
      const h = state.info;
      throw new CryptolambdaError(
        'CONFLICT',
        `another pipeline run holds the lock (pid ${h.pid} on ${h.host}, ${h.purpose}, since ${h.acquiredAt})`,
        `wait for it to finish; if that process is gone, remove ${file}`,
      );
    }
    if (state.state === 'stale') await breakStale(file, state.info);
  }
  throw new CryptolambdaError('CONFLICT', 'could not acquire the pipeline lock (contended)', 'retry in a moment');
};

/**
 * Remove a stale lock without ever removing a fresh one: two processes can both see the same stale
 * lock, and a plain unlink by the slower one would delete the lock the faster one just created.
 * So move it aside first and check that what was moved is the stale lock we inspected; if it is
 * not (someone re-acquired in between), put it back with link(), which fails rather than overwrite.
 */
const breakStale = async (file: string, stale: LockInfo | undefined): Promise<void> => {
  const aside = `${file}.stale-${process.pid}-${randomUUID().slice(0, 8)}`;
  try {
    await rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  let moved: LockInfo | undefined;
  try {
    moved = JSON.parse(await readFile(aside, 'utf8')) as LockInfo;
  } catch {
    moved = undefined;
  }
  const same = stale === undefined ? moved === undefined : moved?.token === stale.token && moved.pid === stale.pid;
  if (!same) await link(aside, file).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
};

/** Release only our own lock (the token check keeps a late release from deleting a successor's). */
const releaseLock = async (file: string, token: string): Promise<void> => {
  try {
    const cur = JSON.parse(await readFile(file, 'utf8')) as LockInfo;
    if (cur.token !== token) return;
  } catch {
    return;
  }
  await unlink(file).catch(() => undefined);
};
