/**
 * Speed-layer user-event throughput, scaling, workers, memory and latency against the local broker
 * and Redis. Prints figures; not a test.
 *
 *   npx tsc -p bench/tsconfig.json && node .cryptolambda/bench/bench/stream-users.js [events] [users] [prices]
 *
 * Input: a Zipf(1) population of `users` users (default 100k) in which one heavy user holds 10% of
 * the events; buys (85%), card spend (10%) and deposits (5%) in event-time order over one day.
 * Every worker is a real `cryptolambda stream --exit-when-idle` process at its default settings.
 * STREAM_USERS_SCALE_ONLY=1 runs 1. and 2. only; STREAM_USERS_TWO_ONLY=1 runs 3. only;
 * STREAM_USERS_MIXED_ONLY=1 runs 4. and 5. only. STREAM_NODE_ARGS passes node flags to the workers
 * (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`: NODE_OPTIONS refuses --cpu-prof); STREAM_WORKER_ARGS passes
 * `stream` flags (e.g. `--checkpoint-interval 1s`) to compare settings against the defaults.
 *   1. one worker, events/10 and events user events: events/s from start to all offsets
 *      checkpointed with no event left in a merge buffer (all applied), and the ratio between the two sizes (flat = per-event cost does not grow);
 *   2. peak RSS of that worker holding every user (VmHWM of the process);
 *   3. two workers in one group on the large input: aggregate events/s and ratio to one worker;
 *   4. a mixed run: `prices` price events plus events/10 user events;
 *   5. latency at the defaults with a worker running: live user events (until `pos:<user>` shows
 *      them) and live price ticks (until `price:last` shows them), 50/s each for 10 s.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePrice, encodeTransaction } from '../src/adapters/avro/codec.js';
import { ensureTopics, withAdmin } from '../src/adapters/kafka/client.js';
import { BatchingProducer } from '../src/adapters/kafka/producer.js';
import { connectRedis, type RedisConn } from '../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../src/adapters/redis/speed-keys.js';
import { deleteKeyspace } from '../src/app/stream/run-stream.js';
import { type Config, resolveConfig } from '../src/config/config.js';
import type { PriceEvent, TransactionEvent } from '../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE } from '../src/core/money/decimal.js';
import { SPEED_PARTITIONS, symbolPartition } from '../src/core/partitioning.js';
import { topicName } from '../src/core/topics.js';
import { report } from './report.js';
import { makeUserEvents, START } from './user-population.js';

const N = Number(process.argv[2] ?? 1_000_000);
const USERS = Number(process.argv[3] ?? 100_000);
const PRICES = Number(process.argv[4] ?? 300_000);
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/run.js');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

const freshConfig = (): Config =>
  resolveConfig(
    { topicPrefix: `benchu${randomUUID().slice(0, 6)}.` },
    { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: '' },
  );

const q = (units: bigint) => Decimal.fromUnits(units, QTY_SCALE);
const usd = (s: string) => Decimal.parse(s, PRICE_SCALE);

const produceUsers = async (config: Config, count: number, seed: number): Promise<number> => {
  const producer = await BatchingProducer.connect(config, { lingerMs: 5 });
  const topic = topicName(config.topicPrefix, 'transactions');
  const t0 = performance.now();
  let batch: { key: string; value: Buffer }[] = [];
  for (const e of makeUserEvents(count, USERS, seed)()) {
    batch.push({ key: e.userId, value: encodeTransaction(e) });
    if (batch.length === 5000) {
      await producer.push(topic, batch);
      batch = [];
    }
  }
  await producer.push(topic, batch);
  await producer.flush();
  await producer.disconnect();
  return (count * 1000) / (performance.now() - t0);
};

const producePrices = async (config: Config, count: number): Promise<void> => {
  const producer = await BatchingProducer.connect(config, { lingerMs: 5 });
  const topic = topicName(config.topicPrefix, 'prices');
  const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT', 'ADAUSDT', 'DOGEUSDT'];
  let batch: { key: string; value: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    const symbol = symbols[i % symbols.length]!;
    const p: PriceEvent = {
      kind: 'price',
      eventId: `bp:${i}`,
      symbol,
      price: Decimal.fromUnits(1_000_000n + BigInt(i % 997), 4).rescale(PRICE_SCALE),
      quantity: q(10n ** 17n),
      eventTime: START + i * 10,
      tradeId: String(i),
      source: 'synthetic',
    };
    batch.push({ key: symbol, value: encodePrice(p) });
    if (batch.length === 5000) {
      await producer.push(topic, batch);
      batch = [];
    }
  }
  await producer.push(topic, batch);
  await producer.flush();
  await producer.disconnect();
};

const storedOffsetsTotal = async (redis: RedisConn, config: Config): Promise<number> => {
  const k = speedKeys(keyspaceFor(config.topicPrefix));
  const hashes = await Promise.all(SPEED_PARTITIONS.map((n) => redis.hgetall(k.offsets(n))));
  return hashes.flatMap((h) => Object.values(h)).reduce((a, v) => a + Number(v), 0);
};

interface Worker {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  kill(): void;
}

const startWorker = (config: Config, extra: string[] = []): Worker => {
  // As the installed `cryptolambda` runs (its shebang's V8 flag, docs/runbook.md); STREAM_SEMI_MB=0 for V8's default.
  const semi = process.env.STREAM_SEMI_MB ?? '64';
  const v8 = semi === '0' ? [] : [`--max-semi-space-size=${semi}`];
  const child = spawn(
    process.execPath,
    [
      ...(process.env.STREAM_NODE_ARGS ?? '').split(' ').filter(Boolean),
      ...v8,
      BIN,
      'stream',
      '--metrics-every',
      '60',
      ...(process.env.STREAM_WORKER_ARGS ?? '').split(' ').filter(Boolean),
      ...extra,
    ],
    {
      env: { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix, NO_COLOR: '1' },
      stdio: ['ignore', process.env.STREAM_NODE_ARGS ? 'inherit' : 'ignore', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    pid: child.pid!,
    exited,
    // Everything measured is checkpointed already: a worker that does not stop within 10 s is killed.
    kill: () => {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      void exited.then(() => clearTimeout(t));
    },
  };
};

/** Peak resident set of a running process (kB -> MiB), from /proc. */
const peakRssMiB = (pid: number): number => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
};

/** CPU seconds (user + system) a running process has used, from /proc (NaN once it is gone). */
const cpuSeconds = (pid: number): number => {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
};

/** Workers from start until Redis holds checkpointed offsets for `total` records; events/s and peak RSS. */
/**
 * Events still in the partitions' merge buffers as the last checkpoints stored them: offsets can be
 * all checkpointed while events wait there for the users' watermark (durable, not yet applied).
 */
const bufferedTotal = async (redis: RedisConn, config: Config): Promise<number> => {
  const k = speedKeys(keyspaceFor(config.topicPrefix));
  const lens = await Promise.all(SPEED_PARTITIONS.map((n) => redis.hlen(k.partitionBuffer(n))));
  return lens.reduce((a, v) => a + v, 0);
};

const timeWorkers = async (config: Config, redis: RedisConn, total: number, workers: number) => {
  const t0 = performance.now();
  const ws = Array.from({ length: workers }, () => startWorker(config));
  let rss = 0;
  try {
    for (;;) {
      for (const w of ws) rss = Math.max(rss, peakRssMiB(w.pid));
      // Done when every offset is checkpointed AND no event waits in a merge buffer: every event
      // applied and committed. (Offsets alone ended a short run while its events were still buffered,
      // waiting for the idle reward topic's release: 36k events/s for a run that had applied none.)
      const done = await storedOffsetsTotal(redis, config);
      if (done >= total && (await bufferedTotal(redis, config)) === 0) break;
      if (performance.now() - t0 > 900_000) throw new Error(`checkpointed ${done} of ${total} in 15 minutes`);
      await sleep(50);
    }
    const seconds = (performance.now() - t0) / 1000;
    for (const w of ws) rss = Math.max(rss, peakRssMiB(w.pid));
    // The machine may be shared: events per CPU-second of the workers is the load-independent figure.
    const cpu = ws.reduce((a, w) => a + cpuSeconds(w.pid), 0);
    // Every acquire of a partition bumps its fencing epoch: more than one per partition and worker
    // start means rebalances moved partitions (and their users' state was loaded again).
    const keys = speedKeys(keyspaceFor(config.topicPrefix));
    let acquisitions = 0;
    for (const n of SPEED_PARTITIONS) acquisitions += Number((await redis.get(keys.epoch(n))) ?? 0);
    return { perSec: total / seconds, seconds, rssMiB: rss, perCpuSec: total / cpu, cpuSec: cpu, acquisitions };
  } finally {
    for (const w of ws) w.kill();
    await Promise.all(ws.map((w) => w.exited));
  }
};

const withRun = async <T>(fn: (config: Config, redis: RedisConn) => Promise<T>): Promise<T> => {
  const config = freshConfig();
  await withAdmin(config, (admin) => ensureTopics(admin, config.topicPrefix));
  const redis = await connectRedis(config);
  try {
    return await fn(config, redis);
  } finally {
    await deleteKeyspace(redis, keyspaceFor(config.topicPrefix));
    redis.disconnect();
    await withAdmin(config, async (admin) => {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(config.topicPrefix));
      if (mine.length) await admin.deleteTopics({ topics: mine });
    });
  }
};

/** Live events at `rate`/s for `seconds` while one worker runs: event-to-Redis latency in ms. */
const latency = async (rate: number, seconds: number) =>
  withRun(async (config, redis) => {
    const w = startWorker(config);
    const k = speedKeys(keyspaceFor(config.topicPrefix));
    try {
      // Wait until the worker owns its partitions (a first event is visible).
      const producer = await BatchingProducer.connect(config, { lingerMs: 0 });
      const txTopic = topicName(config.topicPrefix, 'transactions');
      const pTopic = topicName(config.topicPrefix, 'prices');
      const user = 'latency-user';
      const symbol = 'LATUSDT';
      const base = Date.now();
      const userEvent = (i: number): TransactionEvent => ({
        kind: 'transaction',
        eventId: `lat-${i}`,
        userId: user,
        type: 'buy',
        asset: 'BTC',
        quantity: q(10n ** 18n),
        price: usd('43000'),
        fee: Decimal.zero(QTY_SCALE),
        feeAsset: 'USD',
        eventTime: base + i,
      });
      const tick = (i: number): PriceEvent => ({
        kind: 'price',
        eventId: `lat:${i}`,
        symbol,
        price: usd('100'),
        quantity: q(10n ** 17n),
        eventTime: base + i,
        tradeId: String(i),
        source: 'synthetic',
      });
      // Warm-up: one of each, then wait for the worker to show them.
      await producer.push(txTopic, [{ key: user, value: encodeTransaction(userEvent(0)) }]);
      await producer.push(pTopic, [{ key: symbol, value: encodePrice(tick(0)) }]);
      await producer.flush();
      const shown = async (): Promise<{ user: number; price: number }> => {
        const [pos, last] = await Promise.all([
          redis.hget(k.positions(user), 'BTC'),
          redis.hget(k.lastPrice(symbolPartition(symbol)), symbol),
        ]);
        const qty = pos === null ? 0 : Number((JSON.parse(pos) as { quantity: string }).quantity.split('.')[0]);
        const t = last === null ? -1 : (JSON.parse(last) as { eventTime: number }).eventTime - base;
        return { user: qty - 1, price: t };
      };
      const warm = Date.now() + 60_000;
      for (;;) {
        const s = await shown();
        if (s.user >= 0 && s.price >= 0) break;
        if (Date.now() > warm) throw new Error('latency: the worker did not start within 60 s');
        await sleep(20);
      }
      const total = rate * seconds;
      const sentAt: number[] = [];
      const userLat: number[] = [];
      const priceLat: number[] = [];
      let seenUser = 0;
      let seenPrice = 0;
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const s = await shown();
          const now = performance.now();
          for (let j = seenUser + 1; j <= s.user && j < sentAt.length; j++) userLat.push(now - sentAt[j]!);
          for (let j = seenPrice + 1; j <= s.price && j < sentAt.length; j++) priceLat.push(now - sentAt[j]!);
          seenUser = Math.max(seenUser, s.user);
          seenPrice = Math.max(seenPrice, s.price);
          if (seenUser >= total && seenPrice >= total) break;
        }
      })();
      const t0 = Date.now();
      for (let i = 1; i <= total; i++) {
        const wait = t0 + (i * 1000) / rate - Date.now();
        if (wait > 0) await sleep(wait);
        sentAt[i] = performance.now();
        await producer.push(txTopic, [{ key: user, value: encodeTransaction(userEvent(i)) }]);
        await producer.push(pTopic, [{ key: symbol, value: encodePrice(tick(i)) }]);
        await producer.flush();
      }
      const deadline = Date.now() + 15_000;
      while ((seenUser < total || seenPrice < total) && Date.now() < deadline) await sleep(10);
      polling = false;
      await poller;
      await producer.disconnect();
      return { userLat, priceLat, total };
    } finally {
      w.kill();
      await w.exited;
    }
  });

/** 3. Two workers in one group on the large input (with the partition acquisitions it took). */
const twoWorkers = async () => {
  const two = await withRun(async (config, redis) => {
    await produceUsers(config, N, 3);
    return timeWorkers(config, redis, N, 2);
  });
  console.log(
    `2 workers, ${fmt(N)} user events: ${fmt(two.perSec)} ev/s aggregate (${two.seconds.toFixed(1)} s), ` +
      `${two.acquisitions} partition acquisitions`,
  );
  return two;
};

/** 4.: `prices` price events plus `users` user events through one worker. */
const mixedRun = (users: number) =>
  withRun(async (config, redis) => {
    await producePrices(config, PRICES);
    await produceUsers(config, users, 4);
    return timeWorkers(config, redis, PRICES + users, 1);
  });

const latencyLine = (lat: { userLat: number[]; priceLat: number[]; total: number }): string =>
  `latency at the defaults: user event -> pos:<user> p50 ${pct(lat.userLat, 50).toFixed(1)} ms, ` +
  `p99 ${pct(lat.userLat, 99).toFixed(1)} ms; price tick -> price:last p50 ${pct(lat.priceLat, 50).toFixed(1)} ms, ` +
  `p99 ${pct(lat.priceLat, 99).toFixed(1)} ms (${lat.userLat.length} / ${lat.priceLat.length} of ${lat.total} samples)`;

const main = async (): Promise<void> => {
  console.log(`node ${process.version}; ${fmt(N)} user events over ${fmt(USERS)} Zipf users, heavy user 10%`);
  const small = Math.round(N / 10);
  if (process.env.STREAM_USERS_MIXED_ONLY === '1') {
    // 4. and 5. alone: the mixed run and the latencies at the defaults.
    const mixed = await mixedRun(small);
    const lat = await latency(50, 10);
    console.log(
      `mixed ${fmt(PRICES)} prices + ${fmt(small)} user events, 1 worker: ${fmt(mixed.perSec)} ev/s, ${fmt(mixed.perCpuSec)} per CPU-second`,
    );
    console.log(latencyLine(lat));
    return;
  }
  if (process.env.STREAM_USERS_TWO_ONLY === '1') {
    // 3. alone (two workers in one group on the large input): for checking scale-out and rebalances.
    await twoWorkers();
    return;
  }
  const one = await withRun(async (config, redis) => {
    const prod = await produceUsers(config, small, 1);
    console.log(`produced ${fmt(small)} user events (${fmt(prod)} ev/s)`);
    return timeWorkers(config, redis, small, 1);
  });
  console.log(
    `1 worker, ${fmt(small)} user events: ${fmt(one.perSec)} ev/s (${one.seconds.toFixed(1)} s), ` +
      `${fmt(one.perCpuSec)} per CPU-second (${one.cpuSec.toFixed(1)} s CPU), peak RSS ${one.rssMiB.toFixed(0)} MiB`,
  );
  const big = await withRun(async (config, redis) => {
    const prod = await produceUsers(config, N, 2);
    console.log(`produced ${fmt(N)} user events (${fmt(prod)} ev/s)`);
    const r1 = await timeWorkers(config, redis, N, 1);
    console.log(
      `1 worker, ${fmt(N)} user events: ${fmt(r1.perSec)} ev/s (${r1.seconds.toFixed(1)} s), ` +
        `${fmt(r1.perCpuSec)} per CPU-second (${r1.cpuSec.toFixed(1)} s CPU), peak RSS ${r1.rssMiB.toFixed(0)} MiB`,
    );
    return r1;
  });
  if (process.env.STREAM_USERS_SCALE_ONLY === '1') {
    // The scaling and memory figures alone (1. and 2. above): for profiling runs.
    console.log(
      `ratio (10x events) large / small rate: ${(big.perSec / one.perSec).toFixed(2)} wall, ` +
        `${(big.perCpuSec / one.perCpuSec).toFixed(2)} per CPU-second`,
    );
    return;
  }
  const two = await twoWorkers();
  const mixed = await mixedRun(small);
  console.log(`mixed ${fmt(PRICES)} prices + ${fmt(small)} user events, 1 worker: ${fmt(mixed.perSec)} ev/s`);
  const lat = await latency(50, 10);
  const rows: [string, string][] = [
    [`user events/s, 1 worker, ${fmt(small)} events`, fmt(one.perSec)],
    [`user events/s, 1 worker, ${fmt(N)} events`, fmt(big.perSec)],
    ['ratio (10x events) large / small rate', (big.perSec / one.perSec).toFixed(2)],
    [`peak RSS, 1 worker holding ${fmt(USERS)} users`, `${big.rssMiB.toFixed(0)} MiB`],
    [`user events/s, 2 workers aggregate, ${fmt(N)}`, fmt(two.perSec)],
    ['2 workers / 1 worker', (two.perSec / big.perSec).toFixed(2)],
    [`mixed events/s (${fmt(PRICES)} prices + ${fmt(small)} users)`, fmt(mixed.perSec)],
    [
      'user event -> pos:<user> p50 / p99',
      `${pct(lat.userLat, 50).toFixed(1)} / ${pct(lat.userLat, 99).toFixed(1)} ms`,
    ],
    [
      'price tick -> price:last p50 / p99',
      `${pct(lat.priceLat, 50).toFixed(1)} / ${pct(lat.priceLat, 99).toFixed(1)} ms`,
    ],
    ['latency samples user / price', `${lat.userLat.length} / ${lat.priceLat.length} of ${lat.total}`],
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(50)} ${v.padStart(18)}`);
  const note = `${fmt(USERS)} Zipf users, heavy 10%`;
  report('stream-users', `user events, 1 worker, ${fmt(small)}`, one.perSec, 'ev/s', note);
  report('stream-users', `user events, 1 worker, ${fmt(N)}`, big.perSec, 'ev/s', note);
  report('stream-users', 'ratio 10x events (rate large/small)', big.perSec / one.perSec, '', 'flat = constant cost');
  report('stream-users', `user events per CPU-second, 1 worker, ${fmt(N)}`, big.perCpuSec, 'ev/s', note);
  report('stream-users', `peak RSS, 1 worker, ${fmt(USERS)} users`, big.rssMiB, 'MiB', 'VmHWM');
  report(
    'stream-users',
    `user events, 2 workers, ${fmt(N)}`,
    two.perSec,
    'ev/s',
    `x${(two.perSec / big.perSec).toFixed(2)} of 1 worker`,
  );
  report(
    'stream-users',
    'mixed prices + user events, 1 worker',
    mixed.perSec,
    'ev/s',
    `${fmt(PRICES)} + ${fmt(small)}`,
  );
  report('stream-users', 'user event -> pos:<user> p50', pct(lat.userLat, 50), 'ms', 'defaults, 50/s live');
  report('stream-users', 'user event -> pos:<user> p99', pct(lat.userLat, 99), 'ms', 'defaults, 50/s live');
  report('stream-users', 'price tick -> price:last p50', pct(lat.priceLat, 50), 'ms', 'defaults, 50/s live');
  report('stream-users', 'price tick -> price:last p99', pct(lat.priceLat, 99), 'ms', 'defaults, 50/s live');
};

await main();
