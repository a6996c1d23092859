import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { connectRedis } from '../../../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../../src/adapters/redis/speed-keys.js';
import { RedisTickerSource } from '../../../src/adapters/redis/ticker-source.js';
import { CryptolambdaError } from '../../../src/core/errors.js';
import { symbolPartition } from '../../../src/core/partitioning.js';
import { plainLines } from '../../../src/core/ticker/format.js';
import { buildTickerView } from '../../../src/core/ticker/model.js';
import { loadSnapshot } from '../../core/ticker/load-fixture.js';
import { testConfig } from '../../support/int.js';
import { seedSpeedLayer } from './seed.js';

const json = (v: unknown) => JSON.parse(JSON.stringify(v));

const setup = async () => {
  const config = testConfig();
  const keyspace = keyspaceFor(config.topicPrefix);
  const redis = await connectRedis(config);
  onTestFinished(() => redis.disconnect());
  const live = loadSnapshot('live');
  await seedSpeedLayer(redis, keyspace, live);
  return { redis, keyspace, live };
};

describe('RedisTickerSource on the real Redis', () => {
  it('reads the speed layer keys into the same view the fixture gives', async () => {
    const { redis, keyspace, live } = await setup();
    const source = new RedisTickerSource(redis, { keyspace, user: 'alice', clock: () => live.now });
    const pipelines = vi.spyOn(redis, 'pipeline');

    const first = await source.snapshot();
    // the first refresh discovers the symbols, then reads their candles: two round trips
    expect(pipelines).toHaveBeenCalledTimes(2);
    expect(first.symbols).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    // the first candle of the 24h window, then the latest 20 by rank (the model de-duplicates)
    expect((first.candles1m.BTCUSDT as { start: number }[]).map((c) => c.start)[0]).toBe(Date.UTC(2026, 10, 24, 10, 1));
    expect(first.candles1m.BTCUSDT).toHaveLength(1 + 14);

    const view = buildTickerView(first);
    expect(json(view)).toEqual(json(buildTickerView(live)));
    expect(plainLines(view)).toEqual([
      '2026-11-25T10:00:30Z BTCUSDT 43000.12 +0.52% 1m +0.02% 5m +2.38% 24h',
      '2026-11-25T10:00:30Z ETHUSDT 2297.50 -0.02% 1m -0.11% 5m -0.11% 24h',
      '2026-11-25T10:00:30Z SOLUSDT 98.1234 -0.38% 1m -0.38% 5m -0.38% 24h',
      '2026-11-25T10:00:30Z USER alice value 27,095.06 pnl +1,894.56 (+7.52%) tier gold unpriced ADA',
    ]);
    expect(view.user?.value.toString()).toBe('27095.060000000000');
    expect(view.watermark).toBe(live.now - 2500);

    // steady state: one pipelined round trip per refresh
    pipelines.mockClear();
    await source.snapshot();
    expect(pipelines).toHaveBeenCalledTimes(1);
  });

  it('reads only the --symbols filter in one round trip and follows new candles', async () => {
    const { redis, keyspace, live } = await setup();
    const source = new RedisTickerSource(redis, { keyspace, symbols: ['ETHUSDT'], clock: () => live.now + 60_000 });
    const pipelines = vi.spyOn(redis, 'pipeline');
    const k = speedKeys(keyspace);
    const next = {
      start: Date.UTC(2026, 10, 25, 10, 1),
      end: Date.UTC(2026, 10, 25, 10, 1) + 59_999,
      open: '2297.500000000000',
      high: '2310.000000000000',
      low: '2297.500000000000',
      close: '2310.000000000000',
      volume: '0.500000000000000000',
      quoteVolume: '1155.000000000000',
      trades: 3,
      vwap: '2308.000000000000',
      final: false,
    };
    await redis.zadd(k.candles('1m', 'ETHUSDT'), next.start, JSON.stringify(next));
    await redis.hset(
      k.lastPrice(symbolPartition('ETHUSDT')),
      'ETHUSDT',
      JSON.stringify({ price: '2310.000000000000', eventTime: next.start + 500 }),
    );
    const view = buildTickerView(await source.snapshot());
    expect(pipelines).toHaveBeenCalledTimes(1);
    expect(view.symbols.map((s) => s.symbol)).toEqual(['ETHUSDT']);
    const eth = view.symbols[0]!;
    // 2310 vs the 10:01 open 2297.5 / the 09:55 5m open 2300 / the 09:56 open 2300
    expect([eth.change1m, eth.change5m, eth.change24h].map(String)).toEqual(['0.5441', '0.4348', '0.4348']);
    expect(eth.recent.map((c) => c.start)).toHaveLength(6);
    expect(eth.sparkline).toBe('▃▃▂▁▁█');
  });

  it('rejects a --user or --symbols that cannot be a key part, before reading', async () => {
    const { redis, keyspace } = await setup();
    for (const opts of [{ user: 'a:b' }, { user: 'x*' }, { symbols: ['BTC USDT'] }, { symbols: ['btcusdt'] }]) {
      const err = (() => {
        try {
          new RedisTickerSource(redis, { keyspace, ...opts });
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(CryptolambdaError);
      expect((err as CryptolambdaError).code).toBe('INVALID_ARGUMENT');
    }
  });

  it('counts corrupt values as skipped instead of failing the refresh', async () => {
    const { redis, keyspace, live } = await setup();
    await redis.hset(speedKeys(keyspace).lastPrice(symbolPartition('SOLUSDT')), 'SOLUSDT', '{not json');
    const source = new RedisTickerSource(redis, { keyspace, symbols: ['SOLUSDT'], clock: () => live.now });
    const view = buildTickerView(await source.snapshot());
    expect(view.skipped).toBe(1);
    // the price falls back to the current candle's close
    expect(view.symbols[0]?.price?.toString()).toBe('98.123400000000');
  });
});
