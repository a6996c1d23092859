/**
 * `serve` over HTTP: portfolio latency and throughput at 1, 50 and 200 concurrent clients on 100k
 * users (target: p99 <= 25 ms at 50 clients), the same at 1k users for the scale ratio, a heavy
 * user (5,000 speed-layer events since the cutoff), and the live push fan-out: delivery p99 from a
 * checkpoint's commit to each of 100 and 1,000 SSE subscribers. Prints figures; asserts nothing.
 *
 *   npx tsc -p bench/tsconfig.json && node .cryptolambda/bench/bench/serve.js [users] [seconds]
 *
 * The server is the real CLI (`bin/run.js serve`) in its own process; the load comes from this
 * process over keep-alive connections (a closed loop: each client sends its next request when the
 * previous answer arrived). Both share the machine's 2 cores, so figures are conservative.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectRedis, type RedisConn } from '../src/adapters/redis/client.js';
import { LiveFeedWriter } from '../src/adapters/redis/live-feed.js';
import { keyspaceFor, speedKeys } from '../src/adapters/redis/speed-keys.js';
import { deleteKeyspace } from '../src/app/stream/run-stream.js';
import { type Config, resolveConfig } from '../src/config/config.js';
import { eventToRaw } from '../src/core/events/json.js';
import { tx } from '../test/core/build.js';
import { GOLDEN_D1 } from '../test/support/serving-golden.js';
import { report } from './report.js';
import { seedPortfolioUsers, userId } from './seed-portfolio.js';

const USERS = Number(process.argv[2] ?? 100_000);
const SECONDS = Number(process.argv[3] ?? 8);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

const startServe = async (config: Config, extra: string[] = []): Promise<{ url: string; proc: ChildProcess }> => {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      path.join(root, 'bin', 'run.js'),
      'serve',
      '--port',
      String(port),
      '--rate-limit',
      '0',
      '--max-subscribers',
      '5000',
      ...extra,
    ],
    {
      env: { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix, CRYPTOLAMBDA_LAKE_DIR: config.lakeDir },
      stdio: ['ignore', 'ignore', 'ignore'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`${url}/health/live`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { url, proc };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('serve did not start');
};

/** Closed-loop load: `clients` keep-alive connections, each sending GET path() back to back. */
const load = async (
  base: string,
  clients: number,
  seconds: number,
  pathOf: () => string,
): Promise<{ times: number[]; wall: number; errors: number }> => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const times: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const one = (p: string): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      http
        .get(`${base}${p}`, { agent }, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => {
            if (res.statusCode === 200) times.push(performance.now() - t0);
            else errors++;
            resolve();
          });
        })
        .on('error', () => {
          errors++;
          resolve();
        });
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) await one(pathOf());
    }),
  );
  const wall = performance.now() - t0;
  agent.destroy();
  return { times: times.sort((a, b) => a - b), wall, errors };
};

const portfolioRuns = async (
  config: Config,
  redis: RedisConn,
  users: number,
  clientsList: number[],
  opts: { seed?: boolean; uncached?: boolean } = {},
): Promise<void> => {
  if (opts.seed !== false) await seedPortfolioUsers(config, redis, users);
  const server = await startServe(config, opts.uncached ? ['--snapshot-cache-mb', '0'] : []);
  try {
    let seed = 42;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    // Warm-up: JIT, DuckDB's first Parquet opens.
    await load(server.url, 4, 2, () => `/v1/portfolio/${userId(rnd() % users)}`);
    for (const clients of clientsList) {
      const r = await load(server.url, clients, SECONDS, () => `/v1/portfolio/${userId(rnd() % users)}`);
      const rps = (r.times.length * 1000) / r.wall;
      const note = `${users.toLocaleString('en-US')} users, ${clients} clients${opts.uncached ? ', snapshots read from Parquet' : ''}`;
      console.log(
        `portfolio over HTTP, ${note}: p50 ${pct(r.times, 50).toFixed(2)} ms, p99 ${pct(r.times, 99).toFixed(2)} ms, ${Math.round(rps)} req/s, ${r.times.length} requests, ${r.errors} errors`,
      );
      const tag = `${clients} clients${opts.uncached ? ', uncached' : ''}`;
      report('serve', `portfolio p50 (${tag})`, pct(r.times, 50), 'ms', note);
      report('serve', `portfolio p99 (${tag})`, pct(r.times, 99), 'ms', note);
      report('serve', `portfolio throughput (${tag})`, rps, 'req/s', note);
    }
    if (users === USERS && !opts.uncached) {
      // A heavy user: 5,000 events in the speed layer since the cutoff, replayed on every read.
      const heavy = 'uHEAVY';
      const keys = speedKeys(keyspaceFor(config.topicPrefix));
      const t0 = Date.parse(`${GOLDEN_D1}T00:00:00Z`);
      const events: Record<string, string> = {};
      for (let i = 0; i < 5000; i++) {
        const e = tx(i % 2 === 0 ? 'buy' : 'sell', {
          eventId: `heavy-${i}`,
          userId: heavy,
          asset: 'BTC',
          quantity: '0.001',
          price: String(40_000 + (i % 100)),
          eventTime: t0 + i * 1000,
        });
        events[e.eventId] = JSON.stringify(eventToRaw(e));
      }
      await redis.hset(keys.delta(heavy, GOLDEN_D1), events);
      const r = await load(server.url, 1, 3, () => `/v1/portfolio/${heavy}`);
      console.log(
        `heavy user (5,000 speed events): p50 ${pct(r.times, 50).toFixed(2)} ms, p99 ${pct(r.times, 99).toFixed(2)} ms (1 client)`,
      );
      report('serve', 'heavy user p50 (5,000 events, 1 client)', pct(r.times, 50), 'ms', 'replayed per read');
    }
  } finally {
    server.proc.kill('SIGTERM');
  }
};

/** N SSE subscribers; ticks committed through the checkpoint's writer; delivery = receive - commit. */
const fanout = async (config: Config, redis: RedisConn, subscribers: number, ticks: number): Promise<number[]> => {
  const server = await startServe(config);
  const delays: number[] = [];
  const reqs: http.ClientRequest[] = [];
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: subscribers + 10 });
    let open = 0;
    await new Promise<void>((resolve) => {
      for (let i = 0; i < subscribers; i++) {
        const req = http.get(`${server.url}/v1/live/prices`, { agent }, (res) => {
          res.setEncoding('utf8');
          if (++open === subscribers) resolve();
          let buf = '';
          res.on('data', (chunk: string) => {
            const now = Date.now();
            buf += chunk;
            for (let j = buf.indexOf('\n\n'); j >= 0; j = buf.indexOf('\n\n')) {
              const m = /^id: (\d+)-/m.exec(buf.slice(0, j));
              if (m) delays.push(now - Number(m[1]));
              buf = buf.slice(j + 2);
            }
          });
        });
        reqs.push(req);
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    const writer = new LiveFeedWriter(keyspaceFor(config.topicPrefix));
    for (let i = 0; i < ticks; i++) {
      const multi = redis.multi();
      writer.prices({ add: (cmd, key, ...args) => void multi.call(cmd, key, ...args) }, [
        { symbol: 'BTCUSDT', price: `${50_000 + i}.000000000000`, eventTime: Date.now(), candles: [] },
      ]);
      await multi.exec();
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1000));
    agent.destroy();
  } finally {
    for (const r of reqs) r.destroy();
    server.proc.kill('SIGTERM');
  }
  return delays.sort((a, b) => a - b);
};

const main = async (): Promise<void> => {
  const mk = (): Config =>
    resolveConfig(
      {
        topicPrefix: `bench${randomUUID().slice(0, 8)}.`,
        lakeDir: mkdtempSync(path.join(tmpdir(), 'cl-bench-serve-')),
      },
      { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: '' },
    );
  const redis = await connectRedis(mk(), { name: 'cl-bench-serve' });
  const configs: Config[] = [];
  try {
    const small = mk();
    configs.push(small);
    await portfolioRuns(small, redis, Math.max(1, Math.round(USERS / 100)), [50]);
    const big = mk();
    configs.push(big);
    await portfolioRuns(big, redis, USERS, [1, 50, 200]);
    await portfolioRuns(big, redis, USERS, [50], { seed: false, uncached: true });

    const live = mk();
    configs.push(live);
    const ticks = 50;
    const d100 = await fanout(live, redis, 100, ticks);
    const d1000 = await fanout(live, redis, 1000, ticks);
    for (const [n, d] of [
      [100, d100],
      [1000, d1000],
    ] as const) {
      console.log(
        `live fan-out to ${n} subscribers, ${ticks} ticks: ${d.length} deliveries (of ${n * ticks}), p50 ${pct(d, 50)} ms, p99 ${pct(d, 99)} ms, max ${d.at(-1)} ms`,
      );
      report(
        'serve',
        `live delivery p99 (${n} subscribers)`,
        pct(d, 99),
        'ms',
        `${ticks} ticks, ${d.length} deliveries`,
      );
    }
    console.log(`fan-out ratio 1000/100 subscribers: p99 x${(pct(d1000, 99) / Math.max(1, pct(d100, 99))).toFixed(2)}`);
  } finally {
    for (const c of configs) {
      await deleteKeyspace(redis, keyspaceFor(c.topicPrefix));
      rmSync(c.lakeDir, { recursive: true, force: true });
    }
    redis.disconnect();
  }
};

await main();
