import { describe, expect, it } from 'vitest';
import {
  formatProgress,
  formatSummary,
  parseSeed,
  parseStart,
  parseSymbols,
} from '../../../src/app/produce/options.js';

describe('produce prices flag parsing', () => {
  it('normalizes symbols', () => {
    expect(parseSymbols(' btcusdt,ETHUSDT,,btcUSDT ')).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(() => parseSymbols('BTC/USDT')).toThrow('--symbols: "BTC/USDT" is not an exchange symbol');
    expect(() => parseSymbols(' , ')).toThrow('--symbols: no symbol given');
  });

  it('parses seeds and start times', () => {
    expect(parseSeed('18446744073709551615')).toBe(18446744073709551615n);
    expect(() => parseSeed('-1')).toThrow('--seed: "-1" is not an integer in 0..2^64-1');
    expect(() => parseSeed('18446744073709551616')).toThrow('is not an integer in 0..2^64-1');
    expect(parseStart('2025-01-01T00:00:00Z')).toBe(Date.UTC(2025, 0, 1));
    expect(parseStart('2025-01-01T02:00:00.250+02:00')).toBe(Date.UTC(2025, 0, 1, 0, 0, 0, 250));
    expect(parseStart('2025-01-01')).toBe(Date.UTC(2025, 0, 1));
    expect(() => parseStart('2025-01-01T00:00:00')).toThrow('--start: "2025-01-01T00:00:00" is not an ISO time');
  });
});

describe('produce prices output', () => {
  it('formats a progress line', () => {
    const p = {
      elapsedMs: 3000,
      produced: 12345,
      acked: 12000,
      ratePerSec: 4100,
      deadLettered: 2,
      ignored: 0,
      duplicates: 0,
      dropped: 7,
      reconnects: 1,
    };
    expect(formatProgress(p)).toBe('prices 3s  sent 12,345 (4,100/s)  acked 12,000  dlq 2  DROPPED 7  reconnects 1');
  });

  it('formats the summary', () => {
    expect(
      formatSummary({
        source: 'replay',
        topic: 'raw.prices',
        deadLetterTopic: 'dlq',
        symbols: ['BTCUSDT'],
        produced: 3,
        acked: 4,
        deadLettered: 1,
        ignored: 0,
        duplicates: 0,
        dropped: 0,
        reconnects: 0,
        backpressureWaits: 0,
        firstEventTime: 1,
        lastEventTime: 2,
        durationMs: 500,
        eventsPerSec: 6,
        stoppedBy: 'end-of-input',
        rejections: [{ reason: 'price: not a decimal number: …', count: 1 }],
        files: [{ file: 'BTCUSDT-trades-2025-01-01.zip', symbol: 'BTCUSDT', checksum: 'verified' }],
      }),
    ).toEqual([
      '3 price events from replay → raw.prices (BTCUSDT)',
      '4 records acknowledged, 1 dead-lettered → dlq, 0 ignored, 0 duplicates, 0 dropped',
      '0.5 s, 6 events/s, stopped by end-of-input',
      '  BTCUSDT-trades-2025-01-01.zip (BTCUSDT): checksum verified',
      'dead-lettered by reason:',
      '         1  price: not a decimal number: …',
    ]);
  });
});
