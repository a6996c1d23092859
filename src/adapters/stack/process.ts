import { spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A process this project started, as recorded in the state dir. The start time (from /proc)
 * guards against pid reuse: `down` only signals a pid whose start time still matches, so it
 * can never kill something it did not start.
 */
export interface ProcessRecord {
  readonly name: string;
  readonly pid: number;
  readonly startTicks: string;
  readonly port: number;
  readonly version: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly startedAt: string;
  /** Kafka: how its listeners are secured (absent = started before the stack was secured). */
  readonly security?: string;
}

export const processStartTicks = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19]; // field 22 overall = starttime
  } catch {
    return undefined;
  }
};

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    // A zombie still answers kill(0); treat it as dead.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

/** True when the record's pid is alive and is still the process we started. */
export const isOurs = (rec: ProcessRecord): boolean =>
  isAlive(rec.pid) && processStartTicks(rec.pid) === rec.startTicks;

export const recordPath = (stateDir: string, name: string): string => path.join(stateDir, 'run', `${name}.json`);

export const readRecord = async (stateDir: string, name: string): Promise<ProcessRecord | undefined> => {
  try {
    return JSON.parse(await readFile(recordPath(stateDir, name), 'utf8')) as ProcessRecord;
  } catch {
    return undefined;
  }
};

export const writeRecord = async (stateDir: string, rec: ProcessRecord): Promise<void> => {
  const file = recordPath(stateDir, rec.name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(rec, null, 2)}\n`);
};

export const removeRecord = async (stateDir: string, name: string): Promise<void> => {
  await rm(recordPath(stateDir, name), { force: true });
};

/** Start a daemon detached from our process group with its output appended to `logFile`. */
export const spawnDetached = async (
  command: string,
  args: readonly string[],
  opts: { logFile: string; cwd: string; env?: NodeJS.ProcessEnv },
): Promise<number> => {
  await mkdir(path.dirname(opts.logFile), { recursive: true, mode: 0o700 });
  const fd = openSync(opts.logFile, 'a', 0o600);
  // The services write data (Redis AOF, Kafka logs) and logs that hold users' events: umask 077
  // makes everything they create 0600/0700, whatever the caller's umask (Node has no spawn option).
  const child = spawn('/bin/sh', ['-c', 'umask 077 && exec "$0" "$@"', command, ...args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => resolve(child.pid!));
  });
  child.unref();
  return pid;
};

/** Poll `probe` until it returns a value or `timeoutMs` passes; `abort` ends early with its message. */
export const waitFor = async <T>(
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; abort?: () => string | undefined },
): Promise<T | undefined> => {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    const why = opts.abort?.();
    if (why !== undefined) throw new Error(why);
    if (Date.now() >= deadline) return undefined;
    await sleep(opts.intervalMs ?? 250);
  }
};

/** SIGTERM, wait for a clean exit (Kafka flushes its logs), then SIGKILL. */
export const stopProcess = async (
  rec: ProcessRecord,
  graceMs: number,
): Promise<'stopped' | 'killed' | 'not-running'> => {
  if (!isOurs(rec)) return 'not-running';
  process.kill(rec.pid, 'SIGTERM');
  const gone = await waitFor(async () => (isAlive(rec.pid) ? undefined : true), {
    timeoutMs: graceMs,
    intervalMs: 100,
  });
  if (gone) return 'stopped';
  process.kill(rec.pid, 'SIGKILL');
  await waitFor(async () => (isAlive(rec.pid) ? undefined : true), { timeoutMs: 5000, intervalMs: 50 });
  return 'killed';
};

export const tailFile = async (file: string, lines = 5): Promise<string> => {
  try {
    const text = await readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
};
