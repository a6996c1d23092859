import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import {
  BinanceTradeStream,
  backoffDelay,
  combinedStreamUrls,
  type Frame,
  type LifecycleEvent,
} from '../../../src/adapters/binance/ws-client.js';

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate();
    await new Promise((r) => s.close(r));
  }
});

const listen = async (): Promise<{ wss: WebSocketServer; endpoint: string }> => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(wss);
  await new Promise((r) => wss.once('listening', r));
  return { wss, endpoint: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` };
};

const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('combinedStreamUrls', () => {
  it('puts at most 1024 streams on one connection', () => {
    const symbols = Array.from({ length: 2049 }, (_, i) => `S${i}USDT`);
    const urls = combinedStreamUrls('wss://stream.binance.com:9443/', symbols);
    expect(urls).toHaveLength(3);
    expect(urls.map((u) => u.split('=')[1]!.split('/').length)).toEqual([1024, 1024, 1]);
    expect(urls[2]).toBe('wss://stream.binance.com:9443/stream?streams=s2048usdt@trade');
    expect(combinedStreamUrls('ws://x', ['BTCUSDT', 'ETHUSDT'])).toEqual([
      'ws://x/stream?streams=btcusdt@trade/ethusdt@trade',
    ]);
  });
});

describe('backoffDelay', () => {
  it('doubles up to the cap, with half of it jittered', () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 500, 30_000, () => 0))).toEqual([250, 500, 1000, 2000, 15000]);
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 500, 30_000, () => 1))).toEqual([500, 1000, 2000, 4000, 30000]);
  });
});

describe('BinanceTradeStream against a local server', () => {
  it('answers protocol pings with pongs (ws autoPong) and delivers frames', async () => {
    const { wss, endpoint } = await listen();
    let pongs = 0;
    wss.on('connection', (sock) => {
      sock.on('pong', (data) => {
        if (data.toString() === 'hi') pongs++;
      });
      sock.ping('hi');
      sock.send('{"a":1}');
    });
    const s = new BinanceTradeStream({ symbols: ['BTCUSDT'], endpoint });
    s.start();
    const it = s.frames();
    const first = await it.next();
    expect((first.value as Frame).text).toBe('{"a":1}');
    await until(() => pongs === 1 && s.stats.pings === 1);
    s.stop();
    expect((await it.next()).done).toBe(true);
  });

  it('splits symbols over connections and reconnects with backoff after a drop', async () => {
    const { wss, endpoint } = await listen();
    const paths: string[] = [];
    wss.on('connection', (sock, req) => {
      paths.push(req.url ?? '');
      if (paths.length === 1) sock.terminate(); // the first connection drops at once
    });
    const events: LifecycleEvent[] = [];
    const s = new BinanceTradeStream({
      symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'],
      endpoint,
      maxStreamsPerConnection: 2,
      initialBackoffMs: 20,
      random: () => 0.5,
      onLifecycle: (e) => events.push(e),
    });
    s.start();
    await until(() => paths.length === 3 && s.stats.connects >= 2 && s.stats.reconnects === 1);
    s.stop();
    expect(paths.sort()).toEqual(
      [
        '/stream?streams=btcusdt@trade/ethusdt@trade',
        '/stream?streams=btcusdt@trade/ethusdt@trade',
        '/stream?streams=solusdt@trade',
      ].sort(),
    );
    expect(events.find((e) => e.type === 'reconnect-scheduled')).toMatchObject({ delayMs: 15, attempt: 0 });
  });

  it('replaces a connection before the cut-off without a gap (planned reconnect)', async () => {
    const { wss, endpoint } = await listen();
    let n = 0;
    wss.on('connection', (sock) => {
      const id = ++n;
      const t = setInterval(() => sock.readyState === sock.OPEN && sock.send(`conn${id}`), 5);
      sock.on('close', () => clearInterval(t));
    });
    const s = new BinanceTradeStream({ symbols: ['BTCUSDT'], endpoint, plannedReconnectMs: 100 });
    s.start();
    const seen = new Set<string>();
    for await (const f of s.frames()) {
      seen.add(f.text);
      if (seen.has('conn2')) break;
    }
    await until(() => s.stats.plannedReconnects >= 1);
    s.stop();
    expect(s.stats.reconnects).toBe(0);
    expect([...seen].slice(0, 2)).toEqual(['conn1', 'conn2']);
  });

  it('drops the oldest frames when the consumer is too slow, and counts them', async () => {
    const { wss, endpoint } = await listen();
    wss.on('connection', (sock) => {
      for (let i = 0; i < 10; i++) sock.send(`f${i}`);
    });
    const s = new BinanceTradeStream({ symbols: ['BTCUSDT'], endpoint, maxBuffered: 4 });
    s.start();
    await until(() => s.stats.frames === 10);
    s.stop();
    const got: string[] = [];
    for await (const f of s.frames()) got.push(f.text);
    expect(got).toEqual(['f6', 'f7', 'f8', 'f9']);
    expect(s.stats.dropped).toBe(6);
  });
});
