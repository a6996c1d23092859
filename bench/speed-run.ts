/**
 * What the speed-layer benches share (bench/stream.ts, bench/peer.ts): throw-away topics under a
 * fresh prefix, the synthetic price input, and the measurement of `stream` from start until every
 * input offset is checkpointed in RedisConn (i.e. the state of all N events is committed).
 */

import { randomUUID } from 'node:crypto';
import { ensureTopics, withAdmin } from '../src/adapters/kafka/client.js';
import type { RedisConn } from '../src/adapters/redis/client.js';
import { speedKeys } from '../src/adapters/redis/speed-keys.js';
import { runProducePrices } from '../src/app/produce/prices.js';
import { runStream, type StreamSummary } from '../src/app/stream/run-stream.js';
import { type Config, resolveConfig } from '../src/config/config.js';
import { SPEED_PARTITIONS } from '../src/core/partitioning.js';
import { topicName } from '../src/core/topics.js';

export const BENCH_SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT', 'ADAUSDT', 'DOGEUSDT'] as const;
/** Event time of the first synthetic tick. */
export const BENCH_START = Date.UTC(2025, 0, 1);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** A config whose topics and RedisConn keyspace belong to this run only; the topics are created. */
export const benchConfig = async (): Promise<Config> => {
  const config = resolveConfig(
    { topicPrefix: `bench${randomUUID().slice(0, 8)}.` },
    { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: '' },
  );
  await withAdmin(config, (admin) => ensureTopics(admin, config.topicPrefix));
  return config;
};

/** Delete every topic of the run (including a peer's internal topics, which share the prefix). */
export const dropBenchTopics = (config: Config): Promise<void> =>
  withAdmin(config, async (admin) => {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(config.topicPrefix));
    if (mine.length) await admin.deleteTopics({ topics: mine });
  });

/** N synthetic prices (seed 7, a tick every 10 ms per symbol from BENCH_START) on the run's raw.prices. */
export const producePriceInput = async (
  config: Config,
  n: number,
  symbols: readonly string[],
): Promise<{ durationMs: number; eventsPerSec: number }> => {
  const produced = await runProducePrices(config, {
    source: 'synthetic',
    symbols,
    seed: 7n,
    startTime: BENCH_START,
    stepMs: 10,
    rate: 0,
    count: n,
  });
  if (produced.acked !== n) throw new Error(`acked ${produced.acked} of ${n}`);
  return { durationMs: produced.durationMs, eventsPerSec: produced.eventsPerSec };
};

export interface StreamTiming {
  /** performance.now() at the runStream call, the first checkpoint seen, and all N checkpointed. */
  readonly t0: number;
  readonly firstAt: number;
  readonly firstDone: number;
  readonly doneAt: number;
  /** The running worker: abort the signal passed in to stop it, then await this. */
  readonly stream: Promise<StreamSummary>;
}

/**
 * Start one speed-layer worker in this process and wait until RedisConn holds checkpointed offsets on
 * the run's raw.prices for all `n` events (polled every 5 ms). The worker keeps running.
 */
export const timeStreamToCheckpoint = async (
  config: Config,
  redis: RedisConn,
  keyspace: string,
  o: { n: number; checkpointMs: number; signal: AbortSignal },
): Promise<StreamTiming> => {
  const pricesTopic = topicName(config.topicPrefix, 'prices');
  const keys = speedKeys(keyspace);
  // One offsets hash per partition (hash tag).
  const offsetsDone = async () =>
    (await Promise.all(SPEED_PARTITIONS.map((n) => redis.hgetall(keys.offsets(n)))))
      .flatMap((h) => Object.entries(h))
      .filter(([f]) => f.startsWith(`${pricesTopic}|`))
      .reduce((a, [, v]) => a + Number(v), 0);
  const t0 = performance.now();
  const stream = runStream(config, { checkpointIntervalMs: o.checkpointMs, metricsEveryMs: 60_000, signal: o.signal });
  // A worker that fails must end the wait with its error, not leave it polling for ten minutes.
  let failed: unknown;
  stream.catch((e: unknown) => {
    failed = e ?? new Error('stream failed');
  });
  let firstAt = 0;
  let firstDone = 0;
  for (;;) {
    if (failed !== undefined) throw failed;
    const done = await offsetsDone();
    const now = performance.now();
    if (done > 0 && firstAt === 0) {
      firstAt = now;
      firstDone = done;
    }
    if (done >= o.n) return { t0, firstAt, firstDone, doneAt: now, stream };
    if (now - t0 > 600_000) throw new Error(`stream checkpointed ${done} of ${o.n} in 10 minutes`);
    await sleep(5);
  }
};
