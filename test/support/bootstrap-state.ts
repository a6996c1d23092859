import { connectRedis } from '../../src/adapters/redis/client.js';
import { keyspaceFor } from '../../src/adapters/redis/speed-keys.js';
import type { Config } from '../../src/config/config.js';
import { dumpKeyspace, RUN_SPECIFIC } from './redis-dump.js';

/**
 * The speed layer's state that must not depend on how it was built (a stream over the whole log, or
 * a bootstrap from the batch of `cutoff` plus the logs after it). Left out: worker bookkeeping
 * (epochs, outbox, status), the live feed (the bootstrap replays history, it does not re-announce it),
 * the day keys of the cutoff day (the batch covers it; the bootstrap writes day keys only for the
 * days it replays), the per-partition user counters (they count what this process applied: the
 * replay counts the days after the cutoff only) and the in-order re-application history (`b:*` base
 * book fields, `stream:hlog`, `stream:bspend`): how a user's recent events split into a base book
 * and a log depends on where a worker started, and a seeded user's history starts at the seed; the
 * book, every part it is restored from and every public key must still be equal.
 */
export const bootstrapComparableState = async (config: Config, cutoff: string): Promise<Record<string, unknown>> => {
  const redis = await connectRedis(config);
  try {
    const dump = await dumpKeyspace(redis, keyspaceFor(config.topicPrefix), [
      ...RUN_SPECIFIC,
      /^live:/,
      new RegExp(`^(delta|rw|eod):.*:${cutoff}$`),
      new RegExp(`^days:.*:${cutoff}$`),
      /^stream:(hlog|bspend):/,
    ]);
    for (const [k, v] of Object.entries(dump))
      if (k.startsWith('stream:part:')) {
        const { userCounts: _u, ...rest } = v as Record<string, string>;
        dump[k] = rest;
      } else if (k.startsWith('stream:user:')) {
        dump[k] = Object.fromEntries(Object.entries(v as Record<string, string>).filter(([f]) => !f.startsWith('b:')));
      }
    return dump;
  } finally {
    redis.disconnect();
  }
};
