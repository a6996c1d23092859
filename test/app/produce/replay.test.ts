import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SourceItem } from '../../../src/app/produce/prices.js';
import { prepareReplay, replaySource } from '../../../src/app/produce/replay.js';

const CSV = ['fixtures/replay/BTCUSDT-trades-2024-12-31.csv', 'fixtures/replay/BTCUSDT-trades-2025-01-01.csv'];
const A = 'fixtures/binance-archives';
const ZIPS = [
  `${A}/BTCUSDT-trades-2025-01-01.zip`,
  `${A}/SOLUSDT-aggTrades-2025-01-01.zip`,
  `${A}/BNBUSDT-trades-2025-01-01.zip`,
];

const collect = async (files: string[], speed = 0, symbols: string[] = []): Promise<unknown[]> => {
  const out: unknown[] = [];
  const items: AsyncGenerator<SourceItem> = replaySource(await prepareReplay(files, symbols), {
    speed,
    signal: new AbortController().signal,
  });
  for await (const it of items) {
    out.push(it.kind === 'event' ? JSON.parse(JSON.stringify(it.event)) : it);
  }
  return out;
};

const ev = (symbol: string, id: string, price: string, quantity: string, eventTime: number) => ({
  kind: 'price',
  eventId: `replay:${symbol}:${id}`,
  symbol,
  price,
  quantity,
  eventTime,
  tradeId: id.replace(':', '-'),
  source: 'replay',
});
const T0 = Date.UTC(2025, 0, 1);

describe('replay of Binance archives', () => {
  it('reads the zips in-process and merges spot trades, aggTrades and USD-M trades by event time', async () => {
    const out = await collect(ZIPS);
    const events = out.filter((x) => (x as { kind: string }).kind === 'price');
    expect(events).toEqual([
      ev('BTCUSDT', '5000000001', '93576.000000000000', '0.001500000000000000', T0 + 100),
      ev('SOLUSDT', 'agg:700000001', '189.120000000000', '3.500000000000000000', T0 + 200),
      ev('BNBUSDT', 'um:3100000001', '702.150000000000', '0.500000000000000000', T0 + 300),
      ev('BTCUSDT', '5000000002', '93576.010000000000', '0.020000000000000000', T0 + 400),
      ev('SOLUSDT', 'agg:700000002', '189.130000000000', '0.250000000000000000', T0 + 600),
      ev('BNBUSDT', 'um:3100000002', '702.160000000000', '1.250000000000000000', T0 + 700),
      ev('BTCUSDT', '5000000004', '93575.990000000000', '0.100000000000000000', T0 + 900),
      ev('BNBUSDT', 'um:3100000003', '702.140000000000', '2.000000000000000000', T0 + 1000),
      ev('SOLUSDT', 'agg:700000003', '189.100000000000', '12.000000000000000000', T0 + 1200),
    ]);
    expect(out.filter((x) => (x as { kind: string }).kind === 'reject')).toEqual([
      {
        kind: 'reject',
        reason: 'price: not a decimal number: "abc"',
        payload: `5000000003,abc,0.10000000,0,${(T0 + 500) * 1000},False,True`,
        key: 'BTCUSDT-trades-2025-01-01.zip:3',
      },
    ]);
  });

  it('verifies the .CHECKSUM and refuses a mismatch before producing anything', async () => {
    const prepared = await prepareReplay(ZIPS, []);
    expect(prepared.map((p) => [p.symbol, p.checksum])).toEqual([
      ['BTCUSDT', 'verified'],
      ['SOLUSDT', 'verified'],
      ['BNBUSDT', 'verified'],
    ]);
    const dir = mkdtempSync(path.join(tmpdir(), 'replay-sum-'));
    const zip = path.join(dir, 'BTCUSDT-trades-2025-01-01.zip');
    copyFileSync(ZIPS[0]!, zip);
    writeFileSync(`${zip}.CHECKSUM`, `${'0'.repeat(64)}  BTCUSDT-trades-2025-01-01.zip\n`);
    await expect(prepareReplay([zip], [])).rejects.toThrow(
      /BTCUSDT-trades-2025-01-01.zip: sha256 2f51fcf6e385… does not match its .CHECKSUM 000000000000…/,
    );
    writeFileSync(`${zip}.CHECKSUM`, 'garbage\n');
    await expect(prepareReplay([zip], [])).rejects.toThrow(/CHECKSUM: expected "<sha256> {2}<file name>"/);
    const bare = path.join(dir, 'x', 'BTCUSDT-trades-2025-01-01.zip');
    (await import('node:fs')).mkdirSync(path.dirname(bare));
    copyFileSync(ZIPS[0]!, bare);
    expect((await prepareReplay([bare], []))[0]!.checksum).toBe('absent');
  });

  it('refuses klines instead of inventing trades from candles', async () => {
    await expect(prepareReplay([`${A}/ETHUSDT-1m-2025-01-01.zip`], [])).rejects.toThrow(
      /ETHUSDT-1m-2025-01-01.zip: klines are candles, not trades/,
    );
    // A klines file without Binance's name is recognised by its 12 columns.
    const dir = mkdtempSync(path.join(tmpdir(), 'replay-k-'));
    writeFileSync(`${dir}/k.csv`, '1735689600000,1,2,0.5,1.5,10,1735689659999,15,3,1,1,0\n');
    await expect(collect([`${dir}/k.csv`], 0, ['ETHUSDT'])).rejects.toThrow(/klines are candles, not trades/);
  });

  it('refuses trades and aggTrades of one symbol in one replay (the same fills twice)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'replay-mix-'));
    writeFileSync(`${dir}/SOLUSDT-trades-2025-01-01.csv`, `1,189.1,1,189.1,${T0 * 1000},True,True\n`);
    await expect(collect([ZIPS[1]!, `${dir}/SOLUSDT-trades-2025-01-01.csv`])).rejects.toThrow(
      'SOLUSDT-trades-2025-01-01.csv: spot trades and spot aggTrades of SOLUSDT in one replay',
    );
  });

  it('still reads plain CSV (ms before 2025, µs after, a tolerated header) and is idempotent', async () => {
    const a = await collect(CSV);
    expect(a).toHaveLength(7);
    expect(a).toEqual(await collect(CSV));
    expect(a[0]).toMatchObject({ eventId: 'replay:BTCUSDT:4370000001', eventTime: 1735689599001 });
  });

  it('takes the symbol from --symbols when the file name has none', async () => {
    const dir = mkdtempSync(`${tmpdir()}/replay-`);
    writeFileSync(`${dir}/prices.csv`, '1,2.5,0.1,0.25,1735689599001,true,true\n');
    expect(await collect([`${dir}/prices.csv`], 0, ['SOLUSDT'])).toMatchObject([
      { eventId: 'replay:SOLUSDT:1', price: '2.500000000000', eventTime: 1735689599001 },
    ]);
    await expect(collect([`${dir}/prices.csv`], 0, ['SOLUSDT', 'BTCUSDT'])).rejects.toThrow(/cannot tell the symbol/);
  });

  it('paces by event time: ~2 s of trades at --speed 10 take ~200 ms', async () => {
    const t0 = Date.now();
    const out = await collect(CSV, 10);
    const took = Date.now() - t0;
    expect(out).toHaveLength(7);
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(1500);
  });
});
