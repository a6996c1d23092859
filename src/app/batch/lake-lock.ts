import path from 'node:path';
import { CryptolambdaError, isCryptolambdaError } from '../../core/errors.js';
import { acquireLock, inspectLock } from '../pipeline/lock.js';

/**
 * One writer per lake zone: two `ingest` runs would read the same offsets and publish the same rows
 * twice, two `batch` runs would overwrite each other's ledger update (and delete each other's
 * unpublished files). The lock file (O_EXCL, owner pid + start time, stale locks broken) is the
 * pipeline's; a separate file per zone, so the pipeline's own run lock does not block its steps.
 */
export const ingestLockPath = (lakeDir: string): string => path.join(lakeDir, 'raw', '_ingest.lock');
export const batchLockPath = (lakeDir: string): string => path.join(lakeDir, 'warehouse', '_batch.lock');

export const withLakeLock = async <T>(
  file: string,
  what: 'ingest' | 'batch',
  purpose: string,
  fn: () => Promise<T>,
) => {
  let handle: Awaited<ReturnType<typeof acquireLock>>;
  try {
    handle = await acquireLock(file, purpose);
  } catch (err) {
    if (!isCryptolambdaError(err) || err.code !== 'CONFLICT') throw err;
    const s = await inspectLock(file);
    const who =
      s.state === 'held' ? ` (pid ${s.info.pid} on ${s.info.host}, ${s.info.purpose}, since ${s.info.acquiredAt})` : '';
    throw new CryptolambdaError(
      'CONFLICT',
      `another ${what} is running on this lake${who}`,
      `wait for it to finish; if that process is gone, remove ${file}`,
    );
  }
  try {
    return await fn();
  } finally {
    await handle.release();
  }
};
