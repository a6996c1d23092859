import { ensureTopics, withAdmin } from '../../adapters/kafka/client.js';
import type { Registry } from '../../adapters/metrics/prometheus.js';
import { connectRedis, prefixPattern, type RedisConn, scanKeys } from '../../adapters/redis/client.js';
import { LiveFeedWriter } from '../../adapters/redis/live-feed.js';
import { keyspaceFor, speedKeys } from '../../adapters/redis/speed-keys.js';
import { RedisSpeedStore } from '../../adapters/redis/speed-store.js';
import { type Config, isRedisCluster } from '../../config/config.js';
import { CryptolambdaError } from '../../core/errors.js';
import { NO_WATERMARK } from '../../core/ohlcv/watermark.js';
import { bindStreamMetrics } from './metrics.js';
import { StreamRuntime } from './runtime.js';
import { DEFAULT_SPEED_OPTIONS, SpeedHandler, type SpeedOptions } from './speed-handler.js';

export interface StreamRunOptions {
  readonly speed?: Partial<SpeedOptions>;
  readonly checkpointIntervalMs?: number;
  readonly checkpointRecords?: number;
  /** Adaptive commit when input is quiet (ms after a caught-up batch); negative = fixed interval only. */
  readonly checkpointLingerMs?: number;
  /** Stop once every owned partition is caught up and quiet for this long (ms). For batch-like runs. */
  readonly exitWhenIdleMs?: number;
  readonly metricsEveryMs?: number;
  readonly onMetrics?: (m: StreamMetricsLine) => void;
  readonly signal?: AbortSignal;
  readonly workerId?: string;
  /** Kafka group session timeout (ms): how soon a dead worker's partitions move to the others. */
  readonly sessionTimeoutMs?: number;
  /** Register the worker's Prometheus metrics here (scraped by `stream --metrics-port`). */
  readonly metrics?: Registry;
  /** Record offsets gone from Kafka as a gap and continue, instead of stopping with DATA_GAP. */
  readonly acceptGap?: boolean;
}

export interface StreamMetricsLine {
  readonly workerId: string;
  readonly partitions: number[];
  readonly records: number;
  readonly eventsPerSec: number;
  readonly lag: number;
  /** Processing time minus the slowest owned partition's price watermark (ms); null before any price. */
  readonly watermarkDelayMs: number | null;
  readonly late: number;
  readonly tooLate: number;
  /** Trades dropped as duplicates (same event id in a window that can still change). */
  readonly duplicateTrades: number;
  readonly userEvents: number;
  /** User events dropped as duplicates (an id already applied). */
  readonly userDuplicates: number;
  /** Late user events put in their (eventTime, eventId) place by re-applying the user's later events. */
  readonly reordered: number;
  /** User events TOO_LATE by the lateness rule (dead-lettered; the batch rejects them too). */
  readonly userTooLate: number;
  /** User events a folded history could not place (dead-lettered UNPLACEABLE, docs/core.md §5b rule 3). */
  readonly unplaceable: number;
  readonly rejected: number;
  readonly invalid: number;
  readonly checkpoints: number;
  /** Offsets this worker found gone from Kafka and recorded as a gap (--accept-gap). */
  readonly lostOffsets: number;
}

export interface StreamSummary extends StreamMetricsLine {
  readonly stoppedBy: 'signal' | 'idle';
  readonly seconds: number;
}

export const streamGroupId = (config: Config): string => `${config.clientId}.${config.topicPrefix}stream`;

export const streamTopics = (h: SpeedHandler): string[] => [h.topics.prices, h.topics.transactions, h.topics.rewards];

const collect = (h: SpeedHandler, rt: StreamRuntime, prevRecords: number, dtMs: number): StreamMetricsLine => {
  let late = 0;
  let tooLate = 0;
  let duplicateTrades = 0;
  let userEvents = 0;
  let userDuplicates = 0;
  let reordered = 0;
  let userTooLate = 0;
  let unplaceable = 0;
  let rejected = 0;
  let invalid = 0;
  let minWm = Number.POSITIVE_INFINITY;
  for (const p of h.engines().values()) {
    late += p.prices.counts.late;
    tooLate += p.prices.counts.tooLate;
    duplicateTrades += p.prices.counts.duplicates;
    userEvents += p.counts.userEvents;
    userDuplicates += p.counts.duplicates;
    reordered += p.counts.reordered;
    userTooLate += p.counts.tooLateUser;
    unplaceable += p.counts.unplaceable;
    rejected += p.counts.rejected;
    invalid += p.counts.invalid;
    const wm = p.prices.watermark();
    if (wm !== NO_WATERMARK && wm < minWm) minWm = wm;
  }
  const m = rt.metrics;
  return {
    workerId: m.workerId,
    partitions: [...m.owned],
    records: m.records,
    eventsPerSec: dtMs > 0 ? Math.round(((m.records - prevRecords) * 1000) / dtMs) : 0,
    lag: Object.values(m.lag).reduce((a, b) => a + b, 0),
    watermarkDelayMs: Number.isFinite(minWm) ? Date.now() - minWm : null,
    late,
    tooLate,
    duplicateTrades,
    userEvents,
    userDuplicates,
    reordered,
    userTooLate,
    unplaceable,
    rejected,
    invalid,
    checkpoints: m.checkpoints,
    lostOffsets: m.lostOffsets,
  };
};

/**
 * Run one speed-layer worker until the signal aborts (SIGINT/SIGTERM: final checkpoint, leave the
 * group) or, with exitWhenIdleMs, until it has caught up and seen nothing new for that long.
 */
export const runStream = async (config: Config, opts: StreamRunOptions = {}): Promise<StreamSummary> => {
  await withAdmin(config, (admin) => ensureTopics(admin, config.topicPrefix));
  const speed = { ...DEFAULT_SPEED_OPTIONS, costMethod: config.costBasis, ...opts.speed };
  const storeRedis = await connectRedis(config, { name: 'cl-stream-store', retry: true });
  const keys = speedKeys(keyspaceFor(config.topicPrefix));
  const unfinished = await storeRedis.get(keys.bootstrapMarker()).catch((err) => {
    storeRedis.disconnect();
    throw err;
  });
  if (unfinished !== null) {
    storeRedis.disconnect();
    throw new CryptolambdaError(
      'CONFLICT',
      `a bootstrap from the batch did not finish (${unfinished}): the speed layer's state is partial`,
      'rerun `cryptolambda stream --bootstrap-from-batch --force` (or `stream --from-beginning` while Kafka still holds the history)',
      { retriable: false },
    );
  }
  // The live feed's two streams are single keys: inside a partition's one-slot commit only on a
  // single Redis (on a Redis Cluster they would cross slots), so a cluster runs without the feed.
  const live = isRedisCluster(config) ? undefined : new LiveFeedWriter(keyspaceFor(config.topicPrefix));
  const handler = new SpeedHandler(config, new RedisSpeedStore(storeRedis, keys, speed), speed, Date.now, live);
  let rtRef: StreamRuntime | undefined;
  const bound = opts.metrics ? bindStreamMetrics(opts.metrics, handler, () => rtRef?.metrics) : undefined;
  const rt = new StreamRuntime(config, handler, {
    groupId: streamGroupId(config),
    topics: streamTopics(handler),
    keyspace: keyspaceFor(config.topicPrefix),
    ...(opts.checkpointIntervalMs === undefined ? {} : { checkpointIntervalMs: opts.checkpointIntervalMs }),
    ...(opts.checkpointRecords === undefined ? {} : { checkpointRecords: opts.checkpointRecords }),
    ...(opts.checkpointLingerMs === undefined ? {} : { checkpointLingerMs: opts.checkpointLingerMs }),
    ...(opts.workerId === undefined ? {} : { workerId: opts.workerId }),
    ...(opts.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: opts.sessionTimeoutMs }),
    ...(bound === undefined ? {} : { onCheckpoint: bound.onCheckpoint }),
    ...(opts.acceptGap ? { acceptGap: true } : {}),
  });
  rtRef = rt;
  const t0 = Date.now();
  await rt.start();
  const statusRedis = await connectRedis(config, { name: 'cl-stream-status', retry: true });
  let prev = 0;
  let prevAt = Date.now();
  let lastChange = Date.now();
  let lastRecords = -1;
  let stoppedBy: StreamSummary['stoppedBy'] = 'signal';
  let line = collect(handler, rt, 0, 0);
  try {
    await new Promise<void>((resolve, reject) => {
      const every = opts.metricsEveryMs ?? 5000;
      let nextMetrics = Date.now() + every;
      const timer = setInterval(() => {
        if (rt.error) {
          clearInterval(timer);
          reject(rt.error);
          return;
        }
        const now = Date.now();
        if (rt.metrics.records !== lastRecords) {
          lastRecords = rt.metrics.records;
          lastChange = now;
        }
        if (now >= nextMetrics) {
          line = collect(handler, rt, prev, now - prevAt);
          prev = rt.metrics.records;
          prevAt = now;
          nextMetrics = now + every;
          opts.onMetrics?.(line);
          void statusRedis
            .hset(keys.streamStatus(), rt.metrics.workerId, JSON.stringify({ ...line, at: now }))
            .catch(() => undefined);
        }
        if (opts.exitWhenIdleMs !== undefined) {
          // Caught up = every owned topic-partition processed to its high watermark (owned eagerly on
          // assignment, so a partition with nothing new counts too, and one that moved away does not).
          const buffered = [...handler.engines().values()].some((p) => p.buffered > 0);
          if (rt.caughtUp() && !buffered && now - lastChange >= opts.exitWhenIdleMs) {
            stoppedBy = 'idle';
            clearInterval(timer);
            resolve();
          }
        }
      }, 200);
      opts.signal?.addEventListener('abort', () => {
        clearInterval(timer);
        resolve();
      });
    });
  } catch (err) {
    // A failed worker (Redis gone, a data gap) leaves the group before the error is reported, so a
    // supervisor sees a non-zero exit and the other workers get its partitions at once.
    await rt.stop().catch(() => undefined);
    statusRedis.disconnect();
    storeRedis.disconnect();
    throw err;
  }
  await rt.stop().catch((err) => {
    statusRedis.disconnect();
    storeRedis.disconnect();
    throw err;
  });
  storeRedis.disconnect();
  line = collect(handler, rt, prev, Date.now() - prevAt);
  await statusRedis
    .hset(keys.streamStatus(), rt.metrics.workerId, JSON.stringify({ ...line, at: Date.now(), stopped: true }))
    .catch(() => undefined);
  statusRedis.disconnect();
  return { ...line, stoppedBy, seconds: (Date.now() - t0) / 1000 };
};

/**
 * --from-beginning: wipe the speed layer's Redis state (and its stored offsets) so the next start
 * rebuilds everything from the start of the Kafka logs. Refused while workers of the group run.
 */
export const resetSpeedLayer = async (config: Config): Promise<number> => {
  await assertNoStreamWorkers(config, 'rebuilding from the beginning');
  const redis = await connectRedis(config);
  try {
    return await deleteKeyspace(redis, keyspaceFor(config.topicPrefix));
  } finally {
    redis.disconnect();
  }
};

/** Refuse while workers of the prefix's stream group run: they would write over a rebuild. */
export const assertNoStreamWorkers = async (config: Config, what: string): Promise<void> => {
  const groupId = streamGroupId(config);
  const members = await withAdmin(config, async (admin) => {
    const d = await admin.describeGroups([groupId]);
    return d.groups[0]?.members.length ?? 0;
  });
  if (members > 0) {
    throw new CryptolambdaError(
      'CONFLICT',
      `${members} stream worker(s) of group ${groupId} are running`,
      `stop them before ${what}`,
    );
  }
};

export const deleteKeyspace = async (redis: RedisConn, keyspace: string): Promise<number> => {
  let deleted = 0;
  await scanKeys(redis, prefixPattern(keyspace), async (keys) => {
    // One UNLINK per key: on a cluster the keys of one batch live in different slots.
    for (const k of keys) deleted += await redis.unlink(k);
  });
  return deleted;
};
