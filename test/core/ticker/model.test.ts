import { describe, expect, it } from 'vitest';
import { Decimal, PRICE_SCALE } from '../../../src/core/money/decimal.js';
import { buildTickerView, pctChange, sparkline } from '../../../src/core/ticker/model.js';
import { loadSnapshot } from './load-fixture.js';

const p = (s: string) => Decimal.parse(s, PRICE_SCALE);
/** The view as `--json` prints it: Decimals become canonical strings. */
const json = (v: unknown) => JSON.parse(JSON.stringify(v));

describe('pctChange', () => {
  it('is exact Decimal arithmetic rounded once, HALF-EVEN, to 4 places', () => {
    expect(pctChange(p('43000.12'), p('42777.68'))?.toString()).toBe('0.5200');
    expect(pctChange(p('2297.5'), p('2300'))?.toString()).toBe('-0.1087');
    // 1/3 % = 0.33333… and a tie: 100.00005/100 -> 0.00005 % rounds to the even 0.0000
    expect(pctChange(p('100.333333333333'), p('100'))?.toString()).toBe('0.3333');
    expect(pctChange(p('100.00005'), p('100'))?.toString()).toBe('0.0000');
    expect(pctChange(p('100.00015'), p('100'))?.toString()).toBe('0.0002');
  });

  it('has no value without a non-zero reference', () => {
    expect(pctChange(p('1'), null)).toBeNull();
    expect(pctChange(null, p('1'))).toBeNull();
    expect(pctChange(p('1'), p('0'))).toBeNull();
  });
});

describe('sparkline', () => {
  it('scales exactly between min and max', () => {
    const closes = ['10', '11', '12', '13', '14', '15', '16', '17'].map(p);
    expect(sparkline(closes)).toBe('▁▂▃▄▅▆▇█');
    // 1 unit (1e-12) below the max still floors to level 6
    expect(sparkline([p('0'), p('6.999999999999'), p('7')])).toBe('▁▇█');
  });

  it('draws a flat series in the middle and nothing for no data', () => {
    expect(sparkline([p('5'), p('5'), p('5')])).toBe('▄▄▄');
    expect(sparkline([])).toBe('');
  });
});

describe('buildTickerView', () => {
  it('builds every symbol, the movers and the portfolio from the live fixture', () => {
    const view = json(buildTickerView(loadSnapshot('live')));
    expect(view.now).toBe(1795600830000);
    expect(view.watermark).toBe(1795600827500);
    expect(view.stale).toBe(false);
    expect(view.staleReason).toBeNull();
    expect(view.skipped).toBe(0);
    expect(view.symbols.map((s: { symbol: string }) => s.symbol)).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);

    const btc = view.symbols[0];
    expect(btc.price).toBe('43000.120000000000');
    expect(btc.priceTime).toBe(1795600828800);
    expect(btc.change1m).toBe('0.5200');
    expect(btc.change5m).toBe('0.0235');
    // the 09:59 candle of the day before is outside the 24h window; 10:01 is the first inside
    expect(btc.change24h).toBe('2.3812');
    expect(btc.ref24hStart).toBe(Date.UTC(2026, 10, 24, 10, 1));
    // 09:49..10:00: the day-old candles are not part of a 20-minute sparkline
    expect(btc.sparkline).toBe('▅▆▅▄▃▄▄▆▇█▁▇');
    expect(btc.current1m).toEqual({
      start: Date.UTC(2026, 10, 25, 10, 0),
      end: Date.UTC(2026, 10, 25, 10, 0) + 59_999,
      open: '42777.680000000000',
      high: '43001.620000000000',
      low: '42775.430000000000',
      close: '43000.120000000000',
      volume: '1.250000000000000000',
      trades: 111,
      final: false,
      change: '0.5200',
    });
    expect(btc.current5m.open).toBe('42990.000000000000');
    expect(btc.recent).toHaveLength(10);
    expect(btc.recent[0].start).toBe(Date.UTC(2026, 10, 25, 10, 0));
    expect(btc.recent[9].start).toBe(Date.UTC(2026, 10, 25, 9, 51));

    const eth = view.symbols[1];
    expect([eth.change1m, eth.change5m, eth.change24h]).toEqual(['-0.0218', '-0.1087', '-0.1087']);
    const sol = view.symbols[2];
    expect([sol.change1m, sol.change5m, sol.change24h, sol.sparkline]).toEqual(['-0.3823', '-0.3823', '-0.3823', '▄']);

    expect(view.movers).toEqual({
      basis: '24h',
      top: [
        { symbol: 'BTCUSDT', change: '2.3812' },
        { symbol: 'SOLUSDT', change: '-0.3823' },
        { symbol: 'ETHUSDT', change: '-0.1087' },
      ],
    });

    // value = 0.5 x 43000.12 + 2 x 2297.5 + 1000 (USDT at 1); ADA has no price; XRP is closed
    expect(view.user).toMatchObject({
      id: 'alice',
      tier: 'gold',
      spend30d: '2450.750000000000',
      tierSince: Date.UTC(2026, 10, 20, 8, 0),
      value: '27095.060000000000',
      costBasis: '25200.500000000000',
      unrealizedPnl: '1894.560000000000',
      unrealizedPct: '7.5179',
      unpriced: ['ADA'],
    });
    expect(view.user.positions.map((x: { asset: string }) => x.asset)).toEqual(['ADA', 'BTC', 'ETH', 'USDT']);
    expect(view.user.positions[1]).toEqual({
      asset: 'BTC',
      quantity: '0.500000000000000000',
      price: '43000.120000000000',
      value: '21500.060000000000',
      costBasis: '20000.000000000000',
      unrealizedPnl: '1500.060000000000',
    });
    expect(view.user.positions[0]).toMatchObject({ asset: 'ADA', price: null, value: null, unrealizedPnl: null });
  });

  it('flags a watermark further behind than --stale-after', () => {
    const snap = loadSnapshot('stale');
    const view = buildTickerView(snap);
    expect(view.watermark).toBe(snap.now - 45_000);
    expect([view.stale, view.staleReason]).toEqual([true, 'watermark 45s behind']);
    expect(buildTickerView(snap, { staleAfterMs: 60_000 }).stale).toBe(false);
    expect(buildTickerView({ ...snap, watermarks: [] }).staleReason).toBe('no watermark');
  });

  it('is stale with no data and has no movers or user', () => {
    const view = json(buildTickerView(loadSnapshot('empty')));
    expect(view).toEqual({
      now: 1795600830000,
      watermark: null,
      stale: true,
      staleReason: 'no data',
      symbols: [],
      movers: { basis: '5m', top: [] },
      user: null,
      skipped: 0,
    });
  });

  it('skips and counts corrupt entries, de-duplicates windows and falls back to the last close', () => {
    const live = loadSnapshot('live');
    const btc = live.candles1m.BTCUSDT!;
    const view = buildTickerView({
      ...live,
      symbols: ['BTCUSDT', 'bad symbol'],
      lastPrices: { ETHUSDT: { price: 'NaN', eventTime: 1 } },
      candles1m: { BTCUSDT: [...btc, 'garbage', { ...btc.at(-1)!, close: '43001.000000000000' }, { open: 1 }] },
      user: { id: 'bob', positions: [{ asset: 'BTC', quantity: 'x', costBasis: '1' }], tier: { tier: 'gold' } },
    });
    // 'NaN' price, 'garbage', {open:1}, the position and the tier
    expect(view.skipped).toBe(5);
    expect(view.symbols.map((s) => s.symbol)).toEqual(['BTCUSDT']);
    const s = view.symbols[0]!;
    expect(s.price?.toString()).toBe('43001.000000000000');
    expect(s.priceTime).toBe(Date.UTC(2026, 10, 25, 10, 0) + 59_999);
    expect(s.recent).toHaveLength(10);
    expect(s.recent[0]!.close.toString()).toBe('43001.000000000000');
    expect(view.user?.tier).toBeNull();
    expect(view.user?.value.toString()).toBe('0.000000000000');
    expect(view.user?.unrealizedPct).toBeNull();
  });

  it('ranks movers by the 5m change when no symbol has 24h of history', () => {
    const live = loadSnapshot('live');
    const view = buildTickerView({ ...live, now: live.now + 2 * 86_400_000 }, { moversCount: 2 });
    expect(view.movers.basis).toBe('5m');
    expect(view.movers.top.map((m) => [m.symbol, m.change.toString()])).toEqual([
      ['SOLUSDT', '-0.3823'],
      ['ETHUSDT', '-0.1087'],
    ]);
  });
});
