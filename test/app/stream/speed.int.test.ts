import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { withAdmin } from '../../../src/adapters/kafka/client.js';
import { connectRedis } from '../../../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../../src/adapters/redis/speed-keys.js';
import type { Config } from '../../../src/config/config.js';
import type { UserEvent } from '../../../src/core/events/types.js';
import { buildCandles, INTERVALS_MS } from '../../../src/core/ohlcv/candle.js';
import { SPEED_PARTITIONS } from '../../../src/core/partitioning.js';
import { positionToJson } from '../../../src/core/portfolio/codec.js';
import { candleToJson } from '../../../src/core/speed/price-windows.js';
import { dayToJson, emptyUser, replayUser } from '../../../src/core/speed/user-ledger.js';
import { BIN } from '../../support/cli.js';
import {
  type Dataset,
  datasetProducer,
  datasetSize,
  makeDataset,
  produceDataset,
  sliceDataset,
  userEvents,
} from '../../support/events.js';
import { dumpKeyspace, RUN_SPECIFIC, storedOffsets } from '../../support/redis-dump.js';
import { runStreamToIdle, streamTestConfig } from '../../support/stream.js';

const START = Date.UTC(2026, 10, 20, 23, 50);
const emptyDataset: Dataset = { prices: [], transactions: [], rewards: [] };

const setup = async (d: Dataset): Promise<Config> => {
  const config = await streamTestConfig();
  await produceDataset(config, d);
  return config;
};

const cleanRedis = (config: Config) => connectRedis(config);

// Two workers of one group must overlap (split the partitions), not the first exit before the second joins.
const runToIdle = (config: Config, workerId?: string) =>
  runStreamToIdle(config, workerId ? { workerId, exitWhenIdleMs: 2500 } : {});

/** What the speed layer must hold, computed by the pure core from the whole dataset. */
const expectedUsers = (events: readonly UserEvent[]) => {
  const byUser = new Map<string, UserEvent[]>();
  for (const e of events) byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), e]);
  return new Map([...byUser].map(([u, evs]) => [u, replayUser(emptyUser(u), evs)]));
};

describe('speed layer (stream) on real Kafka and Redis', () => {
  it('builds candles, positions, tiers and day aggregates equal to the core over the same events', async () => {
    const d = makeDataset({ seed: 7, start: START, minutes: 20, users: 40 });
    const config = await setup(d);
    const summary = await runToIdle(config);
    expect(summary.stoppedBy).toBe('idle');
    expect(summary.tooLate).toBe(0);
    expect(summary.late).toBeGreaterThan(0);
    expect(summary.invalid).toBe(0);

    const redis = await cleanRedis(config);
    const k = speedKeys(keyspaceFor(config.topicPrefix));
    try {
      for (const interval of ['1m', '5m'] as const) {
        const expected = buildCandles(d.prices, INTERVALS_MS[interval]);
        for (const symbol of ['BTCUSDT', 'ETHUSDT', 'SOLUSDT']) {
          const stored = (await redis.zrange(k.candles(interval, symbol), 0, -1)).map((s) => JSON.parse(s));
          const want = expected.filter((c) => c.symbol === symbol);
          expect(stored.map(({ final: _f, ...c }) => c)).toEqual(
            want.map((c) => {
              const { final: _f, ...j } = candleToJson(c, false);
              return j;
            }),
          );
        }
      }
      const users = expectedUsers(userEvents(d));
      expect(users.size).toBeGreaterThan(10);
      let rejected = 0;
      for (const [userId, r] of users) {
        rejected += r.rejected.length;
        const pos = await redis.hgetall(k.positions(userId));
        const want = Object.fromEntries([...r.state.positions].map(([a, p]) => [a, JSON.stringify(positionToJson(p))]));
        expect(pos).toEqual(want);
        const tier = JSON.parse((await redis.get(k.tier(userId)))!);
        expect(tier.tier).toBe(r.state.tier.tier);
        expect(tier.spend30d).toBe(r.state.tier.spend30d.toString());
        for (const [day, agg] of r.days) {
          expect(JSON.parse((await redis.get(k.dayRewards(userId, day)))!)).toEqual(dayToJson(agg));
          expect(Object.keys(await redis.hgetall(k.delta(userId, day))).length).toBe(agg.events);
        }
      }
      expect(summary.rejected).toBe(rejected);
      const last = Object.assign(
        {},
        ...(await Promise.all(SPEED_PARTITIONS.map((n) => redis.hgetall(k.lastPrice(n))))),
      );
      expect(Object.keys(last).sort()).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    } finally {
      redis.disconnect();
    }
  }, 120_000);

  it('sends trades beyond the allowed lateness to the late topic and keeps them out of the 1m candle', async () => {
    const d = makeDataset({ seed: 3, start: START, minutes: 8, users: 5, tooLateEvery: 97 });
    const config = await setup(d);
    const s = await runToIdle(config);
    expect(s.tooLate).toBeGreaterThan(0);
    const lateCount = await withAdmin(config, async (admin) => {
      const offs = await admin.fetchTopicOffsets(`${config.topicPrefix}late.prices`);
      return offs.reduce((a, o) => a + Number(o.high), 0);
    });
    // Too late for 1m: counted as too late when no window accepted it, late-for-1m ones still count in 5m.
    expect(lateCount).toBeGreaterThanOrEqual(s.tooLate);
  }, 120_000);

  it('kill -9 mid-stream and restart: the final Redis state equals an uninterrupted run exactly; two workers equal one', async () => {
    const d = makeDataset({ seed: 11, start: START, minutes: 30, users: 60 });
    const total = datasetSize(d);
    const clean = await setup(d);
    const two = await setup(d);
    // The crashed run gets its input live, while the worker runs, so the kill lands mid-stream.
    const crashed = await setup(emptyDataset);

    await runToIdle(clean);

    // A real worker process (the built CLI), killed with SIGKILL while records are flowing: after
    // at least one checkpoint, before the end of the input. Slices are produced in order (every
    // partition's record order equals the clean run's), at most two slices ahead of what the worker
    // has checkpointed, so it is busy when killed and the rest of the input does not exist yet.
    const SLICES = 40;
    const redis = await connectRedis(crashed);
    const producer = await datasetProducer(crashed);
    const ks = keyspaceFor(crashed.topicPrefix);
    const checkpointed = async () => Object.values(await storedOffsets(redis, ks)).reduce((a, v) => a + Number(v), 0);
    let produced = 0;
    let atKill = 0;
    try {
      const env = { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: crashed.topicPrefix, NO_COLOR: '1' };
      const child = spawn(process.execPath, [BIN, 'stream', '--checkpoint-ms', '100', '--session-timeout', '6000'], {
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString('utf8');
      });
      const exited = new Promise((r) => child.once('exit', (code, signal) => r(signal ?? code)));
      let slice = 0;
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const done = await checkpointed();
        if (done >= total / 2) break;
        if (slice < SLICES && done >= Math.round((total * (slice - 1)) / SLICES)) {
          const part = sliceDataset(d, slice / SLICES, (slice + 1) / SLICES);
          await producer.produce(part);
          produced += datasetSize(part);
          slice++;
        } else await new Promise((r) => setTimeout(r, 20));
      }
      child.kill('SIGKILL');
      expect({ exit: await exited, stderr }).toEqual({ exit: 'SIGKILL', stderr: expect.any(String) });
      atKill = await checkpointed();
      expect(atKill).toBeGreaterThanOrEqual(total / 2);
      expect(atKill).toBeLessThan(total);
      // The rest of the input arrives while no worker runs.
      await producer.produce(sliceDataset(d, slice / SLICES, 1));
      produced += datasetSize(sliceDataset(d, slice / SLICES, 1));
    } finally {
      await producer.close();
      redis.disconnect();
    }
    expect(produced).toBe(total);
    // The successor waits out the dead member's session (6 s), then resumes from the last checkpoint:
    // it applies exactly the records after it, nothing twice.
    const resumed = await runToIdle(crashed);
    expect(resumed.stoppedBy).toBe('idle');
    expect(resumed.records).toBe(total - atKill);

    const [w1, w2] = await Promise.all([runToIdle(two, 'w1'), runToIdle(two, 'w2')]);
    expect(w1.records + w2.records).toBeGreaterThanOrEqual(total);

    const r = await connectRedis(clean);
    try {
      // Offsets are compared separately: their field names carry each run's topic prefix.
      const skip = [...RUN_SPECIFIC, /^stream:offsets:/];
      const a = await dumpKeyspace(r, keyspaceFor(clean.topicPrefix), skip);
      const b = await dumpKeyspace(r, keyspaceFor(crashed.topicPrefix), skip);
      const c = await dumpKeyspace(r, keyspaceFor(two.topicPrefix), skip);
      const offsets = async (cfg: Config) =>
        Object.fromEntries(
          Object.entries(await storedOffsets(r, keyspaceFor(cfg.topicPrefix))).map(([f, v]) => [
            f.slice(cfg.topicPrefix.length),
            v,
          ]),
        );
      expect(await offsets(crashed)).toEqual(await offsets(clean));
      expect(await offsets(two)).toEqual(await offsets(clean));
      expect(Object.keys(a).length).toBeGreaterThan(100);
      expect(b).toEqual(a);
      expect(c).toEqual(a);
    } finally {
      r.disconnect();
    }
  }, 120_000);
});
