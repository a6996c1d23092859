import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock, inspectLock } from '../../../src/app/pipeline/lock.js';

describe('pipeline lock', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cl-lock-'));
    file = path.join(dir, 'pipeline', 'run.lock');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is exclusive: a second acquire fails with CONFLICT naming the holder, release frees it', async () => {
    const a = await acquireLock(file, 'run 2024-03-01');
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ pid: process.pid, purpose: 'run 2024-03-01' });
    expect(await inspectLock(file)).toMatchObject({ state: 'held', info: { pid: process.pid } });
    // Same pid, but a live holder all the same: no re-entrancy.
    await expect(acquireLock(file, 'other')).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining(`pid ${process.pid}`),
    });
    await a.release();
    expect(await inspectLock(file)).toEqual({ state: 'free' });
    const b = await acquireLock(file, 'again');
    await b.release();
  });

  it('breaks a lock left by a dead process', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const a = await acquireLock(file, 'x');
    await a.release();
    await writeFile(
      file,
      JSON.stringify({ pid: dead, host: hostname(), acquiredAt: 'then', purpose: 'old', token: 'old' }),
    );
    expect(await inspectLock(file)).toMatchObject({ state: 'stale', reason: `pid ${dead} is not running` });
    const b = await acquireLock(file, 'new');
    expect(b.info.pid).toBe(process.pid);
    await b.release();
  });

  it('treats a live pid with a different start time as stale (pid reuse)', async () => {
    await acquireLock(file, 'x').then((l) => l.release());
    await writeFile(
      file,
      JSON.stringify({
        pid: process.pid,
        pidStart: '1',
        host: hostname(),
        acquiredAt: 'then',
        purpose: 'old',
        token: 'old',
      }),
    );
    expect((await inspectLock(file)).state).toBe('stale');
  });

  it('treats an empty lock file as held while fresh and stale once old', async () => {
    await acquireLock(file, 'x').then((l) => l.release());
    await writeFile(file, '');
    expect((await inspectLock(file)).state).toBe('held');
    const old = new Date(Date.now() - 60_000);
    await utimes(file, old, old);
    expect((await inspectLock(file)).state).toBe('stale');
    const l = await acquireLock(file, 'after torn');
    await l.release();
  });

  it("another host's lock is held while its lease is renewed and stale once the lease ran out", async () => {
    const other = { pid: 1, host: 'other-node', acquiredAt: 'then', purpose: 'shard', token: 't', leaseMs: 60_000 };
    await acquireLock(file, 'x').then((l) => l.release());
    await writeFile(file, JSON.stringify(other));
    expect(await inspectLock(file)).toMatchObject({ state: 'held', info: { host: 'other-node' } });
    const old = new Date(Date.now() - 61_000);
    await utimes(file, old, old);
    expect(await inspectLock(file)).toMatchObject({
      state: 'stale',
      reason: expect.stringMatching(/lease of 60000 ms ran out/),
    });
    // Without a lease another host's lock is never broken (its pid cannot be checked).
    const { leaseMs: _l, ...noLease } = other;
    await writeFile(file, JSON.stringify(noLease));
    await utimes(file, old, old);
    expect((await inspectLock(file)).state).toBe('held');
    await rm(file);
    // The holder renews its lease: the mtime moves while it holds the lock.
    const l = await acquireLock(file, 'leased', { leaseMs: 30 });
    await utimes(file, old, old);
    await new Promise((r) => setTimeout(r, 60));
    expect(Date.now() - (await stat(file)).mtimeMs).toBeLessThan(1_000);
    await l.release();
    expect(await inspectLock(file)).toEqual({ state: 'free' });
  });

  it("release never deletes a successor's lock", async () => {
    const a = await acquireLock(file, 'a');
    await writeFile(file, JSON.stringify({ ...a.info, token: 'someone-else' }));
    await a.release();
    expect(JSON.parse(await readFile(file, 'utf8')).token).toBe('someone-else');
  });
});
