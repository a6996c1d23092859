import { describe, expect, it } from 'vitest';
import { replaySource, type SourceItem } from '../../../src/app/produce/prices.js';

const FILES = [
  'fixtures/replay/BTCUSDT-trades-2024-12-31.csv',
  'fixtures/replay/BTCUSDT-trades-2025-01-01.csv',
  'fixtures/replay/ETHUSDT-1m-2024-12-31.csv',
  'fixtures/replay/ETHUSDT-1m-2025-01-01.csv',
];

const collect = async (files: string[], speed = 0, symbols: string[] = []): Promise<unknown[]> => {
  const out: unknown[] = [];
  const items: AsyncGenerator<SourceItem> = replaySource(files, {
    symbols,
    speed,
    signal: new AbortController().signal,
  });
  for await (const it of items) {
    out.push(it.kind === 'event' ? JSON.parse(JSON.stringify(it.event)) : it);
  }
  return out;
};

const trade = (id: string, price: string, quantity: string, eventTime: number) => ({
  kind: 'price',
  eventId: `replay:BTCUSDT:${id}`,
  symbol: 'BTCUSDT',
  price,
  quantity,
  eventTime,
  tradeId: id,
  source: 'replay',
});
const kline = (openTime: number, price: string, quantity: string, eventTime: number) => ({
  kind: 'price',
  eventId: `replay:ETHUSDT:kline:1m:${openTime}`,
  symbol: 'ETHUSDT',
  price,
  quantity,
  eventTime,
  tradeId: `kline:1m:${openTime}`,
  source: 'replay',
});

const EXPECTED = [
  trade('4370000001', '93576.000000000000', '0.001500000000000000', 1735689599001),
  trade('4370000002', '93576.010000000000', '0.020000000000000000', 1735689599350),
  trade('4370000003', '93575.990000000000', '0.100000000000000000', 1735689599999),
  // µs file (2025): header skipped, times floored to ms
  trade('4370000004', '93576.000000000000', '0.005000000000000000', 1735689600000),
  trade('4370000005', '93577.500000000000', '0.000100000000000000', 1735689600250),
  {
    kind: 'reject',
    reason: 'price: not a decimal number: "abc"',
    payload: '4370000006,abc,0.00010000,0,1735689600300000,False,True',
    key: 'BTCUSDT-trades-2025-01-01.csv:4',
  },
  trade('4370000007', '93578.000000000000', '1.000000000000000000', 1735689601000),
  kline(1735689480000, '3332.200000000000', '120.500000000000000000', 1735689539999),
  kline(1735689540000, '3333.980000000000', '98.250000000000000000', 1735689599999),
  {
    kind: 'reject',
    reason: 'expected 12 columns (klines), got 11',
    payload: '1735689600000,3333.98,3335,3333,3334.5,10.0,1735689659999,33345,100,5,16672',
    key: 'ETHUSDT-1m-2024-12-31.csv:3',
  },
  kline(1735689600000, '3335.400000000000', '88.100000000000000000', 1735689659999),
];

describe('replay source over fixtures/replay', () => {
  it('yields exactly the expected events and rejects, in file order', async () => {
    expect(await collect(FILES)).toEqual(EXPECTED);
  });

  it('is idempotent: a second replay yields identical events and eventIds', async () => {
    expect(await collect(FILES)).toEqual(await collect(FILES));
  });

  it('takes the symbol from --symbols when the file name has none', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/replay-`);
    writeFileSync(`${dir}/prices.csv`, '1,2.5,0.1,0.25,1735689599001,true,true\n');
    expect(await collect([`${dir}/prices.csv`], 0, ['SOLUSDT'])).toMatchObject([
      { eventId: 'replay:SOLUSDT:1', price: '2.500000000000', eventTime: 1735689599001 },
    ]);
    await expect(collect([`${dir}/prices.csv`], 0, ['SOLUSDT', 'BTCUSDT'])).rejects.toThrow(/cannot tell the symbol/);
  });

  it('paces by event time: ~2 s of trades at --speed 10 take ~200 ms', async () => {
    const t0 = Date.now();
    const out = await collect(FILES.slice(0, 2), 10);
    const took = Date.now() - t0;
    expect(out).toHaveLength(7);
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(1500);
  });
});
