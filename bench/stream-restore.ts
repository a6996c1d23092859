/**
 * What restart-proof candles cost (issue 14 item 3): the trade ids the speed layer keeps for the
 * open 5m windows, in memory and in Redis, and the time to restore them on acquire. Prints figures;
 * not a test.
 *
 *   npx tsc -p bench/tsconfig.json && node .cryptolambda/bench/bench/stream-restore.js [sizes]
 *
 * Per size N (default 10k, 100k, 1M: each 10x the previous), fresh topics:
 *   - N/2 trades over 7 light symbols (a tick every 10 ms of event time per symbol);
 *   - N/2 trades of one heavy symbol, a tick every 1 ms of event time (10x the rate: its 5m window
 *     holds 10x the ids);
 *   - one `stream` run to idle (checkpoints into Redis), then every partition loaded from Redis as a
 *     worker acquiring it does (RedisSpeedStore.load + PartitionEngine) and timed.
 * Held ids must follow the open windows' span (out-of-orderness + 5 min + lateness of trades per
 * symbol), not N: the ratio of held ids between sizes shows it.
 */
import { connectRedis } from '../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../src/adapters/redis/speed-keys.js';
import { RedisSpeedStore } from '../src/adapters/redis/speed-store.js';
import { runProducePrices } from '../src/app/produce/prices.js';
import { deleteKeyspace, runStream } from '../src/app/stream/run-stream.js';
import { DEFAULT_SPEED_OPTIONS } from '../src/app/stream/speed-handler.js';
import { SPEED_PARTITIONS } from '../src/core/partitioning.js';
import { PartitionEngine } from '../src/core/speed/engine.js';
import { report } from './report.js';
import { BENCH_START, BENCH_SYMBOLS, benchConfig, dropBenchTopics, fmt } from './speed-run.js';

const SIZES = (process.argv[2] ?? '10000,100000,1000000').split(',').map(Number);
const HEAVY = 'HVYUSDT';

interface Row {
  n: number;
  held: number;
  heavyHeld: number;
  sets: number;
  redisBytes: number;
  restoreMs: number;
  streamSec: number;
}

const one = async (n: number): Promise<Row> => {
  const config = await benchConfig();
  const ks = keyspaceFor(config.topicPrefix);
  const keys = speedKeys(ks);
  const redis = await connectRedis(config);
  try {
    const light = Math.floor(n / 2);
    for (const [symbols, count, stepMs] of [
      [BENCH_SYMBOLS, light, 10],
      [[HEAVY], n - light, 1],
    ] as const) {
      const p = await runProducePrices(config, {
        source: 'synthetic',
        symbols,
        seed: 7n,
        startTime: BENCH_START,
        stepMs,
        rate: 0,
        count,
      });
      if (p.acked !== count) throw new Error(`acked ${p.acked} of ${count}`);
    }
    const t0 = performance.now();
    const s = await runStream(config, { exitWhenIdleMs: 1500, checkpointIntervalMs: 250, metricsEveryMs: 60_000 });
    const streamSec = (performance.now() - t0) / 1000;
    if (s.records !== n) throw new Error(`stream processed ${s.records} of ${n}`);

    const store = new RedisSpeedStore(redis, keys, DEFAULT_SPEED_OPTIONS);
    let held = 0;
    let heavyHeld = 0;
    const r0 = performance.now();
    for (const p of SPEED_PARTITIONS) {
      const e = new PartitionEngine(DEFAULT_SPEED_OPTIONS, Date.now(), await store.load(p));
      held += e.prices.heldIds();
      for (const w of e.prices.openWindows())
        if (w.candle.symbol === HEAVY && w.interval === '5m') heavyHeld += w.candle.trades;
    }
    const restoreMs = performance.now() - r0;
    let sets = 0;
    let redisBytes = 0;
    const idKeys = await redis.keys(`${ks}stream:trades:*`);
    for (const k of idKeys) {
      sets++;
      redisBytes += Number(await redis.memory('USAGE', k));
    }
    return { n, held, heavyHeld, sets, redisBytes, restoreMs, streamSec };
  } finally {
    await deleteKeyspace(redis, ks);
    redis.disconnect();
    await dropBenchTopics(config);
  }
};

console.log(`node ${process.version}, sizes ${SIZES.map(fmt).join(', ')} (half on the heavy symbol ${HEAVY})`);
const rows: Row[] = [];
for (const n of SIZES) {
  const r = await one(n);
  rows.push(r);
  console.log(
    `N ${fmt(r.n).padStart(9)}: ids held ${fmt(r.held).padStart(8)} (heavy symbol ${fmt(r.heavyHeld)}) in ${r.sets} sets, ` +
      `${fmt(r.redisBytes / 1024)} KiB in Redis (${(r.redisBytes / Math.max(1, r.held)).toFixed(0)} B/id), ` +
      `restore of all partitions ${r.restoreMs.toFixed(0)} ms, stream ${r.streamSec.toFixed(1)} s`,
  );
  report('stream-restore', `ids held, N=${fmt(n)}`, r.held, 'ids', `heavy symbol ${fmt(r.heavyHeld)}`);
  report('stream-restore', `restore, N=${fmt(n)}`, r.restoreMs, 'ms', `${fmt(r.held)} ids, ${r.sets} sets`);
  report('stream-restore', `Redis bytes/id, N=${fmt(n)}`, r.redisBytes / Math.max(1, r.held), 'B');
}
for (let i = 1; i < rows.length; i++) {
  const a = rows[i - 1]!;
  const b = rows[i]!;
  const ratio = b.held / Math.max(1, a.held);
  console.log(
    `N x${(b.n / a.n).toFixed(0)}: ids held x${ratio.toFixed(2)}, restore x${(b.restoreMs / Math.max(1, a.restoreMs)).toFixed(2)}`,
  );
  report('stream-restore', `ids held ratio N=${fmt(b.n)} / ${fmt(a.n)}`, ratio, 'x', 'bounded by the open windows');
}
