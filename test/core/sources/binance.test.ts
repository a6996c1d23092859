import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type BinanceFrame, parseBinanceFrame, tradeStreamName } from '../../../src/core/sources/binance.js';

const lines = (file: string): string[] =>
  readFileSync(`fixtures/binance/${file}`, 'utf8')
    .split('\n')
    .filter((l) => l !== '');

/** Flatten a parse result to plain values (Decimals to their canonical strings). */
const summary = (r: BinanceFrame): unknown =>
  r.kind === 'trade'
    ? [
        r.kind,
        r.event.eventId,
        r.event.symbol,
        r.event.price.toString(),
        r.event.quantity.toString(),
        r.event.eventTime,
      ]
    : [r.kind, r.reason];

describe('parseBinanceFrame', () => {
  it('parses the current trade payload (fixtures/binance/combined-2025.jsonl)', () => {
    expect(lines('combined-2025.jsonl').map((l) => summary(parseBinanceFrame(l)))).toEqual([
      ['ignored', 'control response id=1'],
      ['trade', 'binance:BTCUSDT:4958123001', 'BTCUSDT', '104312.550000000000', '0.002140000000000000', 1748779200012],
      ['trade', 'binance:ETHUSDT:2471530310', 'ETHUSDT', '2528.610000000000', '0.041200000000000000', 1748779200040],
      ['trade', 'binance:BTCUSDT:4958123002', 'BTCUSDT', '104312.560000000000', '0.000500000000000000', 1748779200101],
      ['trade', 'binance:BTCUSDT:4958123003', 'BTCUSDT', '104312.550000000000', '0.019000000000000000', 1748779200157],
      ['trade', 'binance:ETHUSDT:2471530311', 'ETHUSDT', '2528.600000000000', '1.200000000000000000', 1748779200229],
      ['trade', 'binance:BTCUSDT:4958123004', 'BTCUSDT', '104312.000000000000', '0.000090000000000000', 1748779200317],
      ['ignored', 'non-trade event "aggTrade" on btcusdt@aggTrade'],
      ['malformed', 'data.p must be a decimal string, got 2528.59'],
      ['malformed', expect.stringMatching(/^not JSON: /)],
      ['trade', 'binance:ETHUSDT:2471530313', 'ETHUSDT', '2528.590000000000', '0.007000000000000000', 1748779200510],
      ['trade', 'binance:BTCUSDT:4958123006', 'BTCUSDT', '104311.980000000000', '0.125000000000000000', 1748779200643],
      ['malformed', 'price: must be > 0, got 0.00000000'],
      ['trade', 'binance:ETHUSDT:2471530314', 'ETHUSDT', '2528.620000000000', '0.310000000000000000', 1748779200789],
    ]);
  });

  it('accepts the older payload with buyer/seller order ids (b, a) and ignores them', () => {
    const r = parseBinanceFrame(lines('combined-2024-with-order-ids.jsonl')[0]!);
    expect(r).toMatchObject({ kind: 'trade', stream: 'btcusdt@trade' });
    expect(r.kind === 'trade' && JSON.parse(JSON.stringify(r.event))).toEqual({
      kind: 'price',
      eventId: 'binance:BTCUSDT:3630000001',
      symbol: 'BTCUSDT',
      price: '67502.010000000000',
      quantity: '0.007400000000000000',
      eventTime: 1717243200004,
      tradeId: '3630000001',
      source: 'binance',
    });
    expect(lines('combined-2024-with-order-ids.jsonl').map((l) => parseBinanceFrame(l).kind)).toEqual([
      'trade',
      'trade',
      'trade',
      'trade',
    ]);
  });

  it('uses the trade time T (floored from µs when given in µs), not the event time E', () => {
    const f = (T: number) =>
      JSON.stringify({
        stream: 'btcusdt@trade',
        data: { e: 'trade', E: 1748779200999, s: 'BTCUSDT', t: 1, p: '1.5', q: '2', T, m: true, M: true },
      });
    expect(parseBinanceFrame(f(1748779200012))).toMatchObject({ kind: 'trade', event: { eventTime: 1748779200012 } });
    expect(parseBinanceFrame(f(1748779200012999))).toMatchObject({
      kind: 'trade',
      event: { eventTime: 1748779200012 },
    });
  });

  it('explains every malformed shape', () => {
    const data = { e: 'trade', E: 1, s: 'BTCUSDT', t: 1, p: '1', q: '1', T: 1748779200012 };
    const frame = (d: object, stream = 'btcusdt@trade') => JSON.stringify({ stream, data: { ...data, ...d } });
    expect(summary(parseBinanceFrame('[1]'))).toEqual(['malformed', 'frame is not a JSON object']);
    expect(summary(parseBinanceFrame('{"data":{}}'))).toEqual([
      'malformed',
      'not a combined-stream frame: expected {"stream": string, "data": object}',
    ]);
    expect(summary(parseBinanceFrame(frame({ e: undefined })))).toEqual(['malformed', 'data.e (event type) missing']);
    expect(summary(parseBinanceFrame(frame({}, 'ethusdt@trade')))).toEqual([
      'malformed',
      'symbol "BTCUSDT" does not match stream "ethusdt@trade"',
    ]);
    expect(summary(parseBinanceFrame(frame({ t: '7' })))).toEqual([
      'malformed',
      'data.t (trade id) must be a non-negative integer, got "7"',
    ]);
    expect(summary(parseBinanceFrame(frame({ T: 1.5 })))).toEqual([
      'malformed',
      'data.T: timestamp 1.5 is not a non-negative integer',
    ]);
    expect(summary(parseBinanceFrame(frame({ T: 1748779200 })))).toEqual([
      'malformed',
      'eventTime: 1748779200 is outside 2009-01-03..2100-01-01 (milliseconds expected)',
    ]);
    expect(summary(parseBinanceFrame(frame({ q: 'abc' })))).toEqual([
      'malformed',
      'quantity: not a decimal number: "abc"',
    ]);
    expect(parseBinanceFrame(frame({ s: undefined }))).toMatchObject({ kind: 'malformed', stream: 'btcusdt@trade' });
  });

  it('names trade streams in lower case', () => {
    expect(tradeStreamName('BTCUSDT')).toBe('btcusdt@trade');
  });
});
