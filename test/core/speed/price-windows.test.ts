import { describe, expect, it } from 'vitest';
import type { PriceEvent } from '../../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE } from '../../../src/core/money/decimal.js';
import { buildCandles, INTERVALS_MS } from '../../../src/core/ohlcv/candle.js';
import {
  candleToJson,
  type EmittedCandle,
  type LastPrice,
  PriceWindows,
  windowKey,
} from '../../../src/core/speed/price-windows.js';

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

/** A checkpointed copy of a PriceWindows: what a store holds after applying each drain's changes. */
class FakeStore {
  maxEventTime = 0;
  open: EmittedCandle[] = [];
  last = new Map<string, LastPrice>();
  counts = { onTime: 0, late: 0, tooLate: 0, duplicates: 0 };
  readonly ids = new Map<string, Set<string>>();
  /** Ids written (appended) per checkpoint: the cost of each checkpoint. */
  readonly appended: number[] = [];

  checkpoint(pw: PriceWindows): void {
    pw.drain();
    const c = pw.drainTradeIds();
    let n = 0;
    for (const [w, ids] of c.added) {
      const k = windowKey(w.interval, w.symbol, w.start);
      const set = this.ids.get(k) ?? new Set();
      for (const id of ids) set.add(id);
      this.ids.set(k, set);
      n += ids.length;
    }
    for (const w of c.dropped) this.ids.delete(windowKey(w.interval, w.symbol, w.start));
    this.appended.push(n);
    this.maxEventTime = pw.maxEventTime;
    this.open = pw.openWindows();
    this.last = new Map(pw.last);
    this.counts = { ...pw.counts };
  }

  restore(): PriceWindows {
    const pw = windows();
    pw.restore(this.maxEventTime, this.open, this.last, new Map([...this.ids].map(([k, s]) => [k, [...s]])));
    pw.counts = { ...this.counts };
    return pw;
  }
}

describe('PriceWindows across a restart', () => {
  // 2 symbols, a trade every 100 ms for 4 minutes: every window of the last minutes still open.
  const events = Array.from({ length: 2400 }, (_, i) => trade(i, T0 + 20_000 + i * 100, i % 2 ? 'ETHUSDT' : 'BTCUSDT'));

  it('drops a trade re-delivered after a restore into a window that is still open, and counts it', () => {
    const store = new FakeStore();
    const live = windows();
    for (let i = 0; i < events.length; i += 300) {
      for (const e of events.slice(i, i + 300)) live.add(e);
      store.checkpoint(live);
    }
    // Each checkpoint appended only the 300 ids it added, not the open windows' ids.
    expect(store.appended).toEqual(Array(8).fill(300));

    // An uninterrupted run that sees every trade a second time.
    const uninterrupted = windows();
    for (const e of [...events, ...events]) uninterrupted.add(e);
    expect(uninterrupted.counts.duplicates).toBe(events.length);

    const restored = store.restore();
    const outcomes = events.map((e) => restored.add(e).status);
    // The first minutes' windows are final: their trades are too late, exactly as without the restart.
    const expected = events.map((e) => {
      const probe = windows();
      probe.restore(store.maxEventTime, [], new Map());
      return probe.add(e).status === 'too_late' ? 'too_late' : 'duplicate';
    });
    expect(outcomes).toEqual(expected);
    expect(outcomes.filter((s) => s === 'duplicate').length).toBeGreaterThan(1000);
    expect(restored.counts).toEqual({
      ...store.counts,
      duplicates: outcomes.filter((s) => s === 'duplicate').length,
      tooLate: outcomes.filter((s) => s === 'too_late').length,
    });
    const candles = (pw: PriceWindows) =>
      pw.openWindows().map((w) => [w.interval, candleToJson(w.candle, false)] as const);
    expect(candles(restored)).toEqual(candles(live));
    expect(restored.openWindows().find((w) => w.interval === '5m')!.candle.trades).toBeGreaterThan(1000);
  });

  it('without the ids (the old restore) the same re-delivery is counted again: the test can fail', () => {
    const store = new FakeStore();
    const live = windows();
    for (const e of events) live.add(e);
    store.checkpoint(live);
    store.ids.clear();
    const restored = store.restore();
    for (const e of events) restored.add(e);
    expect(restored.counts.duplicates).toBe(0);
  });

  it('deletes a window’s stored ids once it is final and holds ids only while windows can change', () => {
    const store = new FakeStore();
    const pw = windows();
    for (const e of events) pw.add(e);
    store.checkpoint(pw);
    expect(pw.heldIds()).toBeGreaterThan(0);
    expect([...store.ids.keys()].every((k) => k.startsWith('5m|'))).toBe(true);
    const restored = store.restore();
    expect(restored.heldIds()).toBe(pw.heldIds());
    // Far ahead in event time: every window so far is final.
    restored.add(trade(99_999, T0 + 3_600_000));
    store.checkpoint(restored);
    expect([...store.ids.keys()]).toEqual([`5m|BTCUSDT|${T0 + 3_600_000}`]);
    expect(restored.heldIds()).toBe(1);
    expect(store.appended.at(-1)).toBe(1);
  });
});
