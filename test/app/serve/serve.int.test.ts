import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTopics, withAdmin } from '../../../src/adapters/kafka/client.js';
import { connectRedis } from '../../../src/adapters/redis/client.js';
import { keyspaceFor } from '../../../src/adapters/redis/speed-keys.js';
import { runIngestRaw } from '../../../src/app/batch/ingest-raw.js';
import { runBatch } from '../../../src/app/batch/run-batch.js';
import { type RunningServer, startServer } from '../../../src/app/serve/serve.js';
import { assertSafeBinding } from '../../../src/app/serve/server.js';
import { deleteKeyspace, runStream } from '../../../src/app/stream/run-stream.js';
import type { Config } from '../../../src/config/config.js';
import type { DomainEvent, PriceEvent } from '../../../src/core/events/types.js';
import { trade, tx } from '../../core/build.js';
import { runCli } from '../../support/cli.js';
import { testConfig } from '../../support/int.js';
import { GOLDEN_D, GOLDEN_D1, goldenEvents } from '../../support/serving-golden.js';
import { produceEvents } from '../batch/support.js';

const at = (iso: string): number => Date.parse(iso);
const btc = (iso: string, price: string, id: string): PriceEvent =>
  trade({ eventId: `synthetic:BTCUSDT:${id}`, symbol: 'BTCUSDT', price, quantity: '0.1', eventTime: at(iso) });

let config: Config;
let server: RunningServer;
const env = () => ({ CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix, CRYPTOLAMBDA_LAKE_DIR: config.lakeDir });

const get = async (p: string, headers: Record<string, string> = {}) => {
  const r = await fetch(`${server.url}${p}`, { headers });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

const cliJson = async (args: string[]): Promise<unknown> => {
  const r = await runCli([...args, '--json'], env());
  return JSON.parse(r.stdout);
};

/** Fields that are the reading clock, not data: equal by construction, different by milliseconds. */
const unclock = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v), (k, x) => (['now', 'priceAgeMs', 'watermarkDelayMs', 'at'].includes(k) ? 0 : x));

/** Read an SSE response until `until` returns true on the events so far. */
const readSse = async (
  p: string,
  until: (events: { id: string; event: string; data: unknown; at: number }[]) => boolean,
  headers: Record<string, string> = {},
  timeoutMs = 15_000,
) => {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const events: { id: string; event: string; data: unknown; at: number }[] = [];
  try {
    const res = await fetch(`${server.url}${p}`, { headers, signal: ac.signal });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i = buf.indexOf('\n\n');
      while (i >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const f: Record<string, string> = {};
        for (const line of block.split('\n')) {
          const m = /^(\w+): ?(.*)$/.exec(line);
          if (m) f[m[1]!] = m[2]!;
        }
        if (f.event && f.data)
          events.push({ id: f.id ?? '', event: f.event, data: JSON.parse(f.data), at: Date.now() });
        i = buf.indexOf('\n\n');
      }
    }
    ac.abort();
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
  }
  return events;
};

describe('serve on the real stack', () => {
  let stop: AbortController;
  let worker: Promise<unknown>;

  beforeAll(async () => {
    config = testConfig({ lakeDir: mkdtempSync(path.join(tmpdir(), 'cl-serve-')) });
    await withAdmin(config, (admin) => ensureTopics(admin, config.topicPrefix));
    const g = goldenEvents('alice');
    const bob = tx('buy', {
      eventId: 'bob-1',
      userId: 'bob',
      asset: 'ETH',
      quantity: '1',
      price: '2200',
      eventTime: at(`${GOLDEN_D}T14:00:00Z`),
    });
    const events: DomainEvent[] = [
      btc(`${GOLDEN_D}T09:00:00Z`, '40500', 'b1'),
      btc(`${GOLDEN_D}T23:59:20Z`, '41000', 'b4'),
      btc(`${GOLDEN_D1}T00:00:30Z`, '42000', 'b5'),
      btc(`${GOLDEN_D1}T13:00:00Z`, '50000', 'b7'),
      trade({
        eventId: 'synthetic:ETHUSDT:e1',
        symbol: 'ETHUSDT',
        price: '2100',
        quantity: '1',
        eventTime: at(`${GOLDEN_D}T20:00:00Z`),
      }),
      trade({
        eventId: 'synthetic:ETHUSDT:e2',
        symbol: 'ETHUSDT',
        price: '2500',
        quantity: '1',
        eventTime: at(`${GOLDEN_D1}T13:00:00Z`),
      }),
      ...g.dayD,
      ...g.dayD1,
      bob,
    ];
    await produceEvents(config, events);
    await runStream(config, {
      exitWhenIdleMs: 1500,
      checkpointIntervalMs: 200,
      metricsEveryMs: 60_000,
      speed: { userIdleMs: 500 },
    });
    await runIngestRaw(config);
    await runBatch(config, { date: GOLDEN_D });
    expect((await runCli(['reconcile', '--date', GOLDEN_D, '--json'], env())).code).toBe(0);
    server = await startServer(config, { host: '127.0.0.1', port: 0, rateLimitPerMinute: 100_000, maxSubscribers: 50 });
    // A live worker from here on: what the tests below produce reaches Redis (and the feed) in ~100 ms.
    stop = new AbortController();
    worker = runStream(config, {
      checkpointIntervalMs: 50,
      metricsEveryMs: 60_000,
      speed: { userIdleMs: 100 },
      signal: stop.signal,
    });
  }, 180_000);

  afterAll(async () => {
    stop?.abort();
    await worker?.catch(() => undefined);
    await server?.close();
    const r = await connectRedis(config);
    await deleteKeyspace(r, keyspaceFor(config.topicPrefix));
    r.disconnect();
    await withAdmin(config, async (admin) => {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(config.topicPrefix));
      if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    });
    rmSync(config.lakeDir, { recursive: true, force: true });
  }, 60_000);

  it('every query route returns exactly its command --json (one use case serves both)', async () => {
    const from = at(`${GOLDEN_D}T23:50:00Z`);
    const to = at(`${GOLDEN_D1}T00:10:00Z`);
    const pairs: [string, string[]][] = [
      ['/v1/portfolio/alice', ['portfolio', 'alice']],
      ['/v1/portfolio/bob', ['portfolio', 'bob']],
      [
        `/v1/rewards/alice?from=${GOLDEN_D}&to=${GOLDEN_D1}`,
        ['rewards', 'alice', '--from', GOLDEN_D, '--to', GOLDEN_D1],
      ],
      [
        `/v1/ohlcv/btcusdt?interval=1m&from=${from}&to=${to}`,
        ['ohlcv', 'btcusdt', '--interval', '1m', '--from', String(from), '--to', String(to)],
      ],
      [
        `/v1/ohlcv/ETHUSDT?interval=5m&from=${GOLDEN_D}&to=${at(`${GOLDEN_D1}T23:55:00Z`)}`,
        ['ohlcv', 'ETHUSDT', '--interval', '5m', '--from', GOLDEN_D, '--to', String(at(`${GOLDEN_D1}T23:55:00Z`))],
      ],
      ['/v1/top?by=pnl', ['top', '--by', 'pnl']],
      ['/v1/top?by=spend&days=30&limit=1', ['top', '--by', 'spend', '--days', '30', '--limit', '1']],
      ['/v1/correlations', ['correlations']],
      [`/v1/reconcile/${GOLDEN_D}`, ['reconcile', '--date', GOLDEN_D]],
      ['/v1/pipeline/status', ['pipeline', 'status']],
    ];
    for (const [route, args] of pairs) {
      const [http, cli] = await Promise.all([get(route), cliJson(args)]);
      expect(http.status, route).toBe(200);
      if (args[0] === 'reconcile') {
        // The stored report is the one the run printed; a re-run writes the same report again.
        expect(http.body, route).toEqual(cli);
      } else expect(unclock(http.body), route).toEqual(unclock(cli));
    }
    const s = await get('/v1/stream/status');
    const sc = (await cliJson(['stream', 'status'])) as { partitions: unknown; keyspace: string };
    expect(s.status).toBe(200);
    expect(s.body.keyspace).toBe(sc.keyspace);
    expect(Object.keys(s.body).sort()).toEqual(Object.keys(sc).sort());
  }, 120_000);

  it('validates like the CLI: one-line JSON errors, never a stack trace', async () => {
    const bad = await get('/v1/portfolio/a%20b');
    const cli = await runCli(['portfolio', 'a b', '--json'], env());
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: { code: 'INVALID_ARGUMENT', message: JSON.parse(cli.stdout).error.message } });
    expect((await get('/v1/ohlcv/BTC-USD')).body).toEqual({
      error: {
        code: 'INVALID_ARGUMENT',
        message: 'invalid symbol "BTC-USD": expected 2-20 letters or digits, e.g. BTCUSDT',
      },
    });
    expect((await get('/v1/reconcile/2026-02-30')).status).toBe(400);
    const missing = await get('/v1/portfolio/dave');
    expect([missing.status, missing.body]).toEqual([
      404,
      { error: expect.objectContaining({ code: 'NOT_FOUND', message: 'no data for user dave' }) },
    ]);
    expect((await get('/v1/top?by=volume')).status).toBe(400);
    expect((await get('/nope')).status).toBe(404);
  });

  it('serves OpenAPI from the route schemas, health, and refuses an open bind without a token', async () => {
    const doc = (await get('/openapi.json')).body as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/health/live',
        '/health/ready',
        '/v1/correlations',
        '/v1/live/portfolio/{user}',
        '/v1/live/prices',
        '/v1/ohlcv/{symbol}',
        '/v1/pipeline/status',
        '/v1/portfolio/{user}',
        '/v1/reconcile/{date}',
        '/v1/rewards/{user}',
        '/v1/stream/status',
        '/v1/top',
      ].sort(),
    );
    expect(JSON.stringify(doc.paths['/v1/portfolio/{user}'])).toContain('^[A-Za-z0-9_-]{1,64}$');
    expect(await get('/health/live')).toEqual({ status: 200, body: { ok: true } });
    const ready = await get('/health/ready');
    expect([ready.status, ready.body.ok]).toEqual([200, true]);
    expect(() => assertSafeBinding({ host: '0.0.0.0' })).toThrow(/without a token/);
    expect(() => assertSafeBinding({ host: '0.0.0.0', token: 'x'.repeat(32) })).not.toThrow();
    expect(
      (await fetch(`${server.url}/v1/top`, { method: 'GET', headers: { origin: 'http://evil.example' } })).headers.get(
        'access-control-allow-origin',
      ),
    ).toBeNull();
  });

  it('a bearer token guards /v1 and /metrics; rate and subscriber limits answer 429 / 409', async () => {
    const guarded = await startServer(config, {
      host: '127.0.0.1',
      port: 0,
      token: 't'.repeat(24),
      rateLimitPerMinute: 5,
      maxSubscribers: 1,
    });
    try {
      const no = await fetch(`${guarded.url}/v1/portfolio/alice`);
      expect([no.status, await no.json()]).toEqual([
        401,
        { error: { code: 'UNAUTHORIZED', message: 'missing or wrong bearer token' } },
      ]);
      const auth = { authorization: `Bearer ${'t'.repeat(24)}` };
      expect((await fetch(`${guarded.url}/v1/portfolio/alice`, { headers: auth })).status).toBe(200);
      expect((await fetch(`${guarded.url}/metrics`)).status).toBe(401);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await fetch(`${guarded.url}/v1/portfolio/alice`, { headers: auth })).status);
      expect(statuses.at(-1)).toBe(429);
    } finally {
      await guarded.close();
    }
  });

  it('live prices: a committed tick reaches the subscriber fast; Last-Event-ID replays what it missed', async () => {
    const base = Date.now();
    const first = readSse('/v1/live/prices?symbols=BTCUSDT', (e) => e.length >= 1);
    await new Promise((r) => setTimeout(r, 300));
    await produceEvents(config, [btc(new Date(base).toISOString(), '51000', 'live1')]);
    const got = await first;
    expect(got[0]!.event).toBe('price');
    expect(got[0]!.data).toMatchObject({ symbol: 'BTCUSDT', price: '51000.000000000000', eventTime: base });
    // The id is the commit time (Redis server time at EXEC): delivery = receive - commit.
    const delivery = got[0]!.at - Number(got[0]!.id.split('-')[0]);
    expect(delivery).toBeLessThan(150);
    // The tick's open windows (a checkpoint may also carry older windows the watermark just sealed).
    const candle = (got[0]!.data as { candles: { interval: string; close: string; final: boolean }[] }).candles;
    expect(
      candle
        .filter((c) => !c.final)
        .map((c) => [c.interval, c.close])
        .sort(),
    ).toEqual([
      ['1m', '51000.000000000000'],
      ['5m', '51000.000000000000'],
    ]);
    // Disconnected: two more ticks are committed; the reconnect with Last-Event-ID gets both, in order.
    await produceEvents(config, [btc(new Date(base + 1000).toISOString(), '51100', 'live2')]);
    await new Promise((r) => setTimeout(r, 400));
    await produceEvents(config, [btc(new Date(base + 2000).toISOString(), '51200', 'live3')]);
    await new Promise((r) => setTimeout(r, 400));
    const replay = await readSse('/v1/live/prices?symbols=BTCUSDT', (e) => e.length >= 2, {
      'last-event-id': got[0]!.id,
    });
    expect(replay.map((e) => (e.data as { price: string }).price)).toEqual([
      '51100.000000000000',
      '51200.000000000000',
    ]);
  }, 60_000);

  it('live portfolio: the whole portfolio after each committed change of the user', async () => {
    const sub = readSse('/v1/live/portfolio/bob', (e) => e.length >= 2);
    await new Promise((r) => setTimeout(r, 300));
    await produceEvents(config, [
      tx('buy', {
        eventId: 'bob-live',
        userId: 'bob',
        asset: 'ETH',
        quantity: '2',
        price: '2400',
        eventTime: Date.now(),
      }),
    ]);
    const got = await sub;
    expect(got.map((e) => e.event)).toEqual(['portfolio', 'portfolio']);
    const qty = (e: (typeof got)[number]) =>
      (e.data as { positions: { asset: string; quantity: string }[] }).positions.find((p) => p.asset === 'ETH')
        ?.quantity;
    expect([qty(got[0]!), qty(got[1]!)]).toEqual(['1.000000000000000000', '3.000000000000000000']);
    const http = await get('/v1/portfolio/bob');
    expect(unclock(got[1]!.data)).toEqual(unclock(http.body));
  }, 60_000);

  it('/metrics passes promtool and carries the HTTP and live metrics, with no user id in any label', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const check = await new Promise<{ code: number; out: string }>((resolve) => {
      const p = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, out: stdout + stderr }),
      );
      p.stdin!.end(text);
    });
    expect(check.out).toBe('');
    expect(check.code).toBe(0);
    expect(text).toContain(
      'cryptolambda_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/v1/portfolio/:user",status_code="200"}',
    );
    expect(text).toContain('cryptolambda_live_delivery_seconds_count{stream="prices"}');
    expect(text).toContain('cryptolambda_reconcile_mismatches{kind="mismatched_field"} 0');
    for (const u of ['alice', 'bob', 'dave']) expect(text).not.toContain(`"${u}"`);
  });
});
