import { setTimeout as sleepTimer } from 'node:timers/promises';
import { isCryptolambdaError } from '../../core/errors.js';
import { type CronSchedule, nextFire, parseCron } from '../../core/pipeline/cron.js';
import { inspectLock, type LockInfo } from './lock.js';

export type ScheduleEvent =
  | { readonly type: 'waiting'; readonly next: Date }
  | { readonly type: 'fired'; readonly at: Date }
  | { readonly type: 'skipped_locked'; readonly at: Date; readonly holder?: LockInfo }
  | { readonly type: 'fire_failed'; readonly at: Date; readonly error: string }
  | { readonly type: 'stopped' };

export interface ScheduleOptions {
  /** Five-field cron expression (UTC) or a parsed schedule. */
  readonly cron: string | CronSchedule;
  /** Stops the loop (between fires or while waiting; a running callback is awaited). */
  readonly signal: AbortSignal;
  /** Invoked at each fire time with the scheduled time (not the wall clock, which is a bit later). */
  readonly onFire: (at: Date, signal: AbortSignal) => Promise<void>;
  /** When set, a fire is skipped while a live process holds this lock (a manual run, a backfill). */
  readonly lockFile?: string;
  readonly onEvent?: (e: ScheduleEvent) => void;
  /** Injected for tests. */
  readonly now?: () => Date;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /**
   * The wait is cut into slices of at most this long and the clock re-read after each, so a
   * suspended laptop or a stepped clock (NTP) delays a fire by at most one slice.
   */
  readonly maxSleepMs?: number;
}

const defaultSleep = async (ms: number, signal: AbortSignal): Promise<void> => {
  await sleepTimer(ms, undefined, { signal }).catch(() => undefined);
};

/**
 * Wait for each fire time of `cron` and invoke `onFire`, one at a time. A callback that overruns
 * the next fire time does not queue fires: the next one is computed from when it finished, so a
 * slow day never causes back-to-back catch-up runs (the run ledger lets the next run pick up what
 * was missed). Resolves with the number of fires when `signal` aborts.
 */
export const runSchedule = async (opts: ScheduleOptions): Promise<{ fired: number }> => {
  const schedule = typeof opts.cron === 'string' ? parseCron(opts.cron) : opts.cron;
  const now = opts.now ?? (() => new Date());
  const sleep = opts.sleep ?? defaultSleep;
  const slice = opts.maxSleepMs ?? 60_000;
  const emit = (e: ScheduleEvent) => opts.onEvent?.(e);
  let fired = 0;
  let after = now();
  while (!opts.signal.aborted) {
    const next = nextFire(schedule, after);
    emit({ type: 'waiting', next });
    for (let left = next.getTime() - now().getTime(); left > 0 && !opts.signal.aborted; ) {
      await sleep(Math.min(left, slice), opts.signal);
      left = next.getTime() - now().getTime();
    }
    if (opts.signal.aborted) break;
    const lock = opts.lockFile ? await inspectLock(opts.lockFile) : undefined;
    if (lock?.state === 'held') {
      emit({ type: 'skipped_locked', at: next, holder: lock.info });
    } else {
      try {
        await opts.onFire(next, opts.signal);
        fired++;
        emit({ type: 'fired', at: next });
      } catch (err) {
        // The lock can be taken between our check and the callback's acquire.
        if (isCryptolambdaError(err) && err.code === 'CONFLICT') emit({ type: 'skipped_locked', at: next });
        else
          emit({
            type: 'fire_failed',
            at: next,
            error: (err instanceof Error ? err.message : String(err)).split('\n')[0]!,
          });
      }
    }
    after = new Date(Math.max(now().getTime(), next.getTime()));
  }
  emit({ type: 'stopped' });
  return { fired };
};
