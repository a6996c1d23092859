import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { connectRedis } from '../../../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../../src/adapters/redis/speed-keys.js';
import { SPEED_PARTITIONS } from '../../../src/core/partitioning.js';
import { BIN, runCli } from '../../support/cli.js';
import { seedLiveToday } from './seed.js';

/**
 * `cryptolambda ticker` through the built CLI (non-TTY stdout) against the real Redis. The live
 * fixture is moved to the current minute (without its day-old candles, so the 24h reference is the
 * first candle of today's series whatever the seconds are) and written under a random keyspace.
 */
const seed = async () => {
  const config = await seedLiveToday();
  return ['--topic-prefix', config.topicPrefix, '--stale-after', '600000'];
};

const TS = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z';
const expectLines = (stdout: string, lines: string[]) => {
  const got = stdout.trimEnd().split('\n');
  expect(got).toHaveLength(lines.length);
  for (const [i, l] of got.entries()) {
    expect(l).toMatch(new RegExp(`^${TS} ${lines[i]!.replace(/[()+.|]/g, '\\$&')}$`));
  }
};

describe('cryptolambda ticker (built CLI, real Redis)', () => {
  it('--once prints one plain line per symbol and the portfolio', async () => {
    const flags = await seed();
    const r = await runCli(['ticker', '--once', '--user', 'alice', ...flags]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectLines(r.stdout, [
      'BTCUSDT 43000.12 +0.52% 1m +0.02% 5m +0.16% 24h',
      'ETHUSDT 2297.50 -0.02% 1m -0.11% 5m -0.11% 24h',
      'SOLUSDT 98.1234 -0.38% 1m -0.38% 5m -0.38% 24h',
      'USER alice value 27,095.06 pnl +1,894.56 (+7.52%) tier gold unpriced ADA',
    ]);
  });

  it('--once --json prints the view model with exact decimal strings', async () => {
    const flags = await seed();
    const r = await runCli(['ticker', '--once', '--json', '--symbols', 'btcusdt', '--user', 'alice', ...flags]);
    expect(r.code).toBe(0);
    const view = JSON.parse(r.stdout);
    expect(Object.keys(view)).toEqual([
      'now',
      'watermark',
      'stale',
      'staleReason',
      'symbols',
      'movers',
      'user',
      'skipped',
    ]);
    expect(view.stale).toBe(false);
    expect(view.symbols).toHaveLength(1);
    expect(view.symbols[0]).toMatchObject({
      symbol: 'BTCUSDT',
      price: '43000.120000000000',
      change1m: '0.5200',
      change5m: '0.0235',
      change24h: '0.1633',
      sparkline: '▅▆▅▄▃▄▄▆▇█▁▇',
    });
    expect(view.symbols[0].recent).toHaveLength(10);
    expect(view.movers).toEqual({ basis: '24h', top: [{ symbol: 'BTCUSDT', change: '0.1633' }] });
    expect(view.user).toMatchObject({
      id: 'alice',
      tier: 'gold',
      value: '27095.060000000000',
      costBasis: '25200.500000000000',
      unrealizedPnl: '1894.560000000000',
      unrealizedPct: '7.5179',
      unpriced: ['ADA'],
    });
  });

  it('rejects a user id that cannot be a Redis key part, and an interval under a second', async () => {
    const bad = await runCli(['ticker', '--once', '--user', 'alice:*']);
    expect([bad.code, bad.stdout, bad.stderr]).toEqual([2, '', 'Error: invalid user id "alice:*"\n']);
    const fast = await runCli(['ticker', '--interval', '500']);
    expect(fast.code).toBe(2);
    expect(fast.stderr).toContain('Parsing --interval: 500ms is below the minimum 1000ms');
  });

  it('without --once keeps printing every interval and exits cleanly on SIGTERM', async () => {
    const flags = await seed();
    const child = spawn(process.execPath, [BIN, 'ticker', '--symbols', 'BTCUSDT,SOLUSDT', ...flags], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // wait for the second refresh (interval 1 s), then stop
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (stdout.split('\n').length > 4) {
          clearInterval(t);
          resolve();
        }
      }, 50);
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.length % 2).toBe(0);
    for (const [i, l] of lines.entries()) {
      expect(l).toMatch(new RegExp(`^${TS} ${i % 2 === 0 ? 'BTCUSDT 43000.12' : 'SOLUSDT 98.1234'} `));
    }
  });

  it('staleness follows the price watermark: quiet user topics never make a live ticker STALE', async () => {
    const config = await seedLiveToday();
    const redis = await connectRedis(config);
    const k = speedKeys(keyspaceFor(config.topicPrefix));
    const mark = async (priceAgoMs: number) => {
      const now = Date.now();
      for (const n of SPEED_PARTITIONS) {
        // The users' frontier an hour behind: the user topics have been quiet (issue 13's defect).
        await redis.hset(k.watermarks(n), 'price', String(now - priceAgoMs), 'users', String(now - 3_600_000));
      }
    };
    const view = async () => {
      const r = await runCli([
        'ticker',
        '--once',
        '--json',
        '--topic-prefix',
        config.topicPrefix,
        '--stale-after',
        '10s',
      ]);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout) as { stale: boolean; staleReason: string | null };
    };
    try {
      await mark(2_000);
      expect(await view()).toMatchObject({ stale: false, staleReason: null });
      await mark(60_000);
      expect((await view()).staleReason).toMatch(/^watermark 6\ds behind$/);
    } finally {
      redis.disconnect();
    }
  });
});
