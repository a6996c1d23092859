import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { WebSocketServer } from 'ws';
import { decodeDeadLetter, decodeRecord } from '../../../src/adapters/avro/codec.js';
import { runProducePrices } from '../../../src/app/produce/prices.js';
import { cleanupTopicsAfter, testConfig } from '../../support/int.js';
import { readTopics } from './read-topic.js';

const fixture = (f: string): string[] =>
  readFileSync(`fixtures/binance/${f}`, 'utf8')
    .split('\n')
    .filter((l) => l !== '');

describe('produce prices --source binance (local WebSocket server → real Kafka)', () => {
  it('survives a dropped connection: every valid trade reaches raw.prices, malformed frames reach the dlq', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    // 2024 frames (with b/a order ids) first, then the current payload: trade ids rise per symbol.
    const frames = [...fixture('combined-2024-with-order-ids.jsonl'), ...fixture('combined-2025.jsonl')];
    expect(frames).toHaveLength(18);

    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    onTestFinished(async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
    });
    const urls: string[] = [];
    wss.on('connection', (sock, req) => {
      urls.push(req.url ?? '');
      if (urls.length === 1) {
        // First connection: frames 0..9, then the link drops without a close handshake.
        for (const f of frames.slice(0, 10)) sock.send(f);
        setTimeout(() => sock.terminate(), 50);
      } else {
        // After the reconnect the server repeats the last two frames (duplicates), then the rest.
        for (const f of frames.slice(8)) sock.send(f);
      }
    });

    const lifecycle: string[] = [];
    const r = await runProducePrices(config, {
      source: 'binance',
      symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'],
      endpoint: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
      ws: { initialBackoffMs: 50, maxBackoffMs: 200 },
      count: 13,
      durationMs: 30_000,
      onLifecycle: (e) => lifecycle.push(e.type),
    });

    expect(urls).toEqual([
      '/stream?streams=btcusdt@trade/ethusdt@trade/solusdt@trade',
      '/stream?streams=btcusdt@trade/ethusdt@trade/solusdt@trade',
    ]);
    expect(lifecycle.slice(0, 4)).toEqual(['open', 'close', 'reconnect-scheduled', 'open']);
    expect(r).toMatchObject({
      source: 'binance',
      produced: 13,
      acked: 16,
      deadLettered: 3,
      ignored: 2,
      duplicates: 2,
      dropped: 0,
      reconnects: 1,
      stoppedBy: 'count',
      symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'],
      firstEventTime: 1717243200004,
      lastEventTime: 1748779200789,
    });

    const records = await readTopics(config, [r.topic, r.deadLetterTopic]);
    const prices = records.filter((x) => x.topic === r.topic);
    const ids = prices.map((x) => {
      const d = decodeRecord('prices', x.value!);
      if (!d.ok) throw new Error(d.reason);
      expect(x.key).toBe(d.event.symbol);
      return d.event.eventId;
    });
    expect(ids.sort()).toEqual(
      [
        'binance:BTCUSDT:3630000001',
        'binance:BTCUSDT:3630000002',
        'binance:ETHUSDT:1448000001',
        'binance:SOLUSDT:720000001',
        'binance:BTCUSDT:4958123001',
        'binance:BTCUSDT:4958123002',
        'binance:BTCUSDT:4958123003',
        'binance:BTCUSDT:4958123004',
        'binance:BTCUSDT:4958123006',
        'binance:ETHUSDT:2471530310',
        'binance:ETHUSDT:2471530311',
        'binance:ETHUSDT:2471530313',
        'binance:ETHUSDT:2471530314',
      ].sort(),
    );
    // Per symbol (= per partition), Kafka holds the trades in exchange order.
    const btc = prices.filter((x) => x.key === 'BTCUSDT').map((x) => Number(x.offset));
    expect(btc).toEqual([...btc].sort((a, b) => a - b));

    const dead = records
      .filter((x) => x.topic === r.deadLetterTopic)
      .map((x) => {
        const d = decodeDeadLetter(x.value!);
        if (!d.ok) throw new Error(d.reason);
        expect(x.key).toBe('binance');
        return { reason: d.event.reason, key: d.event.key, payload: d.event.payload.toString('utf8') };
      });
    expect(dead).toEqual([
      { reason: 'data.p must be a decimal string, got 2528.59', key: 'ethusdt@trade', payload: frames[12] },
      { reason: expect.stringMatching(/^not JSON: /), key: undefined, payload: frames[13] },
      { reason: 'price: must be > 0, got 0.00000000', key: 'btcusdt@trade', payload: frames[16] },
    ]);
  });
});
