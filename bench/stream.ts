/**
 * Speed-layer throughput and latency against the local broker and Redis. Prints figures; not a test.
 *
 *   npx tsc -p bench/tsconfig.json && node .cryptolambda/bench/bench/stream.js [events] [symbols] [checkpointMs]
 *
 * One run, fresh prefixed topics (deleted afterwards):
 *   1. produce N synthetic price events (event times in the past, a tick every 10 ms per symbol);
 *   2. (a) raw kafkajs eachBatch consume of that topic, no processing: the ceiling for this client;
 *   3. (b) the speed layer (runStream: SpeedHandler, checkpoints into Redis) from start until every
 *      offset is checkpointed in Redis, i.e. the state of all N events is committed;
 *   4. (c) live ticks of one extra symbol at a moderate rate while the worker runs: time from handing
 *      a tick to the producer until Redis's last-price hash shows it (or a later tick of the symbol).
 *
 * BENCH_PROFILE=<file.cpuprofile> writes a CPU profile of phase (b) only (open it in Chrome DevTools).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { encodePrice } from '../src/adapters/avro/codec.js';
import { createKafka } from '../src/adapters/kafka/client.js';
import { BatchingProducer } from '../src/adapters/kafka/producer.js';
import { connectRedis } from '../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../src/adapters/redis/speed-keys.js';
import { deleteKeyspace } from '../src/app/stream/run-stream.js';
import { DEFAULT_CHECKPOINT_INTERVAL_MS } from '../src/app/stream/runtime.js';
import type { PriceEvent } from '../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE } from '../src/core/money/decimal.js';
import { symbolPartition } from '../src/core/partitioning.js';
import { topicName } from '../src/core/topics.js';
import { report } from './report.js';
import {
  BENCH_SYMBOLS,
  benchConfig,
  dropBenchTopics,
  fmt,
  producePriceInput,
  sleep,
  timeStreamToCheckpoint,
} from './speed-run.js';

const N = Number(process.argv[2] ?? 300_000);
const SYMBOLS = BENCH_SYMBOLS.slice(0, Number(process.argv[3] ?? 7));
/** Checkpoint interval under load; without an argument the runtime's default (adaptive) policy runs. */
const CHECKPOINT_MS = process.argv[4] === undefined ? DEFAULT_CHECKPOINT_INTERVAL_MS : Number(process.argv[4]);
const LIVE_RATE = 200; // ticks per second
const LIVE_SECONDS = 10;
const LIVE_SYMBOL = 'LATUSDT';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

const config = await benchConfig();
const pricesTopic = topicName(config.topicPrefix, 'prices');

/** (a) kafkajs eachBatch over the whole topic, doing nothing with the records. */
const rawConsume = async (): Promise<{ totalMs: number; steadyMs: number; firstBatchAt: number }> => {
  const consumer = createKafka(config, { clientIdSuffix: 'bench-raw' }).consumer({
    groupId: `${config.topicPrefix}bench-raw`,
    maxBytesPerPartition: 4 * 1024 * 1024,
    allowAutoTopicCreation: false,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [pricesTopic], fromBeginning: true });
  const t0 = performance.now();
  let first = 0;
  let seen = 0;
  const done = new Promise<number>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (first === 0) first = performance.now();
        seen += batch.messages.length;
        if (seen >= N) resolve(performance.now());
      },
    });
  });
  const end = await done;
  await consumer.disconnect();
  return { totalMs: end - t0, steadyMs: end - first, firstBatchAt: first - t0 };
};

const livePrice = (i: number, eventTime: number): PriceEvent => ({
  kind: 'price',
  eventId: `bench:${LIVE_SYMBOL}:${i}`,
  symbol: LIVE_SYMBOL,
  price: Decimal.fromUnits(1_000_000n + BigInt(i), 4).rescale(PRICE_SCALE),
  quantity: Decimal.fromUnits(10n ** 17n, QTY_SCALE),
  eventTime,
  tradeId: String(i),
  source: 'synthetic',
});

const main = async (): Promise<void> => {
  console.log(
    `node ${process.version}, ${fmt(N)} price events, ${SYMBOLS.length} symbols, checkpoint every ${CHECKPOINT_MS} ms`,
  );
  const redis = await connectRedis(config);
  const ks = keyspaceFor(config.topicPrefix);
  const keys = speedKeys(ks);
  const ac = new AbortController();
  try {
    const produced = await producePriceInput(config, N, SYMBOLS);
    console.log(`produced ${fmt(N)} in ${fmt(produced.durationMs)} ms (${fmt(produced.eventsPerSec)} ev/s)`);

    const raw = await rawConsume();
    const rawRate = (N * 1000) / raw.totalMs;
    const rawSteady = (N * 1000) / raw.steadyMs;

    // (b) the speed layer, in this process, until Redis holds checkpointed offsets for all N events.
    const profile = process.env.BENCH_PROFILE ? new Session() : undefined;
    if (profile) {
      profile.connect();
      await profile.post('Profiler.enable');
      await profile.post('Profiler.start');
    }
    const { t0, firstAt, firstDone, doneAt, stream } = await timeStreamToCheckpoint(config, redis, ks, {
      n: N,
      checkpointMs: CHECKPOINT_MS,
      signal: ac.signal,
    });
    if (profile) {
      const { profile: p } = await profile.post('Profiler.stop');
      writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify(p));
      profile.disconnect();
    }
    const streamRate = (N * 1000) / (doneAt - t0);
    const streamSteady = firstAt < doneAt ? ((N - firstDone) * 1000) / (doneAt - firstAt) : Number.NaN;

    // (c) event-to-Redis latency of live ticks while the worker keeps running.
    const producer = await BatchingProducer.connect(config, { lingerMs: 1 });
    const sentAt: number[] = [];
    const latencies: number[] = [];
    const total = LIVE_RATE * LIVE_SECONDS;
    const base = Date.now();
    let polling = true;
    let seenUpTo = -1;
    const poller = (async () => {
      while (polling) {
        const v = await redis.hget(keys.lastPrice(symbolPartition(LIVE_SYMBOL)), LIVE_SYMBOL);
        const now = performance.now();
        if (v !== null) {
          const i = (JSON.parse(v) as { eventTime: number }).eventTime - base;
          for (let j = seenUpTo + 1; j <= i && j < sentAt.length; j++) latencies.push(now - sentAt[j]!);
          if (i > seenUpTo) seenUpTo = i;
        }
        if (seenUpTo >= total - 1) break;
      }
    })();
    for (let i = 0; i < total; i++) {
      const due = (i * 1000) / LIVE_RATE;
      const wait = base + due - Date.now();
      if (wait > 0) await sleep(wait);
      sentAt[i] = performance.now();
      // Event time = base + i: unique, increasing, and near the wall clock (on time for its windows).
      await producer.push(pricesTopic, [{ key: LIVE_SYMBOL, value: encodePrice(livePrice(i, base + i)) }]);
    }
    await producer.flush();
    const deadline = Date.now() + 10_000;
    while (seenUpTo < total - 1 && Date.now() < deadline) await sleep(10);
    polling = false;
    await poller;
    await producer.disconnect();
    ac.abort();
    const summary = await stream;

    const p50 = pct(latencies, 50);
    const p99 = pct(latencies, 99);
    const rows: [string, string][] = [
      ['raw kafkajs eachBatch consume (from subscribe)', `${fmt(rawRate)} ev/s`],
      ['raw kafkajs eachBatch consume (first batch on)', `${fmt(rawSteady)} ev/s`],
      ['stream: start -> all offsets checkpointed', `${fmt(streamRate)} ev/s`],
      ['stream: first -> last checkpoint', `${fmt(streamSteady)} ev/s`],
      ['stream start-up (start -> first checkpoint)', `${fmt(firstAt - t0)} ms`],
      ['stream / raw (both from start)', `${(streamRate / rawRate).toFixed(2)}`],
      [`event -> Redis latency p50 (${LIVE_RATE}/s live)`, `${p50.toFixed(1)} ms`],
      [`event -> Redis latency p99 (${LIVE_RATE}/s live)`, `${p99.toFixed(1)} ms`],
      ['latency samples', `${latencies.length} of ${total}`],
    ];
    for (const [k, v] of rows) console.log(`${k.padEnd(48)} ${v.padStart(14)}`);
    const json = {
      bench: 'stream',
      events: N,
      symbols: SYMBOLS.length,
      checkpointMs: CHECKPOINT_MS,
      rawConsumePerSec: Math.round(rawRate),
      rawConsumeSteadyPerSec: Math.round(rawSteady),
      streamPerSec: Math.round(streamRate),
      streamSteadyPerSec: Math.round(streamSteady),
      streamStartupMs: Math.round(firstAt - t0),
      ratio: Number((streamRate / rawRate).toFixed(3)),
      latencyP50Ms: Number(p50.toFixed(1)),
      latencyP99Ms: Number(p99.toFixed(1)),
      latencySamples: latencies.length,
      streamRecords: summary.records,
    };
    console.log(JSON.stringify(json));
    report('stream', 'raw kafkajs eachBatch consume', rawRate, 'ev/s', `${SYMBOLS.length} symbols`);
    report('stream', 'price events through the speed layer', streamRate, 'ev/s', 'start to all offsets checkpointed');
    report('stream', 'event-to-Redis latency p50', p50, 'ms', `checkpoint ${CHECKPOINT_MS} ms`);
    report('stream', 'event-to-Redis latency p99', p99, 'ms', `checkpoint ${CHECKPOINT_MS} ms`);
  } finally {
    ac.abort();
    await deleteKeyspace(redis, ks);
    redis.disconnect();
    await dropBenchTopics(config);
  }
};

await main();
