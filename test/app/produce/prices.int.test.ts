import { describe, expect, it } from 'vitest';
import { decodeDeadLetter } from '../../../src/adapters/avro/codec.js';
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

  it('replays the CSV fixtures: events to raw.prices, bad rows to the dlq with file:line', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    const r = await runProducePrices(config, {
      source: 'replay',
      symbols: [],
      files: ['fixtures/replay/BTCUSDT-trades-2025-01-01.csv', 'fixtures/replay/ETHUSDT-1m-2024-12-31.csv'],
      speed: 0,
    });
    expect(r).toMatchObject({
      produced: 5,
      acked: 7,
      deadLettered: 2,
      stoppedBy: 'end-of-input',
      symbols: ['BTCUSDT', 'ETHUSDT'],
    });
    const dead = (await readTopics(config, [r.deadLetterTopic])).map((x) => {
      const d = decodeDeadLetter(x.value!);
      if (!d.ok) throw new Error(d.reason);
      return [x.key, d.event.source, d.event.key, d.event.reason];
    });
    expect(dead).toEqual([
      ['replay', 'replay', 'BTCUSDT-trades-2025-01-01.csv:4', 'price: not a decimal number: "abc"'],
      ['replay', 'replay', 'ETHUSDT-1m-2024-12-31.csv:3', 'expected 12 columns (klines), got 11'],
    ]);
  });
});
