import { withAdmin } from '../../adapters/kafka/client.js';
import { connectRedis } from '../../adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../adapters/redis/speed-keys.js';
import { readWatermarks } from '../../adapters/redis/speed-store.js';
import type { Config } from '../../config/config.js';
import { SPEED_PARTITIONS } from '../../core/partitioning.js';
import { topicName } from '../../core/topics.js';
import { readSpeedGaps } from '../gaps.js';
import type { RecordedGap } from './runtime.js';

export interface PartitionStatus {
  readonly partition: number;
  /** Price watermark of the partition (ms), null before any price. */
  readonly watermark: number | null;
  readonly usersWatermark: number | null;
  readonly lag: Record<string, number>;
  /**
   * The partition's checkpointed counters: the price windows' (onTime, late, tooLate,
   * duplicateTrades) and the users' (userEvents, duplicates = duplicate user events, rejected,
   * invalid, lateUser, tierChanges). Cumulative over restarts: they move with the partition state.
   */
  readonly counts: Record<string, number>;
}

export interface StreamStatus {
  readonly keyspace: string;
  /** The stream-wide watermark: min over partitions that have one. */
  readonly watermark: number | null;
  readonly watermarkDelayMs: number | null;
  readonly totalLag: number;
  readonly partitions: PartitionStatus[];
  readonly workers: Record<string, unknown>[];
  readonly symbols: number;
  /** Offsets lost from Kafka that a worker accepted with --accept-gap (data the speed layer never saw). */
  readonly gaps: RecordedGap[];
  readonly lostOffsets: number;
}

/**
 * Both counter sets name their duplicates `duplicates`: the trades' become `duplicateTrades` so a
 * spread of the two cannot hide one under the other (it used to show the user events' count only).
 */
const partitionCounts = (
  price: string | null | undefined,
  users: string | null | undefined,
): Record<string, number> => {
  const { duplicates, ...p } = JSON.parse(price ?? '{}') as Record<string, number>;
  return { ...p, duplicateTrades: duplicates ?? 0, ...(JSON.parse(users ?? '{}') as Record<string, number>) };
};

/** Read the speed layer's status from Redis (checkpointed state) and Kafka (end offsets for lag). */
export const streamStatus = async (config: Config): Promise<StreamStatus> => {
  const ks = keyspaceFor(config.topicPrefix);
  const keys = speedKeys(ks);
  const topics = (['prices', 'transactions', 'rewards'] as const).map((t) => topicName(config.topicPrefix, t));
  const ends = await withAdmin(config, async (admin) => {
    const out = new Map<string, bigint>();
    for (const t of topics) {
      for (const o of await admin.fetchTopicOffsets(t).catch(() => [])) out.set(`${t}|${o.partition}`, BigInt(o.high));
    }
    return out;
  });
  const redis = await connectRedis(config);
  try {
    const [offsetHashes, wms, workers, symbolSets, gaps] = await Promise.all([
      Promise.all(SPEED_PARTITIONS.map((n) => redis.hgetall(keys.offsets(n)))),
      readWatermarks(redis, keys),
      redis.hgetall(keys.streamStatus()),
      Promise.all(SPEED_PARTITIONS.map((n) => redis.smembers(keys.symbols(n)))),
      readSpeedGaps(redis, keys),
    ]);
    const offsets: Record<string, string> = Object.assign({}, ...offsetHashes);
    const symbols = new Set(symbolSets.flat()).size;
    const parts = new Set<number>();
    for (const k of ends.keys()) parts.add(Number(k.split('|')[1]));
    const partitions: PartitionStatus[] = [];
    let totalLag = 0;
    for (const n of [...parts].sort((a, b) => a - b)) {
      const lag: Record<string, number> = {};
      for (const t of topics) {
        const end = ends.get(`${t}|${n}`);
        if (end === undefined) continue;
        const done = offsets[`${t}|${n}`];
        lag[t] = Number(end - BigInt(done ?? '0'));
        totalLag += lag[t];
      }
      const st = await redis.hmget(keys.partitionState(n), 'priceCounts', 'userCounts');
      partitions.push({
        partition: n,
        watermark: wms.partitions.find((m) => m.partition === n)?.price ?? null,
        usersWatermark: wms.partitions.find((m) => m.partition === n)?.users ?? null,
        lag,
        counts: partitionCounts(st[0], st[1]),
      });
    }
    const watermark = wms.price;
    return {
      keyspace: ks,
      watermark,
      watermarkDelayMs: watermark === null ? null : Date.now() - watermark,
      totalLag,
      partitions,
      workers: Object.entries(workers).map(([id, v]) => ({ id, ...(JSON.parse(v) as Record<string, unknown>) })),
      symbols,
      gaps,
      lostOffsets: gaps.reduce((n, g) => n + g.lost, 0),
    };
  } finally {
    redis.disconnect();
  }
};
