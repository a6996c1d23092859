import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { newRegistry } from '../../../src/adapters/metrics/prometheus.js';
import { connectRedis } from '../../../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../../src/adapters/redis/speed-keys.js';
import { runStream } from '../../../src/app/stream/run-stream.js';
import type { StreamStatus } from '../../../src/app/stream/status.js';
import type { Config } from '../../../src/config/config.js';
import type { PriceEvent } from '../../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE } from '../../../src/core/money/decimal.js';
import { buildCandles, INTERVALS_MS } from '../../../src/core/ohlcv/candle.js';
import { symbolPartition } from '../../../src/core/partitioning.js';
import { candleToJson, PriceWindows } from '../../../src/core/speed/price-windows.js';
import { BIN, runCli } from '../../support/cli.js';
import { type Dataset, makeDataset, produceDataset, userEvents } from '../../support/events.js';
import { batchAndReconcile, compareWithInOrder, daysOf, reconcileLine, StreamProcess } from '../../support/ordering.js';
import { startCluster, stopCluster } from '../../support/redis-cluster.js';
import { dumpKeyspace, RUN_SPECIFIC, storedOffsets } from '../../support/redis-dump.js';
import { servingSetup } from '../../support/serving-stack.js';
import { runStreamToIdle, streamTestConfig } from '../../support/stream.js';

/**
 * Issue 14 item 3: a trade re-delivered after a restart (graceful SIGTERM, kill -9) or a rebalance
 * (the partition is re-acquired and its state restored from Redis) into a candle window that is still
 * open is dropped exactly as in an uninterrupted run, and `stream status` (and the Prometheus
 * counter) counts it.
 *
 * 3,000 BTCUSDT trades and 600 ETHUSDT trades over two minutes of event time inside one 5m window
 * (12:00:10-12:02:10): at the end the 5m windows and the last 1m windows are open, the first 1m
 * window is final (its re-delivered trades are duplicates through the 5m window's ids, in both runs).
 */
const START = Date.UTC(2026, 10, 20, 12, 0, 10);

const trades = (): PriceEvent[] => {
  const out: PriceEvent[] = [];
  for (let i = 0; i < 3600; i++) {
    const symbol = i % 6 === 5 ? 'ETHUSDT' : 'BTCUSDT';
    // A share of trades 3 s behind: out of order, within the out-of-orderness.
    const eventTime = START + Math.floor((i * 120_000) / 3600) - (i % 17 === 5 ? 3_000 : 0);
    out.push({
      kind: 'price',
      eventId: `synthetic:${symbol}:${i}`,
      symbol,
      price: Decimal.fromUnits(
        (symbol === 'BTCUSDT' ? 43_000_0000n : 2_300_0000n) + BigInt((i * 7919) % 90_001),
        4,
      ).rescale(PRICE_SCALE),
      quantity: Decimal.fromUnits(BigInt(1 + ((i * 31) % 5000)) * 10n ** 14n, QTY_SCALE),
      eventTime,
      tradeId: String(i),
      source: 'synthetic',
    });
  }
  return out;
};

const prices = (p: PriceEvent[]): Dataset => ({ prices: p, transactions: [], rewards: [] });

const checkpointed = async (config: Config): Promise<number> => {
  const r = await connectRedis(config);
  try {
    return Object.values(await storedOffsets(r, keyspaceFor(config.topicPrefix))).reduce((a, v) => a + Number(v), 0);
  } finally {
    r.disconnect();
  }
};

/** The built CLI's `stream` in its own process, as a deployment runs it. */
const startWorker = (config: Config): { child: ChildProcess; exited: Promise<unknown>; stderr: () => string } => {
  const env = { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix, NO_COLOR: '1' };
  const child = spawn(process.execPath, [BIN, 'stream', '--checkpoint-ms', '100', '--session-timeout', '6000'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString('utf8');
  });
  const exited = new Promise((r) => child.once('exit', (code, signal) => r(signal ?? code)));
  return { child, exited, stderr: () => stderr };
};

const waitCheckpointed = async (config: Config, total: number): Promise<void> => {
  const deadline = Date.now() + 60_000;
  while ((await checkpointed(config)) < total) {
    if (Date.now() > deadline) throw new Error(`checkpointed ${await checkpointed(config)}/${total}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

const status = async (config: Config): Promise<StreamStatus> => {
  const r = await runCli(['stream', 'status', '--json'], { CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as StreamStatus;
};

const statusDuplicates = (s: StreamStatus): number =>
  s.partitions.reduce((n, p) => n + (p.counts.duplicateTrades ?? 0), 0);

/** The speed layer's whole state, minus what legitimately differs between runs (ids, epochs, offsets' names). */
const state = async (config: Config) => {
  const r = await connectRedis(config);
  try {
    return await dumpKeyspace(r, keyspaceFor(config.topicPrefix), [...RUN_SPECIFIC, /^stream:offsets:/]);
  } finally {
    r.disconnect();
  }
};

describe('restart-proof candles (real Kafka, Redis and the built CLI)', () => {
  it('trades re-delivered after a SIGTERM restart, a kill -9 or a rebalance into open windows are dropped and counted, as without a restart', async () => {
    const all = trades();
    const n = all.length;

    // Uninterrupted: every trade, then every trade again, one run.
    const clean = await streamTestConfig();
    await produceDataset(clean, prices(all));
    await produceDataset(clean, prices(all));
    const s0 = await runStreamToIdle(clean);
    expect(s0.duplicateTrades).toBe(n);
    expect(s0.tooLate).toBe(0);

    const restarted: Config[] = [];
    for (const stop of ['SIGTERM', 'SIGKILL'] as const) {
      const config = await streamTestConfig();
      const w = startWorker(config);
      await produceDataset(config, prices(all));
      await waitCheckpointed(config, n);
      w.child.kill(stop);
      // SIGTERM: the worker takes its final checkpoint and leaves the group (exit 0); SIGKILL: none.
      expect({ exit: await w.exited, stderr: w.stderr() }).toEqual({
        exit: stop === 'SIGTERM' ? 0 : 'SIGKILL',
        stderr: expect.any(String),
      });
      // The same trades (same ids) delivered again, into windows the stopped worker left open.
      await produceDataset(config, prices(all));
      const metrics = newRegistry();
      const s1 = await runStreamToIdle(config, { metrics });
      expect(s1.records).toBe(n);
      expect(s1.duplicateTrades).toBe(n);
      // The Prometheus counter the worker exports counts them too.
      expect(await metrics.getSingleMetricAsString('cryptolambda_stream_duplicates_dropped_total')).toContain(
        `cryptolambda_stream_duplicates_dropped_total{kind="trade"} ${n}`,
      );
      // The ids of the open 5m windows (each trade once), restored and held for duplicate detection.
      expect(await metrics.getSingleMetricAsString('cryptolambda_stream_trade_ids_held')).toContain(
        `cryptolambda_stream_trade_ids_held ${n}`,
      );
      expect(statusDuplicates(await status(config))).toBe(n);
      restarted.push(config);
    }

    // A rebalance: worker B joins while A runs (the group splits the partitions, B restores its
    // share from A's checkpoints), then A leaves (SIGTERM) and B re-acquires the rest; the trades
    // are re-delivered to B only.
    {
      const config = await streamTestConfig();
      const a = startWorker(config);
      await produceDataset(config, prices(all));
      await waitCheckpointed(config, n);
      const abort = new AbortController();
      const b = runStream(config, {
        signal: abort.signal,
        checkpointIntervalMs: 200,
        metricsEveryMs: 200,
        speed: { userIdleMs: 1000 },
        workerId: 'b',
      });
      const r = await connectRedis(config);
      const owned = async () => {
        const line = await r.hget(speedKeys(keyspaceFor(config.topicPrefix)).streamStatus(), 'b');
        return line === null ? 0 : (JSON.parse(line) as { partitions: number[] }).partitions.length;
      };
      const until = async (ok: (owned: number) => boolean, what: string) => {
        const deadline = Date.now() + 60_000;
        while (!ok(await owned())) {
          if (Date.now() > deadline) throw new Error(`worker b never ${what}`);
          await new Promise((res) => setTimeout(res, 100));
        }
      };
      try {
        await until((o) => o > 0 && o < 6, 'shared the partitions with a');
        a.child.kill('SIGTERM');
        expect(await a.exited).toBe(0);
        await until((o) => o === 6, 'took all partitions');
        await produceDataset(config, prices(all));
        await waitCheckpointed(config, 2 * n);
      } finally {
        abort.abort();
        r.disconnect();
      }
      const s = await b;
      expect(s.duplicateTrades).toBe(n);
      expect(statusDuplicates(await status(config))).toBe(n);
      restarted.push(config);
    }

    // The candles hold each trade once: equal to the core's over the distinct trades...
    const r = await connectRedis(clean);
    const k = speedKeys(keyspaceFor(clean.topicPrefix));
    try {
      for (const interval of ['1m', '5m'] as const) {
        for (const symbol of ['BTCUSDT', 'ETHUSDT']) {
          const stored = (await r.zrange(k.candles(interval, symbol), 0, -1)).map((m) => JSON.parse(m));
          const want = buildCandles(
            all.filter((e) => e.symbol === symbol),
            INTERVALS_MS[interval],
          ).map((c) => candleToJson(c, false));
          expect(stored.map(({ final: _f, ...c }) => c)).toEqual(want.map(({ final: _f, ...c }) => c));
        }
      }
      const fiveMin = (await r.zrange(k.candles('5m', 'BTCUSDT'), 0, -1)).map((m) => JSON.parse(m));
      expect(fiveMin).toHaveLength(1);
      expect(fiveMin[0].trades).toBe(3000);
      expect(fiveMin[0].final).toBe(false);
      // ...and the open 5m windows' ids are in Redis, in the partition's hash tag, one per trade.
      const ids = await r.smembers(k.tradeIds(symbolPartition('BTCUSDT'), '5m', 'BTCUSDT', Date.UTC(2026, 10, 20, 12)));
      expect(ids).toHaveLength(3000);
    } finally {
      r.disconnect();
    }
    expect(statusDuplicates(await status(clean))).toBe(n);

    // ...and every restarted run's whole state (candles, ids, counters, last prices) is the clean run's.
    const want = await state(clean);
    expect(Object.keys(want).some((key) => key.startsWith('stream:trades:'))).toBe(true);
    for (const config of restarted) expect(await state(config)).toEqual(want);
  }, 180_000);
});

describe('restart-proof candles on a real Redis Cluster (3 masters)', () => {
  let url = '';
  beforeAll(() => {
    url = startCluster();
  }, 60_000);
  afterAll(() => stopCluster());

  it('the open windows’ ids commit in the partition’s slot and a restarted worker drops the re-sent trades', async () => {
    const all = trades();
    const n = all.length;
    const clean = await streamTestConfig({ redisUrl: url });
    await produceDataset(clean, prices(all));
    await produceDataset(clean, prices(all));
    expect((await runStreamToIdle(clean)).duplicateTrades).toBe(n);

    const config = await streamTestConfig({ redisUrl: url });
    await produceDataset(config, prices(all));
    expect((await runStreamToIdle(config)).duplicateTrades).toBe(0);
    await produceDataset(config, prices(all));
    const s = await runStreamToIdle(config);
    expect(s.records).toBe(n);
    expect(s.duplicateTrades).toBe(n);
    const st = await runCli(['stream', 'status', '--json'], {
      CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix,
      CRYPTOLAMBDA_REDIS_URL: url,
    });
    expect(st.code, st.stderr).toBe(0);
    expect(statusDuplicates(JSON.parse(st.stdout) as StreamStatus)).toBe(n);
    const r = await connectRedis(config);
    try {
      const key = speedKeys(keyspaceFor(config.topicPrefix)).tradeIds(
        symbolPartition('BTCUSDT'),
        '5m',
        'BTCUSDT',
        Date.UTC(2026, 10, 20, 12),
      );
      expect(await r.scard(key)).toBe(3000);
    } finally {
      r.disconnect();
    }
    expect(await state(config)).toEqual(await state(clean));
  }, 120_000);
});

describe('issue 14 (e): a restart between a trade and its re-delivery (real stack, batch and reconcile)', () => {
  it('trades and user events re-delivered after a SIGTERM restart are dropped once, counted; reconcile clean, books = in-order replay', async () => {
    const config = await servingSetup('cl-restart-');
    const d = makeDataset({ seed: 21, start: Date.UTC(2026, 10, 21, 12, 0), minutes: 4, users: 30 });
    const first = StreamProcess.start(config);
    onTestFinished(() => first.kill());
    await produceDataset(config, d);
    await first.settled();
    const s1 = await first.stop();
    expect(s1.duplicateTrades).toBe(0);

    // Re-delivered copies (same ids, same content) of every other trade and every third user event,
    // after the restart, into windows (and dedup buckets) the stopped worker left open.
    const again: Dataset = {
      prices: d.prices.filter((_, i) => i % 2 === 0),
      transactions: d.transactions.filter((_, i) => i % 3 === 0),
      rewards: d.rewards.filter((_, i) => i % 3 === 0),
    };
    // What an uninterrupted run does with the same arrivals (the core's windows as the oracle): the
    // copies in windows that can still change are duplicates, any in a final window too late.
    const oracle = new PriceWindows({ intervals: ['1m', '5m'], outOfOrdernessMs: 5_000, allowedLatenessMs: 30_000 });
    for (const e of [...d.prices, ...again.prices]) oracle.add(e);
    expect(oracle.counts.duplicates).toBeGreaterThan(again.prices.length / 2);

    const second = StreamProcess.start(config);
    onTestFinished(() => second.kill());
    await produceDataset(config, again);
    await second.settled();
    const s2 = await second.stop();
    const resentUser = again.transactions.length + again.rewards.length;
    expect({ trades: s2.duplicateTrades, tooLate: s2.tooLate, userEvents: s2.userDuplicates }).toEqual({
      trades: oracle.counts.duplicates,
      tooLate: oracle.counts.tooLate,
      userEvents: resentUser,
    });
    const st = await status(config);
    expect(statusDuplicates(st)).toBe(oracle.counts.duplicates);
    expect(st.partitions.reduce((n, p) => n + (p.counts.duplicates ?? 0), 0)).toBe(resentUser);

    // The candles hold each trade once (the core's over the distinct trades).
    const r = await connectRedis(config);
    const k = speedKeys(keyspaceFor(config.topicPrefix));
    try {
      for (const interval of ['1m', '5m'] as const) {
        for (const symbol of ['BTCUSDT', 'ETHUSDT', 'SOLUSDT']) {
          const stored = (await r.zrange(k.candles(interval, symbol), 0, -1)).map((m) => JSON.parse(m));
          const want = buildCandles(
            d.prices.filter((e) => e.symbol === symbol),
            INTERVALS_MS[interval],
          ).map((c) => candleToJson(c, false));
          expect(stored.map(({ final: _f, ...c }) => c)).toEqual(want.map(({ final: _f, ...c }) => c));
        }
      }
    } finally {
      r.disconnect();
    }

    // Both layers apply each user event once: reconcile is clean, the books are the in-order replay's.
    const events = userEvents(d);
    const reconcile = await batchAndReconcile(config, daysOf([...events, ...d.prices]));
    const books = await compareWithInOrder(config, events);
    console.log(
      `[restart e] ${d.prices.length} trades + ${events.length} user events, re-sent ${again.prices.length} trades ` +
        `+ ${resentUser} user events after a restart: duplicates ${s2.duplicateTrades} trades / ${s2.userDuplicates} ` +
        `user events; reconcile ${reconcileLine(reconcile)}; books differing ${books.differing.length}/${books.users}`,
    );
    expect(reconcile.map((x) => ({ date: x.date, code: x.code, mismatched: x.summary.fieldsMismatched }))).toEqual(
      reconcile.map((x) => ({ date: x.date, code: 0, mismatched: 0 })),
    );
    expect(books.differing).toEqual([]);
    expect(books.users).toBeGreaterThan(10);
  }, 180_000);
});
