/**
 * A peer side by side: cryptolambda's `stream` and the same 1m/5m OHLCV job written with Kafka
 * Streams (bench/peers/kafka-streams-ohlcv, built here with Maven), one after the other on the same
 * broker and the same Avro topic, at several input sizes. Prints figures; not a test.
 *
 *   npm run bench                                  (part of the whole run; --skip peer leaves it out)
 *   npm run bench:peer                             (alone: scripts/bench.sh --only peer)
 *   BENCH_PEER_SIZES=30000,300000 npm run bench:peer   (sizes; default 30000,300000,3000000)
 *
 * Per size, on fresh topics (deleted afterwards):
 *   0. first a correctness-only case of out-of-order and late trades (produceLateInput);
 *   1. produce N synthetic prices (bench/speed-run.ts, the input bench/stream.ts uses);
 *   2. `stream` in this process, from start until every offset is checkpointed in RedisConn;
 *   3. the Kafka Streams peer (one stream thread, exactly_once_v2, in-memory window stores with
 *      changelogs, commit interval = our checkpoint interval) from KafkaStreams.start() until its
 *      committed offsets cover all N; the JVM's own start-up is reported apart;
 *   4. correctness: every candle the speed layer holds in RedisConn is compared field by field with the
 *      peer's last output for that window, and (up to MAX_REFERENCE events) both with candles built
 *      by src/core/ohlcv from the same synthetic input. A peer that computes something else is not a
 *      fair comparison: any difference fails the bench (exit 1).
 *
 * Env: BENCH_PEER_SIZES, BENCH_CHECKPOINT_MS (500), BENCH_PEER_GUARANTEE (exactly_once_v2 | at_least_once),
 * BENCH_PEER_STORE (memory | rocksdb), BENCH_PEER_GRACE_MS (35000; see GRACE_MS).
 * Exit 75 = skipped (no Java, or Maven could not build the peer).
 */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { encodePrice } from '../src/adapters/avro/codec.js';
import { createKafka, javaClientProperties, withAdmin } from '../src/adapters/kafka/client.js';
import { BatchingProducer } from '../src/adapters/kafka/producer.js';
import { connectRedis, type RedisConn } from '../src/adapters/redis/client.js';
import { CANDLE_INTERVALS, type CandleJson, keyspaceFor, speedKeys } from '../src/adapters/redis/speed-keys.js';
import { deleteKeyspace } from '../src/app/stream/run-stream.js';
import type { Config } from '../src/config/config.js';
import type { PriceEvent } from '../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE } from '../src/core/money/decimal.js';
import { addTrade, type Candle, INTERVALS_MS, windowStart } from '../src/core/ohlcv/candle.js';
import { SPEED_PARTITIONS } from '../src/core/partitioning.js';
import { Prng } from '../src/core/simulate/prng.js';
import { SyntheticPrices } from '../src/core/sources/synthetic.js';
import { type CandleFieldsJson, candleToJson } from '../src/core/speed/price-windows.js';
import { topicName } from '../src/core/topics.js';
import { packagePath } from '../src/paths.js';
import { report, SKIPPED_EXIT } from './report.js';
import {
  BENCH_START,
  BENCH_SYMBOLS,
  benchConfig,
  dropBenchTopics,
  fmt,
  producePriceInput,
  sleep,
  timeStreamToCheckpoint,
} from './speed-run.js';

const SIZES = (
  process.argv.length > 2 ? process.argv.slice(2) : (process.env.BENCH_PEER_SIZES ?? '30000,300000,3000000').split(',')
).map(Number);
const CHECKPOINT_MS = Number(process.env.BENCH_CHECKPOINT_MS ?? 500);
const GUARANTEE = process.env.BENCH_PEER_GUARANTEE ?? 'exactly_once_v2';
const STORE = process.env.BENCH_PEER_STORE ?? 'memory';
/**
 * Kafka Streams drops a record once stream time >= window end + grace; the speed layer once
 * (max event time - 5 s out-of-orderness) >= window end + 30 s allowed lateness: grace 35 s is the
 * same rule. Another value (e.g. 30000) makes the out-of-order case differ: the check can fail.
 */
const GRACE_MS = Number(process.env.BENCH_PEER_GRACE_MS ?? 35_000);
/** Above this many events the core reference (one bigint candle merge per trade and interval) is skipped. */
const MAX_REFERENCE = 300_000;
const SYMBOLS = BENCH_SYMBOLS;
const PEER_DIR = packagePath('bench', 'peers', 'kafka-streams-ohlcv');
const FIELDS = ['end', 'open', 'high', 'low', 'close', 'volume', 'quoteVolume', 'trades', 'vwap'] as const;

type Fields = CandleFieldsJson & { symbol: string; interval: string };
const windowKey = (symbol: string, interval: string, start: number) => `${symbol}|${interval}|${start}`;

/**
 * mvn offline first (no network once the jars are in ~/.m2), then online once for a cold cache.
 * Returns the class path, or why the peer cannot be built.
 */
const buildPeer = (): { classpath: string; kafkaVersion: string } | { skip: string } => {
  if (spawnSync('java', ['-version'], { stdio: 'ignore' }).status !== 0) return { skip: 'java not found on PATH' };
  // The broker's Kafka version, pinned once in stack/kafka-pom.xml: kafka-streams follows it.
  const kafkaVersion = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(
    readFileSync(packagePath('stack', 'kafka-pom.xml'), 'utf8'),
  )?.[1];
  if (!kafkaVersion) return { skip: 'no <kafka.version> in stack/kafka-pom.xml' };
  let why = '';
  for (const args of [
    ['-o', '-q', '-B', `-Dkafka.version=${kafkaVersion}`, 'package'],
    ['-q', '-B', `-Dkafka.version=${kafkaVersion}`, 'package'],
  ]) {
    const r = spawnSync('mvn', args, { cwd: PEER_DIR, encoding: 'utf8' });
    if (r.error) return { skip: `mvn: ${r.error.message}` };
    if (r.status === 0) {
      const t = path.join(PEER_DIR, 'target');
      // The jars of exactly this build (Maven's build-classpath), so a version bump leaves no stale jar.
      const jars = readFileSync(path.join(t, 'classpath.txt'), 'utf8').trim();
      return { classpath: [path.join(t, 'classes'), jars].join(path.delimiter), kafkaVersion };
    }
    why = `${r.stdout}${r.stderr}`.trim().split('\n').slice(-3).join(' | ');
  }
  return { skip: `mvn package failed in ${PEER_DIR}: ${why}` };
};

interface PeerTiming {
  /** Epoch ms: JVM spawned, KafkaStreams.start() called, state RUNNING, committed offsets cover n. */
  spawnedAt: number;
  startedAt: number;
  runningAt: number;
  doneAt: number;
  /** CPU seconds of the JVM (all threads) from start() and from launch until all committed. */
  cpuFromStart: number;
  cpuTotal: number;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** User + system CPU seconds of a process so far (Linux /proc; NaN elsewhere). */
const cpuSeconds = (pid: number | undefined): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
};

/** Sum of a consumer group's committed offsets on `topic` (partitions without a commit count 0). */
const committed = async (admin: ReturnType<ReturnType<typeof createKafka>['admin']>, group: string, topic: string) =>
  (await admin.fetchOffsets({ groupId: group, topics: [topic] }))
    .flatMap((t) => t.partitions)
    .reduce((a, p) => a + Math.max(0, Number(p.offset)), 0);

const stopChild = async (child: ChildProcess): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(t);
};

/** Run the peer until its group has committed all `n` input offsets; it is stopped before returning. */
const runPeer = async (config: Config, classpath: string, n: number, output: string): Promise<PeerTiming> => {
  const input = topicName(config.topicPrefix, 'prices');
  const appId = `${config.topicPrefix}peer-ohlcv`;
  const stateDir = mkdtempSync(path.join(tmpdir(), 'cl-peer-'));
  // The same connection (the stack's SCRAM user, or the configured SASL/TLS) for the JVM: a
  // 0600 file in a private (0700) temp dir of its own, removed after the run.
  const secretDir = mkdtempSync(path.join(tmpdir(), 'cl-peer-conf-'));
  const clientConfig = path.join(secretDir, 'client.properties');
  writeFileSync(clientConfig, javaClientProperties(config), { mode: 0o600 });
  const admin = createKafka(config, { clientIdSuffix: 'bench-peer' }).admin();
  await admin.connect();
  const spawnedAt = Date.now();
  const child = spawn(
    'java',
    [
      '-Xmx2g',
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      // One line per too-late record in the out-of-order case, and a 4.x nag about a config of
      // global stores (there are none): not worth the noise.
      '-Dorg.slf4j.simpleLogger.log.org.apache.kafka.streams.kstream.internals.KStreamWindowAggregate=error',
      '-Dorg.slf4j.simpleLogger.log.org.apache.kafka.streams.StreamsConfig=error',
      '-cp',
      classpath,
      'dev.cryptolambda.peer.Main',
      'job=ohlcv',
      `bootstrap=${config.kafkaBrokers.join(',')}`,
      `client-config=${clientConfig}`,
      `app=${appId}`,
      `input=${input}`,
      `output=${output}`,
      `schemas=${packagePath('schemas')}`,
      `state-dir=${stateDir}`,
      `guarantee=${GUARANTEE}`,
      `store=${STORE}`,
      `commit-ms=${CHECKPOINT_MS}`,
      `grace-ms=${GRACE_MS}`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let startedAt = 0;
  let startedCpu = 0;
  let runningAt = 0;
  let exit: string | undefined;
  child.once('exit', (code, signal) => {
    exit = `peer exited (${code ?? signal}) before processing its input`;
  });
  createInterface({ input: child.stdout! }).on('line', (l) => {
    const [, what, at] = /^peer (started|running) (\d+)$/.exec(l) ?? [];
    if (what === 'started') {
      startedAt = Number(at);
      startedCpu = cpuSeconds(child.pid);
    } else if (what === 'running') runningAt = Number(at);
    else process.stdout.write(`peer: ${l}\n`);
  });
  try {
    for (;;) {
      if (exit) throw new Error(exit);
      const done = await committed(admin, appId, input);
      if (done >= n) {
        const doneAt = Date.now();
        const cpuTotal = cpuSeconds(child.pid);
        return { spawnedAt, startedAt, runningAt, doneAt, cpuTotal, cpuFromStart: cpuTotal - startedCpu };
      }
      if (Date.now() - spawnedAt > 900_000) throw new Error(`peer committed ${done} of ${n} in 15 minutes`);
      await sleep(10);
    }
  } finally {
    await stopChild(child);
    await admin.disconnect();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(secretDir, { recursive: true, force: true });
  }
};

/**
 * The peer's output topic read to its end with read_committed (the default): the last value of every
 * window. The peer has stopped, so the topic is complete once nothing arrives for a while.
 */
const readPeerCandles = async (config: Config, topic: string): Promise<Map<string, Fields>> => {
  const consumer = createKafka(config, { clientIdSuffix: 'bench-peer-read' }).consumer({
    groupId: `${config.topicPrefix}bench-peer-read-${randomUUID().slice(0, 8)}`,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  const out = new Map<string, Fields>();
  let lastAt = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) if (m.key && m.value) out.set(m.key.toString(), JSON.parse(m.value.toString()));
      lastAt = Date.now();
    },
  });
  while (Date.now() - lastAt < 3000) await sleep(100);
  await consumer.disconnect();
  return out;
};

/** The speed layer's candles: every window it still holds of every symbol it saw (at these sizes, all). */
const readOurCandles = async (redis: RedisConn, ks: string): Promise<Map<string, Fields>> => {
  const keys = speedKeys(ks);
  const out = new Map<string, Fields>();
  const sets = await Promise.all(SPEED_PARTITIONS.map((n) => redis.smembers(keys.symbols(n))));
  for (const symbol of new Set(sets.flat())) {
    for (const interval of CANDLE_INTERVALS) {
      for (const m of await redis.zrange(keys.candles(interval, symbol), 0, -1)) {
        const c = JSON.parse(m) as CandleJson;
        out.set(windowKey(symbol, interval, c.start), { ...c, interval });
      }
    }
  }
  return out;
};

/** Candles of the first n synthetic prices built by core (src/core/ohlcv/candle.ts) directly. */
const referenceCandles = (n: number): Map<string, Fields> => {
  const gen = new SyntheticPrices({ seed: 7n, symbols: SYMBOLS, startTime: BENCH_START, stepMs: 10 });
  const byKey = new Map<string, { interval: string; candle: Candle }>();
  for (let i = 0; i < n; i++) {
    const e = gen.next();
    for (const interval of CANDLE_INTERVALS) {
      const k = windowKey(e.symbol, interval, windowStart(e.eventTime, INTERVALS_MS[interval]));
      byKey.set(k, { interval, candle: addTrade(byKey.get(k)?.candle, e, INTERVALS_MS[interval]) });
    }
  }
  const out = new Map<string, Fields>();
  for (const [k, { interval, candle }] of byKey) out.set(k, { ...candleToJson(candle, false), interval });
  return out;
};

/** Windows of `ours` missing or different in `theirs`, and windows only `theirs` has. */
const compare = (ours: Map<string, Fields>, theirs: Map<string, Fields>) => {
  const diffs: string[] = [];
  let equal = 0;
  for (const [k, a] of ours) {
    const b = theirs.get(k);
    if (b === undefined) {
      diffs.push(`${k}: missing`);
      continue;
    }
    const bad = FIELDS.filter((f) => String(a[f]) !== String(b[f]));
    if (bad.length === 0) equal++;
    else diffs.push(`${k}: ${bad.map((f) => `${f} ${a[f]} vs ${b[f]}`).join(', ')}`);
  }
  for (const k of theirs.keys()) if (!ours.has(k)) diffs.push(`${k}: extra`);
  return { equal, diffs };
};

interface Case {
  /** What the input is, for the printout. */
  readonly label: string;
  /** Records put on raw.prices (all of them are consumed, including any too late for a window). */
  readonly n: number;
  readonly produce: (config: Config) => Promise<void>;
  /** Candles built by core from the same input, when the input is small enough and has no late trades. */
  readonly reference?: () => Map<string, Fields>;
  /** Report the throughput figures (false: a correctness case only). */
  readonly figures: boolean;
}

/** One input through both systems on fresh topics: rates, CPU, and the candle comparison. */
const runCase = async (c: Case, classpath: string): Promise<{ same: boolean; result: Record<string, number> }> => {
  const { n } = c;
  const config = await benchConfig();
  const ks = keyspaceFor(config.topicPrefix);
  const redis = await connectRedis(config);
  const ac = new AbortController();
  const output = `${config.topicPrefix}peer.candles`;
  try {
    const t = performance.now();
    await c.produce(config);
    console.log(`\n${c.label}: ${fmt(n)} records produced in ${fmt(performance.now() - t)} ms`);

    const cpu0 = process.cpuUsage();
    const ours = await timeStreamToCheckpoint(config, redis, ks, { n, checkpointMs: CHECKPOINT_MS, signal: ac.signal });
    // This process's CPU while the worker ran (the 5 ms offset polling is a small part of it).
    const cpu = process.cpuUsage(cpu0);
    const oursCpu = (cpu.user + cpu.system) / 1e6;
    ac.abort();
    const summary = await ours.stream;
    const oursRate = (n * 1000) / (ours.doneAt - ours.t0);

    await withAdmin(config, (admin) => admin.createTopics({ topics: [{ topic: output, numPartitions: 6 }] }));
    const peer = await runPeer(config, classpath, n, output);
    const theirsRate = (n * 1000) / (peer.doneAt - peer.startedAt);
    // Past start-up: ours from its first checkpoint, theirs from RUNNING (nothing is processed before).
    // (NaN when one checkpoint covered everything.)
    const oursSteady = ((n - ours.firstDone) * 1000) / (ours.doneAt - ours.firstAt);
    const theirsSteady = (n * 1000) / (peer.doneAt - peer.runningAt);

    const mine = await readOurCandles(redis, ks);
    const theirs = await readPeerCandles(config, output);
    const vsPeer = compare(mine, theirs);
    const checks = [`speed layer vs peer: ${vsPeer.equal} of ${mine.size} windows identical`];
    let diffs = vsPeer.diffs;
    if (c.reference) {
      const ref = c.reference();
      const vsRefOurs = compare(ref, mine);
      const vsRefPeer = compare(ref, theirs);
      checks.push(
        `core reference vs speed layer: ${vsRefOurs.equal} of ${ref.size}`,
        `core reference vs peer: ${vsRefPeer.equal} of ${ref.size}`,
      );
      diffs = [
        ...diffs,
        ...vsRefOurs.diffs.map((d) => `ref vs ours ${d}`),
        ...vsRefPeer.diffs.map((d) => `ref vs peer ${d}`),
      ];
    }
    const same = diffs.length === 0 && mine.size > 0;
    console.log(
      `candles (${[...CANDLE_INTERVALS].join('+')}, open/high/low/close/volume/quote volume/trades/vwap; ` +
        `speed layer: ${summary.late} late, ${summary.tooLate} too late for every window):`,
    );
    for (const line of checks) console.log(`  ${line}`);
    console.log(same ? '  IDENTICAL' : `  DIFFERENT (${diffs.length}): ${diffs.slice(0, 5).join('; ')}`);

    const rows: [string, string][] = [
      ['cryptolambda stream: start -> all checkpointed', `${fmt(oursRate)} ev/s`],
      ['Kafka Streams: start() -> all committed', `${fmt(theirsRate)} ev/s`],
      ['ours / theirs', (oursRate / theirsRate).toFixed(2)],
      ['cryptolambda stream: first checkpoint -> all', `${fmt(oursSteady)} ev/s`],
      ['Kafka Streams: RUNNING -> all committed', `${fmt(theirsSteady)} ev/s`],
      ['ours / theirs, past start-up', (oursSteady / theirsSteady).toFixed(2)],
      ['cryptolambda stream: events per CPU second', `${fmt(n / oursCpu)} ev/s`],
      ['Kafka Streams: events per CPU second (from start())', `${fmt(n / peer.cpuFromStart)} ev/s`],
      ['Kafka Streams: CPU s from JVM launch', `${peer.cpuTotal.toFixed(1)} s`],
      ['cryptolambda stream: start -> first checkpoint', `${fmt(ours.firstAt - ours.t0)} ms`],
      ['Kafka Streams: start() -> RUNNING', `${fmt(peer.runningAt - peer.startedAt)} ms`],
      ['Kafka Streams: JVM launch -> start()', `${fmt(peer.startedAt - peer.spawnedAt)} ms`],
    ];
    for (const [k, v] of rows) console.log(`${k.padEnd(50)} ${v.padStart(14)}`);
    if (c.figures) {
      // Short labels: the summary table of `npm run bench` has to fit 80 columns.
      const size = fmt(n);
      const note = same ? 'candles identical' : 'CANDLES DIFFER';
      const eos = GUARANTEE === 'exactly_once_v2' ? 'EOS v2' : GUARANTEE;
      report('peer', `cryptolambda stream, ${size} prices`, oursRate, 'ev/s', note);
      report('peer', `Kafka Streams, ${size} prices`, theirsRate, 'ev/s', `${eos}, ${note}`);
      report('peer', `ours/theirs, ${size}`, oursRate / theirsRate, 'x', note);
      report('peer', `ours/theirs past start-up, ${size}`, oursSteady / theirsSteady, 'x', note);
      report('peer', `ours/theirs per CPU second, ${size}`, peer.cpuFromStart / oursCpu, 'x', note);
    }
    return {
      same,
      result: {
        n,
        ours: oursRate,
        theirs: theirsRate,
        oursSteady,
        theirsSteady,
        oursCpuS: oursCpu,
        theirsCpuS: peer.cpuFromStart,
        theirsJvmCpuS: peer.cpuTotal,
      },
    };
  } finally {
    ac.abort();
    await deleteKeyspace(redis, ks);
    redis.disconnect();
    await dropBenchTopics(config);
  }
};

/**
 * Out-of-order and late trades, which the synthetic input never has: three symbols, one trade
 * every 30 ms of event time over ~10 minutes, most 0-2 s behind, one in 20 up to 45 s behind (late
 * within the 35 s or too late for a window), every 50th repeating the previous trade's event time
 * (open/close decided by event id). Prices and quantities use every digit of their scales so each
 * quote volume is rounded. Both systems see the same order per partition, so they must agree.
 */
const LATE_SYMBOLS = ['LATEAUSDT', 'LATEBUSDT', 'LATECUSDT'];
const LATE_N = 20_000;
const produceLateInput = async (config: Config): Promise<void> => {
  const rng = new Prng(13);
  const producer = await BatchingProducer.connect(config);
  const topic = topicName(config.topicPrefix, 'prices');
  let prevTime = BENCH_START;
  for (let i = 0; i < LATE_N; i++) {
    const symbol = LATE_SYMBOLS[i % LATE_SYMBOLS.length]!;
    const base = BENCH_START + i * 30;
    const behind = rng.int(20) === 0 ? rng.int(45_000) : rng.int(2_000);
    const eventTime = i % 50 === 49 ? prevTime : base - behind;
    prevTime = eventTime;
    const e: PriceEvent = {
      kind: 'price',
      eventId: `late:${symbol}:${String(rng.int(1_000_000)).padStart(7, '0')}:${i}`,
      symbol,
      price: Decimal.fromUnits(BigInt(40_000 + rng.int(2_000)) * 10n ** 12n + rng.bigBelow(10n ** 12n), PRICE_SCALE),
      quantity: Decimal.fromUnits(rng.bigBelow(10n ** 18n) + 1n, QTY_SCALE),
      eventTime,
      tradeId: String(i),
      source: 'synthetic',
    };
    await producer.push(topic, [{ key: symbol, value: encodePrice(e) }]);
  }
  await producer.flush();
  await producer.disconnect();
};

const main = async (): Promise<void> => {
  const built = buildPeer();
  if ('skip' in built) {
    console.log(`peer: skipped, the Kafka Streams peer cannot run: ${built.skip}`);
    process.exit(SKIPPED_EXIT);
  }
  console.log(
    `node ${process.version} vs Kafka Streams ${built.kafkaVersion} (${GUARANTEE}, ${STORE} stores, 1 stream thread), ` +
      `checkpoint/commit every ${CHECKPOINT_MS} ms, sizes ${SIZES.map(fmt).join(', ')}`,
  );
  const cases: Case[] = [
    {
      label: `out-of-order and late trades, ${LATE_SYMBOLS.length} symbols`,
      n: LATE_N,
      produce: produceLateInput,
      figures: false,
    },
    ...SIZES.map(
      (n): Case => ({
        label: `${fmt(n)} synthetic prices, ${SYMBOLS.length} symbols`,
        n,
        produce: async (config) => {
          await producePriceInput(config, n, SYMBOLS);
        },
        ...(n <= MAX_REFERENCE ? { reference: () => referenceCandles(n) } : {}),
        figures: true,
      }),
    ),
  ];
  const results: Record<string, number>[] = [];
  let wrong = 0;
  for (const c of cases) {
    const { same, result } = await runCase(c, built.classpath);
    if (!same) wrong++;
    if (c.figures) results.push(result);
  }
  if (results.length > 1) {
    for (let i = 1; i < results.length; i++) {
      const a = results[i - 1]!;
      const b = results[i]!;
      console.log(
        `${fmt(b.n! / a.n!)}x the input (${fmt(a.n!)} -> ${fmt(b.n!)}): cryptolambda ${(b.ours! / a.ours!).toFixed(2)}x ` +
          `the rate, Kafka Streams ${(b.theirs! / a.theirs!).toFixed(2)}x`,
      );
    }
  }
  console.log(
    JSON.stringify({ bench: 'peer', guarantee: GUARANTEE, store: STORE, checkpointMs: CHECKPOINT_MS, results }),
  );
  if (wrong > 0) {
    console.error(`peer: candles differ in ${wrong} case(s): the throughput comparison is not valid`);
    process.exitCode = 1;
  }
};

await main();
