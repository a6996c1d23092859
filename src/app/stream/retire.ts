import { connectRedis } from '../../adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../adapters/redis/speed-keys.js';
import type { Config } from '../../config/config.js';
import { SPEED_PARTITIONS } from '../../core/partitioning.js';

export interface RetireResult {
  readonly date: string;
  readonly users: number;
  /** Keys whose TTL was shortened (keys already expiring sooner are left alone). */
  readonly keys: number;
}

/**
 * Once the batch has covered `date` (and reconcile has compared it), the speed layer's per-day keys
 * of that date are no longer the source of anything: `portfolio` reads the batch up to its cutoff.
 * Shorten their TTL to `ttlSec` (EXPIRE … LT, never lengthening one) so Redis holds only the days
 * after the batch cutoff plus a safety margin, instead of the speed layer's own 8 days.
 */
export const retireSpeedDay = async (config: Config, date: string, ttlSec: number): Promise<RetireResult> => {
  const k = speedKeys(keyspaceFor(config.topicPrefix));
  const redis = await connectRedis(config, { name: 'cl-retire' });
  try {
    let users = 0;
    let keys = 0;
    for (const n of SPEED_PARTITIONS) {
      let cursor = '0';
      do {
        const [next, batch] = await redis.sscan(k.dayUsers(date, n), cursor, 'COUNT', 1000);
        cursor = next;
        users += batch.length;
        const tx = redis.pipeline();
        for (const u of batch) {
          for (const key of [k.delta(u, date, n), k.dayRewards(u, date, n), k.endOfDay(u, date, n)]) {
            tx.expire(key, ttlSec, 'LT');
          }
        }
        for (const [err, changed] of (await tx.exec()) ?? []) {
          if (err) throw err;
          keys += Number(changed);
        }
      } while (cursor !== '0');
      keys += Number(await redis.expire(k.dayUsers(date, n), ttlSec, 'LT'));
    }
    return { date, users, keys };
  } finally {
    redis.disconnect();
  }
};
