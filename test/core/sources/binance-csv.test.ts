import { describe, expect, it } from 'vitest';
import {
  type CsvRow,
  csvFileInfo,
  intervalLabel,
  paceDelayMs,
  parseBinanceCsvLine,
  reasonClass,
} from '../../../src/core/sources/binance-csv.js';

const row = (r: CsvRow): unknown =>
  r.kind === 'event'
    ? [r.event.eventId, r.event.price.toString(), r.event.quantity.toString(), r.event.eventTime]
    : r.kind === 'bad'
      ? ['bad', r.reason]
      : ['skip', r.why];

describe('parseBinanceCsvLine', () => {
  const ctx = { symbol: 'BTCUSDT' };

  it('parses a trade row in ms and one in µs (floored to ms)', () => {
    expect(
      row(parseBinanceCsvLine('4370000001,93576.00000000,0.00150000,140.364,1735689599001,True,True', ctx)),
    ).toEqual(['replay:BTCUSDT:4370000001', '93576.000000000000', '0.001500000000000000', 1735689599001]);
    expect(row(parseBinanceCsvLine('4370000005,93577.5,0.0001,9.35775,1735689600250999,False,True\r', ctx))).toEqual([
      'replay:BTCUSDT:4370000005',
      '93577.500000000000',
      '0.000100000000000000',
      1735689600250,
    ]);
  });

  it('refuses a kline row (a candle is not a trade) and parses aggTrades and USD-M trades', () => {
    const k = parseBinanceCsvLine(
      '1735689540000,3332.2,3334.1,3331,3333.98,98.25,1735689599999,327524.17,655,50,166699,0',
      { symbol: 'ETHUSDT' },
    );
    expect(k.kind === 'bad' && k.reason).toMatch(/^klines are candles, not trades/);
    expect(row(parseBinanceCsvLine('7,189.1,3.5,9,11,1735689600200000,True,True', { symbol: 'SOLUSDT' }))).toEqual([
      'replay:SOLUSDT:agg:7',
      '189.100000000000',
      '3.500000000000000000',
      1735689600200,
    ]);
    const header = parseBinanceCsvLine('id,price,qty,quote_qty,time,is_buyer_maker', { ...ctx, firstLine: true });
    expect(header).toEqual({ kind: 'skip', why: 'header', shape: { kind: 'trades', market: 'um' } });
    const um = parseBinanceCsvLine('31,702.15,0.5,351.075,1735689600300,true', {
      ...ctx,
      shape: { kind: 'trades', market: 'um' },
    });
    expect(row(um)).toEqual(['replay:BTCUSDT:um:31', '702.150000000000', '0.500000000000000000', 1735689600300]);
    const umAgg = parseBinanceCsvLine(
      'agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker',
      { ...ctx, firstLine: true },
    );
    expect(umAgg).toMatchObject({ shape: { kind: 'aggTrades', market: 'um' } });
    expect(
      row(parseBinanceCsvLine('8,1,2,3,4,1735689600300,false', { ...ctx, shape: { kind: 'aggTrades', market: 'um' } })),
    ).toEqual(['replay:BTCUSDT:um-agg:8', '1.000000000000', '2.000000000000000000', 1735689600300]);
  });

  it('groups reasons by class, not by value', () => {
    expect(reasonClass('price: not a decimal number: "abc"')).toBe(reasonClass('price: not a decimal number: "x1"'));
    expect(reasonClass('time: timestamp "17356896x" is not a non-negative integer')).toBe(
      'time: timestamp … is not a non-negative integer',
    );
  });

  it('tolerates a header on the first line only, and blank lines', () => {
    const header = 'id,price,qty,quote_qty,time,is_buyer_maker,is_best_match';
    expect(parseBinanceCsvLine(header, { ...ctx, firstLine: true })).toMatchObject({ kind: 'skip', why: 'header' });
    expect(row(parseBinanceCsvLine(header, ctx))).toEqual(['bad', 'id: "id" is not a trade id']);
    expect(row(parseBinanceCsvLine('  ', ctx))).toEqual(['skip', 'blank']);
  });

  it('gives a reason for bad rows', () => {
    expect(row(parseBinanceCsvLine('1,2,3', ctx))).toEqual([
      'bad',
      'expected 6, 7 or 8 (trades, aggTrades) or 12 (klines) columns, got 3',
    ]);
    expect(row(parseBinanceCsvLine('1,2,3,4,5,6,7,8,9,10,11,12', { ...ctx, kind: 'trades' }))).toEqual([
      'bad',
      'expected 6 or 7 columns (trades), got 12',
    ]);
    expect(row(parseBinanceCsvLine('9,abc,0.1,0,1735689600300000,False,True', ctx))).toEqual([
      'bad',
      'price: not a decimal number: "abc"',
    ]);
    expect(row(parseBinanceCsvLine('9,1,0.1,0,1735689600300000,maybe,True', ctx))).toEqual([
      'bad',
      'is_buyer_maker/is_best_match must be true or false, got maybe/True',
    ]);
    expect(row(parseBinanceCsvLine('9,1,0.1,0,17356896x,False,True', ctx))).toEqual([
      'bad',
      'time: timestamp "17356896x" is not a non-negative integer',
    ]);
    expect(row(parseBinanceCsvLine('9,1,0.1,0,1735689600,False,True', ctx))).toEqual([
      'bad',
      'eventTime: 1735689600 is outside 2009-01-03..2100-01-01 (milliseconds expected)',
    ]);
  });

  it('gives identical eventIds when the same line is replayed', () => {
    const l = '4370000002,93576.01,0.02,1871.5202,1735689599350,False,True';
    expect(row(parseBinanceCsvLine(l, ctx))).toEqual(row(parseBinanceCsvLine(l, ctx)));
  });
});

describe('helpers', () => {
  it('reads symbol and kind from Binance file names', () => {
    expect(csvFileInfo('data/BTCUSDT-trades-2025-01-01.csv')).toEqual({ symbol: 'BTCUSDT', kind: 'trades' });
    expect(csvFileInfo('ETHUSDT-1m-2024-12.csv')).toEqual({ symbol: 'ETHUSDT', kind: 'klines', interval: '1m' });
    expect(csvFileInfo('SOLUSDT-aggTrades-2025-01.zip')).toEqual({ symbol: 'SOLUSDT', kind: 'aggTrades' });
    expect(csvFileInfo('prices.csv')).toBeUndefined();
  });

  it('names intervals', () => {
    expect([1000, 60_000, 300_000, 3_600_000, 14_400_000, 86_400_000, 604_800_000, 1500].map(intervalLabel)).toEqual([
      '1s',
      '1m',
      '5m',
      '1h',
      '4h',
      '1d',
      '1w',
      '1500ms',
    ]);
  });

  it('paces replay by event time divided by speed', () => {
    // Event 2 s after the first, at speed 1, 500 ms into the replay: wait 1.5 s.
    expect(paceDelayMs(1, 10_000, 12_000, 100, 600)).toBe(1500);
    expect(paceDelayMs(4, 10_000, 12_000, 100, 600)).toBe(0);
    expect(paceDelayMs(4, 10_000, 14_000, 100, 600)).toBe(500);
    expect(paceDelayMs(0, 10_000, 99_000, 100, 600)).toBe(0);
  });
});
