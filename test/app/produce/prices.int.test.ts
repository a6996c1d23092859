import { describe, expect, it } from 'vitest';
import { decodeDeadLetter, decodeRecord } from '../../../src/adapters/avro/codec.js';
import { runProducePrices } from '../../../src/app/produce/prices.js';
import { cleanupTopicsAfter, testConfig } from '../../support/int.js';
import { readTopics } from './read-topic.js';

describe('runProducePrices on the real broker', () => {
  it('pauses the source when Kafka is behind (maxUnacked) and still acknowledges everything', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    const r = await runProducePrices(config, {
      source: 'synthetic',
      symbols: ['BTCUSDT', 'ETHUSDT'],
      seed: 3n,
      startTime: Date.UTC(2025, 0, 1),
      rate: 0,
      count: 20_000,
      maxUnacked: 2000,
      producer: { maxBatch: 1000 },
    });
    expect(r.produced).toBe(20_000);
    expect(r.acked).toBe(20_000);
    expect(r.backpressureWaits).toBeGreaterThanOrEqual(9);
    expect(r.stoppedBy).toBe('count');
  });

  it('replays the Binance archives: events to raw.prices, bad rows to the dlq with file:line', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    const r = await runProducePrices(config, {
      source: 'replay',
      symbols: [],
      files: [
        'fixtures/binance-archives/BTCUSDT-trades-2025-01-01.zip',
        'fixtures/replay/BTCUSDT-trades-2024-12-31.csv',
        'fixtures/binance-archives/BNBUSDT-trades-2025-01-01.zip',
      ],
      speed: 0,
    });
    expect(r).toMatchObject({
      produced: 9,
      acked: 10,
      deadLettered: 1,
      stoppedBy: 'end-of-input',
      symbols: ['BNBUSDT', 'BTCUSDT'],
      rejections: [{ reason: 'price: not a decimal number: …', count: 1 }],
      files: [
        { file: 'BTCUSDT-trades-2025-01-01.zip', symbol: 'BTCUSDT', checksum: 'verified' },
        { file: 'BTCUSDT-trades-2024-12-31.csv', symbol: 'BTCUSDT', checksum: 'not-an-archive' },
        { file: 'BNBUSDT-trades-2025-01-01.zip', symbol: 'BNBUSDT', checksum: 'verified' },
      ],
    });
    // Merged by event time although the 2024 file came second: BTCUSDT's partition is in time order.
    const prices = (await readTopics(config, [r.topic])).map((x) => {
      const d = decodeRecord('prices', x.value!);
      if (!d.ok) throw new Error(d.reason);
      return d.event;
    });
    const btc = prices.filter((e) => e.symbol === 'BTCUSDT').map((e) => e.eventTime);
    expect(btc).toHaveLength(6);
    expect(btc).toEqual([...btc].sort((a, b) => a - b));
    const dead = (await readTopics(config, [r.deadLetterTopic])).map((x) => {
      const d = decodeDeadLetter(x.value!);
      if (!d.ok) throw new Error(d.reason);
      return [x.key, d.event.source, d.event.key, d.event.reason];
    });
    expect(dead).toEqual([
      ['replay', 'replay', 'BTCUSDT-trades-2025-01-01.zip:3', 'price: not a decimal number: "abc"'],
    ]);
  });
});
