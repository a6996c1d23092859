import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pipelineLockPath } from '../../../src/app/pipeline/lock.js';
import { runSchedule, type ScheduleEvent } from '../../../src/app/pipeline/schedule.js';
import { CryptolambdaError } from '../../../src/core/errors.js';

/** A fake clock: sleeping advances it, so a day of schedule runs in microseconds. */
const clock = (startIso: string) => {
  let t = Date.parse(startIso);
  const slept: number[] = [];
  return {
    now: () => new Date(t),
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
    advance: (ms: number) => {
      t += ms;
    },
    slept,
  };
};

describe('runSchedule', () => {
  let stateDir: string;
  beforeEach(async () => {
    stateDir = await mkdtemp(path.join(tmpdir(), 'cl-schedule-'));
  });
  afterEach(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  it('fires at each cron time in UTC, sleeping in slices, until aborted', async () => {
    const c = clock('2024-03-01T00:59:30Z');
    const ac = new AbortController();
    const fires: string[] = [];
    const result = await runSchedule({
      cron: '0 1,3 * * *',
      signal: ac.signal,
      now: c.now,
      sleep: c.sleep,
      maxSleepMs: 3_600_000,
      onFire: async (at) => {
        fires.push(at.toISOString());
        if (fires.length === 3) ac.abort();
      },
    });
    expect(fires).toEqual(['2024-03-01T01:00:00.000Z', '2024-03-01T03:00:00.000Z', '2024-03-02T01:00:00.000Z']);
    expect(result).toEqual({ fired: 3 });
    // 30 s to the first fire, then 2 h as one slice of 1 h twice, then 22 h in 1 h slices.
    expect(c.slept.slice(0, 3)).toEqual([30_000, 3_600_000, 3_600_000]);
    expect(Math.max(...c.slept)).toBeLessThanOrEqual(3_600_000);
  });

  it('does not queue fires missed while a callback overran', async () => {
    const c = clock('2024-03-01T00:00:00Z');
    const ac = new AbortController();
    const fires: string[] = [];
    await runSchedule({
      cron: '*/10 * * * *',
      signal: ac.signal,
      now: c.now,
      sleep: c.sleep,
      onFire: async (at) => {
        fires.push(at.toISOString());
        if (fires.length === 1) c.advance(25 * 60_000); // a 25-minute run
        if (fires.length === 2) ac.abort();
      },
    });
    expect(fires).toEqual(['2024-03-01T00:10:00.000Z', '2024-03-01T00:40:00.000Z']);
  });

  it('skips a fire while a live process holds the lock, and reports callback failures', async () => {
    const lockFile = pipelineLockPath(stateDir);
    await mkdir(path.dirname(lockFile), { recursive: true });
    await writeFile(
      lockFile,
      JSON.stringify({ pid: process.ppid, host: hostname(), acquiredAt: 'x', purpose: 'backfill', token: 't' }),
    );
    const c = clock('2024-03-01T00:00:00Z');
    const ac = new AbortController();
    const events: ScheduleEvent[] = [];
    let calls = 0;
    await runSchedule({
      cron: '@hourly',
      signal: ac.signal,
      now: c.now,
      sleep: c.sleep,
      lockFile,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'skipped_locked') rmSync(lockFile, { force: true });
        if (events.filter((x) => x.type !== 'waiting').length === 3) ac.abort();
      },
      onFire: async () => {
        calls++;
        if (calls === 1) throw new Error('broker down\nstack');
        throw new CryptolambdaError('CONFLICT', 'taken meanwhile');
      },
    });
    const kinds = events.filter((e) => e.type !== 'waiting').map((e) => e.type);
    expect(kinds).toEqual(['skipped_locked', 'fire_failed', 'skipped_locked', 'stopped']);
    expect(events[1]).toMatchObject({ type: 'skipped_locked', holder: { pid: process.ppid, purpose: 'backfill' } });
    expect(calls).toBe(2);
    expect(events.find((e) => e.type === 'fire_failed')).toEqual({
      type: 'fire_failed',
      at: expect.any(Date),
      error: 'broker down',
    });
    expect(events.at(-1)).toEqual({ type: 'stopped' });
  });

  it('returns immediately when already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    let fired = false;
    const r = await runSchedule({
      cron: '* * * * *',
      signal: ac.signal,
      onFire: async () => {
        fired = true;
      },
    });
    expect(r).toEqual({ fired: 0 });
    expect(fired).toBe(false);
  });
});
