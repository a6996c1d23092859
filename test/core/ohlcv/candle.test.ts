import { describe, expect, it } from 'vitest';
import {
  addTrade,
  buildCandles,
  candleOf,
  INTERVALS_MS,
  mergeCandles,
  vwap,
  windowStart,
} from '../../../src/core/ohlcv/candle.js';
import { MIN, T0, trade } from '../build.js';

const M1 = INTERVALS_MS['1m'];
const M5 = INTERVALS_MS['5m'];

describe('windowStart', () => {
  it('aligns tumbling windows to the epoch, end exclusive', () => {
    expect(windowStart(T0, M1)).toBe(T0);
    expect(windowStart(T0 + M1 - 1, M1)).toBe(T0);
    expect(windowStart(T0 + M1, M1)).toBe(T0 + M1);
    expect(windowStart(T0 + 7 * MIN + 5, M5)).toBe(T0 + 5 * MIN);
    expect(windowStart(-1, M1)).toBe(-M1);
    expect(windowStart(-M1, M1)).toBe(-M1);
    expect(windowStart(0, M1)).toBe(0);
  });
});

describe('candleOf / mergeCandles', () => {
  it('makes a one-trade candle at the storage scales', () => {
    const c = candleOf(trade({ price: '42000.5', quantity: '0.25', eventTime: T0 + 10 }), M1);
    expect([c.start, c.end, c.trades]).toEqual([T0, T0 + M1, 1]);
    expect([c.open, c.high, c.low, c.close].map(String)).toEqual(Array(4).fill('42000.500000000000'));
    expect(c.volume.toString()).toBe('0.250000000000000000');
    expect(c.quoteVolume.toString()).toBe('10500.125000000000');
  });

  it('rounds each trade quote amount half-even before summing', () => {
    const a = trade({ price: '0.000000000001', quantity: '0.5', eventTime: T0 });
    const b = trade({ price: '0.000000000001', quantity: '1.5', eventTime: T0 + 1 });
    const c = mergeCandles(candleOf(a, M1), candleOf(b, M1));
    expect(c.quoteVolume.units).toBe(2n); // 0 (0.5 -> 0) + 2 (1.5 -> 2), not round(2.0) computed once
  });

  it('is commutative and associative, open/close chosen by (eventTime, eventId)', () => {
    const t1 = trade({ eventId: 'x:1', price: '10', eventTime: T0 + 5 });
    const t2 = trade({ eventId: 'x:2', price: '12', eventTime: T0 + 5 });
    const t3 = trade({ eventId: 'x:0', price: '9', eventTime: T0 + 9 });
    const [a, b, c] = [t1, t2, t3].map((t) => candleOf(t, M1)) as [
      ReturnType<typeof candleOf>,
      ReturnType<typeof candleOf>,
      ReturnType<typeof candleOf>,
    ];
    const ab = mergeCandles(a, b);
    expect(ab).toEqual(mergeCandles(b, a));
    expect(mergeCandles(ab, c)).toEqual(mergeCandles(a, mergeCandles(b, c)));
    const all = mergeCandles(ab, c);
    expect([all.open, all.close, all.high, all.low].map((d) => d.toPlain())).toEqual(['10', '9', '12', '9']);
    expect(all.openKey).toEqual({ t: T0 + 5, id: 'x:1' });
    expect(all.closeKey).toEqual({ t: T0 + 9, id: 'x:0' });
  });

  it('addTrade starts or extends a candle', () => {
    const first = addTrade(undefined, trade({ price: '1', eventTime: T0 }), M1);
    const next = addTrade(first, trade({ price: '3', eventTime: T0 + 1 }), M1);
    expect([first.trades, next.trades, next.close.toPlain()]).toEqual([1, 2, '3']);
  });
});

describe('vwap', () => {
  it('is quote volume over volume, half-even at PRICE_SCALE', () => {
    const c = mergeCandles(
      candleOf(trade({ price: '1', quantity: '1' }), M1),
      candleOf(trade({ price: '2', quantity: '2', eventTime: T0 + 1 }), M1),
    );
    expect(vwap(c).toString()).toBe('1.666666666667');
  });

  it('falls back to the close when the window traded no volume', () => {
    const c = candleOf(trade({ price: '7.5', quantity: '0' }), M1);
    expect(vwap(c).toString()).toBe('7.500000000000');
  });
});

describe('buildCandles', () => {
  it('groups by symbol and window, drops duplicate event ids, sorts by symbol then start', () => {
    const trades = [
      trade({ eventId: 'b:2', symbol: 'ETHUSDT', eventTime: T0 + M1 }),
      trade({ eventId: 'b:1', symbol: 'ETHUSDT', eventTime: T0 }),
      trade({ eventId: 'a:1', symbol: 'BTCUSDT', eventTime: T0 + 2 * M1 }),
      trade({ eventId: 'a:1', symbol: 'BTCUSDT', eventTime: T0 + 2 * M1 }),
      trade({ eventId: 'a:0', symbol: 'BTCUSDT', eventTime: T0 + 1 }),
    ];
    const got = buildCandles(trades, M1).map((c) => [c.symbol, c.start - T0, c.trades]);
    expect(got).toEqual([
      ['BTCUSDT', 0, 1],
      ['BTCUSDT', 2 * M1, 1],
      ['ETHUSDT', 0, 1],
      ['ETHUSDT', M1, 1],
    ]);
    expect(buildCandles([], M1)).toEqual([]);
    expect(buildCandles(trades, M5).map((c) => c.trades)).toEqual([2, 2]);
  });
});
