import path from 'node:path';
import { CryptolambdaError, isCryptolambdaError } from '../../core/errors.js';
import { type ShardSpec, shardLabel } from '../../core/warehouse/shard.js';
import { acquireLock, inspectLock } from '../pipeline/lock.js';

/**
 * One writer per lake zone: two `ingest` runs would read the same offsets and publish the same rows
 * twice, two `batch` runs would overwrite each other's ledger update (and delete each other's
 * unpublished files). The lock file (O_EXCL, owner pid + start time, stale locks broken) is the
 * pipeline's; a separate file per zone, so the pipeline's own run lock does not block its steps.
 */
export const ingestLockPath = (lakeDir: string): string => path.join(lakeDir, 'raw', '_ingest.lock');
export const batchLockPath = (lakeDir: string): string => path.join(lakeDir, 'warehouse', '_batch.lock');

/**
 * One build per shard of a date (`batch --date D --shard i/N`): different shards of D run at the same
 * time (they write different files), but two runs of the SAME shard (an orchestrator retrying a
 * task whose first attempt is still running) would replace each other's shard record and delete
 * each other's files mid-write. Outside `_shards/` (publish removes that directory).
 */
export const shardLockPath = (lakeDir: string, date: string, shard: ShardSpec): string =>
  path.join(lakeDir, 'warehouse', '_locks', `dt=${date}`, `shard-${shard.index}-of-${shard.of}.lock`);

/**
 * The lease of a shard lock: shards of one date run on several machines over a shared lake, where
 * the pid of a dead owner on another host cannot be checked; a lock not renewed for this long is
 * broken by the next run (the holder renews it every 20 s).
 */
export const SHARD_LOCK_LEASE_MS = 60_000;

export const withLakeLock = async <T>(
  file: string,
  what: 'ingest' | 'batch' | { shard: ShardSpec; date: string },
  purpose: string,
  fn: () => Promise<T>,
  opts: { leaseMs?: number } = {},
) => {
  let handle: Awaited<ReturnType<typeof acquireLock>>;
  try {
    handle = await acquireLock(file, purpose, opts);
  } catch (err) {
    if (!isCryptolambdaError(err) || err.code !== 'CONFLICT') throw err;
    const s = await inspectLock(file);
    const who =
      s.state === 'held' ? ` (pid ${s.info.pid} on ${s.info.host}, ${s.info.purpose}, since ${s.info.acquiredAt})` : '';
    throw new CryptolambdaError(
      'CONFLICT',
      typeof what === 'string'
        ? `another ${what} is running on this lake${who}`
        : `shard ${shardLabel(what.shard)} of ${what.date} is already being built${who}`,
      opts.leaseMs === undefined
        ? `wait for it to finish; if that process is gone, remove ${file}`
        : `wait for it to finish; a lock of a process gone on another machine frees itself ${opts.leaseMs / 1000} s after its last renewal (or remove ${file})`,
    );
  }
  try {
    return await fn();
  } finally {
    await handle.release();
  }
};
