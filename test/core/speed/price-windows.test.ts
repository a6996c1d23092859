import { describe, expect, it } from 'vitest';
import type { PriceEvent } from '../../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE } from '../../../src/core/money/decimal.js';
import { buildCandles, INTERVALS_MS } from '../../../src/core/ohlcv/candle.js';
import { candleToJson, PriceWindows } from '../../../src/core/speed/price-windows.js';

const T0 = Date.UTC(2025, 0, 1);
const trade = (i: number, t: number, symbol = 'BTCUSDT'): PriceEvent => ({
  kind: 'price',
  eventId: `e${i}`,
  symbol,
  price: Decimal.fromUnits(40_000_0000n + BigInt((i * 7919) % 10_000), 4).rescale(PRICE_SCALE),
  quantity: Decimal.fromUnits(BigInt(1 + (i % 13)) * 10n ** 15n, QTY_SCALE),
  eventTime: t,
  tradeId: String(i),
  source: 'synthetic',
});

const windows = () => new PriceWindows({ intervals: ['1m', '5m'], outOfOrdernessMs: 5000, allowedLatenessMs: 30_000 });

/** Every candle ever emitted, the last emission of each window winning. */
const collect = (pw: PriceWindows, events: readonly PriceEvent[]) => {
  const out = new Map<string, unknown>();
  for (const e of events) {
    pw.add(e);
    for (const c of pw.drain())
      out.set(`${c.interval}|${c.candle.symbol}|${c.candle.start}`, candleToJson(c.candle, false));
  }
  for (const w of pw.openWindows())
    out.set(`${w.interval}|${w.candle.symbol}|${w.candle.start}`, candleToJson(w.candle, false));
  return Object.fromEntries([...out].sort(([x], [y]) => (x < y ? -1 : 1)));
};

describe('PriceWindows', () => {
  it('builds the same candles as the batch function, in order or shuffled within the out-of-orderness', () => {
    const events = Array.from({ length: 3000 }, (_, i) => trade(i, T0 + i * 300, i % 3 === 0 ? 'ETHUSDT' : 'BTCUSDT'));
    // Swap neighbours: displaced by 300 ms, well within the 5 s out-of-orderness.
    const shuffled = events.map((_, i) => events[i % 2 === 0 ? i + 1 : i - 1]!);
    expect(new Set(shuffled).size).toBe(events.length);
    const a = collect(windows(), events);
    const b = collect(windows(), shuffled);
    expect(b).toEqual(a);
    for (const [interval, size] of Object.entries(INTERVALS_MS)) {
      for (const c of buildCandles(events, size))
        expect(a[`${interval}|${c.symbol}|${c.start}`]).toEqual(candleToJson(c, false));
    }
  });

  it('drops a duplicate trade, also once its 1m window is final and its 5m window still open', () => {
    const pw = windows();
    const first = trade(1, T0 + 10_000);
    expect(pw.add(first).status).toBe('on_time');
    expect(pw.add(first).status).toBe('duplicate');
    // Move the watermark past the 1m window's end + allowed lateness (the 5m window stays open).
    pw.add(trade(2, T0 + 60_000 + 30_000 + 5_000 + 1));
    pw.drain();
    const again = pw.add(first);
    expect(again).toEqual({ status: 'duplicate', lateFor: [] });
    expect(pw.counts.duplicates).toBe(2);
    const fiveMin = pw.openWindows().find((w) => w.interval === '5m')!;
    expect(fiveMin.candle.trades).toBe(2);
  });

  it('sends a trade too late for 1m but not for 5m to the 5m window only, and one too late for both nowhere', () => {
    const pw = windows();
    pw.add(trade(1, T0 + 10_000));
    pw.add(trade(2, T0 + 100_000));
    expect(pw.add(trade(3, T0 + 20_000))).toEqual({ status: 'on_time', lateFor: ['1m'] });
    pw.add(trade(4, T0 + 400_000));
    expect(pw.add(trade(5, T0 + 30_000))).toEqual({ status: 'too_late', lateFor: ['1m', '5m'] });
    expect(pw.counts.tooLate).toBe(1);
  });
});
