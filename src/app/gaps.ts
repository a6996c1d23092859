import { type OffsetGap, readManifest } from '../adapters/lake/manifest.js';
import type { RedisConn } from '../adapters/redis/client.js';
import type { SpeedKeys } from '../adapters/redis/speed-keys.js';
import type { RecordedGap } from './stream/runtime.js';

/**
 * Data loss the operator accepted (`ingest --accept-gap`, `stream --accept-gap`): offsets that were
 * gone from Kafka before a layer read them. Reconcile cannot see a record that both layers missed,
 * so every report that vouches for the data (reconcile, pipeline status) lists these.
 */
export interface RecordedGaps {
  /** Holes in the raw zone (lake/raw/_manifest.json `gaps`). */
  readonly batch: readonly OffsetGap[];
  /** Holes in the speed layer (Redis `stream:gaps`); null when Redis was not read. */
  readonly speed: readonly RecordedGap[] | null;
  readonly lostOffsets: { readonly batch: number; readonly speed: number };
}

/** The gaps the speed layer recorded, oldest first. */
export const readSpeedGaps = async (redis: RedisConn, keys: SpeedKeys): Promise<RecordedGap[]> =>
  (await redis.hvals(keys.gaps()))
    .map((v) => JSON.parse(v) as RecordedGap)
    .sort((a, b) => a.at.localeCompare(b.at) || a.topic.localeCompare(b.topic) || a.partition - b.partition);

export const readRecordedGaps = async (
  lakeDir: string,
  speed: { redis: RedisConn; keys: SpeedKeys } | null,
): Promise<RecordedGaps> => {
  const batch = (await readManifest(lakeDir)).gaps ?? [];
  const s = speed === null ? null : await readSpeedGaps(speed.redis, speed.keys);
  return {
    batch,
    speed: s,
    lostOffsets: { batch: batch.reduce((n, g) => n + g.lost, 0), speed: (s ?? []).reduce((n, g) => n + g.lost, 0) },
  };
};

/** One warning line per layer with recorded gaps (empty when none). */
export const gapWarnings = (g: RecordedGaps): string[] => {
  const out: string[] = [];
  if (g.batch.length > 0)
    out.push(
      `data loss: ${g.lostOffsets.batch} offsets in ${g.batch.length} recorded gap(s) never reached the raw zone (${g.batch.map((x) => `${x.topic}[${x.partition}] ${x.from}..${BigInt(x.to) - 1n}`).join(', ')})`,
    );
  if (g.speed !== null && g.speed.length > 0)
    out.push(
      `data loss: ${g.lostOffsets.speed} offsets in ${g.speed.length} recorded gap(s) never reached the speed layer (${g.speed.map((x) => `${x.topic}[${x.partition}] ${x.from}..${BigInt(x.to) - 1n}`).join(', ')})`,
    );
  return out;
};
