import type { PriceEvent } from '../events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../money/decimal.js';
import {
  type Candle,
  candleOf,
  INTERVALS_MS,
  type Interval,
  keyCmp,
  type TradeKey,
  vwap,
  windowStart,
} from '../ohlcv/candle.js';
import { classify, type Lateness, NO_WATERMARK } from '../ohlcv/watermark.js';

/**
 * The speed layer's candle state for one Kafka partition of raw.prices (every symbol lives on exactly
 * one partition, so a partition's own watermark decides its windows; that keeps the output identical
 * however partitions are spread over workers, and across restarts).
 *
 * watermark = max event time seen - outOfOrderness. An event is classified against the watermark
 * BEFORE it (so the event cannot make itself late). A window is emitted (closed) once the watermark
 * reaches its end, stays open for updates until end + allowed lateness, then is final and leaves memory.
 * An event too late for its 1m window goes to the late topic; it still counts in a coarser window
 * that is not final yet.
 *
 * Duplicates (same event id) are dropped for as long as their window can change: each open window of
 * the coarsest interval holds the ids of its trades, and a checkpoint persists the ids added since
 * the previous one (`drainTradeIds`), so a worker that restores the partition (restart, rebalance,
 * deploy) drops a re-delivered trade exactly as an uninterrupted run does. Ids leave memory, and the
 * store, when their window is final; a trade later than that is too late, never a duplicate.
 */
export interface PriceWindowOptions {
  readonly intervals: readonly Interval[];
  readonly outOfOrdernessMs: number;
  readonly allowedLatenessMs: number;
}

/**
 * One open window: its candle kept as a running accumulator, updated in place by each trade (the
 * window owns it, like a Kafka Streams window store) instead of a new Candle and four new Decimals
 * per trade and interval. Every field is the same order-independent function of the window's trades
 * as `mergeCandles` (open/close by (eventTime, eventId), exact sums at the candle's fixed scales), so
 * the candle is identical; it is built as a `Candle` only when read (a checkpoint's dirty windows).
 */
class OpenWindow {
  /**
   * Event ids of the trades in this window (duplicate trades are dropped), restored with the window
   * after a restart. Kept only in windows of the coarsest interval: see `PriceWindows.add`.
   */
  readonly ids: Set<string>;
  /** Ids added since the last `drainTradeIds` (what the next checkpoint appends). */
  fresh: string[];
  /** Some of its ids are in the store (written by a checkpoint or restored): delete them when final. */
  stored: boolean;
  dirty = true;
  /** Sealed (final, left `open`): the per-symbol fast path must not reuse it. */
  closed = false;
  readonly symbol: string;
  readonly start: number;
  readonly end: number;
  private open: Decimal;
  private openKey: TradeKey;
  private close: Decimal;
  private closeKey: TradeKey;
  private high: Decimal;
  private low: Decimal;
  /** Units of the volume (QTY_SCALE) and the quote volume (USD_SCALE). */
  private volume: bigint;
  private quoteVolume: bigint;
  private trades: number;
  /** The candle as last built; undefined once a trade changed it. */
  private built: Candle | undefined;

  constructor(
    readonly interval: Interval,
    c: Candle,
    ids: readonly string[],
    fresh: string[],
    stored: boolean,
  ) {
    this.symbol = c.symbol;
    this.start = c.start;
    this.end = c.end;
    this.open = c.open;
    this.openKey = c.openKey;
    this.close = c.close;
    this.closeKey = c.closeKey;
    this.high = c.high;
    this.low = c.low;
    this.volume = c.volume.rescale(QTY_SCALE).units;
    this.quoteVolume = c.quoteVolume.rescale(USD_SCALE).units;
    this.trades = c.trades;
    this.built = c;
    this.ids = new Set(ids);
    this.fresh = fresh;
    this.stored = stored;
  }

  /** One trade: `price` at PRICE_SCALE, `qty` units at QTY_SCALE, `quote` its quote volume's units. */
  add(key: TradeKey, price: Decimal, qty: bigint, quote: bigint): void {
    if (keyCmp(key, this.openKey) < 0) {
      this.open = price;
      this.openKey = key;
    }
    if (keyCmp(key, this.closeKey) > 0) {
      this.close = price;
      this.closeKey = key;
    }
    if (price.gt(this.high)) this.high = price;
    if (price.lt(this.low)) this.low = price;
    this.volume += qty;
    this.quoteVolume += quote;
    this.trades++;
    this.built = undefined;
    this.dirty = true;
  }

  get candle(): Candle {
    this.built ??= {
      symbol: this.symbol,
      start: this.start,
      end: this.end,
      open: this.open,
      high: this.high,
      low: this.low,
      close: this.close,
      volume: Decimal.fromUnits(this.volume, QTY_SCALE),
      quoteVolume: Decimal.fromUnits(this.quoteVolume, USD_SCALE),
      trades: this.trades,
      openKey: this.openKey,
      closeKey: this.closeKey,
    };
    return this.built;
  }
}

export interface EmittedCandle {
  readonly interval: Interval;
  readonly candle: Candle;
  /** The watermark passed end + allowed lateness: it can no longer change. */
  readonly final: boolean;
}

export interface LastPrice {
  readonly price: Decimal;
  readonly eventTime: number;
  readonly eventId: string;
}

export type PriceOutcome = { readonly status: Lateness | 'duplicate'; readonly lateFor: readonly Interval[] };

const NOT_LATE: readonly Interval[] = Object.freeze([]);
/** The outcomes without a too-late interval (nearly every trade): shared, not built per trade. */
const OUTCOME = {
  on_time: Object.freeze({ status: 'on_time', lateFor: NOT_LATE }),
  late: Object.freeze({ status: 'late', lateFor: NOT_LATE }),
  duplicate: Object.freeze({ status: 'duplicate', lateFor: NOT_LATE }),
} as const satisfies Record<string, PriceOutcome>;

/** One window's place: the open-window key's parts (interval, symbol, window start). */
export interface WindowRef {
  readonly interval: Interval;
  readonly symbol: string;
  readonly start: number;
}

/** What a checkpoint writes of the open windows' trade ids: appends and whole-window deletes. */
export interface TradeIdChanges {
  /** Ids added to each window since the previous drain (only these are appended). */
  readonly added: readonly (readonly [WindowRef, readonly string[]])[];
  /** Windows that became final: their stored ids are deleted. */
  readonly dropped: readonly WindowRef[];
}

/** The key of an open window (`${interval}|${symbol}|${start}`), shared with restored id sets. */
export const windowKey = (interval: Interval, symbol: string, start: number): string =>
  `${interval}|${symbol}|${start}`;

export class PriceWindows {
  maxEventTime = NO_WATERMARK;
  private readonly open = new Map<string, OpenWindow>();
  /** Per symbol, the window of each interval the symbol's last trade went to (in-order trades hit it). */
  private readonly hot = new Map<string, (OpenWindow | undefined)[]>();
  private readonly sizes: number[];
  /** Index of the coarsest interval: its window holds the event ids. */
  private readonly coarsest: number;
  /** Windows that became final since the last drain, to write once more and forget. */
  private finals: EmittedCandle[] = [];
  /** Windows with fresh ids since the last `drainTradeIds`. */
  private freshIds = new Set<OpenWindow>();
  /** Windows with stored ids that became final since the last `drainTradeIds`. */
  private droppedIds: WindowRef[] = [];
  readonly last = new Map<string, LastPrice>();
  readonly dirtySymbols = new Set<string>();
  counts = { onTime: 0, late: 0, tooLate: 0, duplicates: 0 };

  constructor(readonly opts: PriceWindowOptions) {
    this.sizes = opts.intervals.map((i) => INTERVALS_MS[i]);
    this.coarsest = this.sizes.indexOf(Math.max(...this.sizes));
  }

  private windowOf(i: number, symbol: string, start: number): OpenWindow | undefined {
    const w = this.hot.get(symbol)?.[i];
    if (w !== undefined && !w.closed && w.start === start) return w;
    return this.open.get(windowKey(this.opts.intervals[i]!, symbol, start));
  }

  watermark(): number {
    return this.maxEventTime === NO_WATERMARK ? NO_WATERMARK : this.maxEventTime - this.opts.outOfOrdernessMs;
  }

  /**
   * Duplicates are detected in the coarsest interval's window only: it ends last, so it accepts an
   * event whenever any finer window does, and every id added anywhere was added there too.
   */
  add(e: PriceEvent): PriceOutcome {
    const wm = this.watermark();
    let lateFor: Interval[] | undefined;
    const { intervals } = this.opts;
    const c = this.coarsest;
    const cStart = windowStart(e.eventTime, this.sizes[c]!);
    const cStatus = classify(cStart + this.sizes[c]!, wm, this.opts.allowedLatenessMs);
    if (cStatus !== 'too_late' && this.windowOf(c, e.symbol, cStart)?.ids.has(e.eventId)) {
      this.counts.duplicates++;
      return OUTCOME.duplicate;
    }
    let accepted = false;
    let late = false;
    // The trade's exact amounts, computed once (its quote volume, rounded per trade, is the costly
    // part) and added to every interval's window it extends; a window it opens starts as its candle.
    let price: Decimal | undefined;
    let qty = 0n;
    let quote = 0n;
    let key: TradeKey | undefined;
    let hot = this.hot.get(e.symbol);
    if (hot === undefined) {
      hot = [];
      this.hot.set(e.symbol, hot);
    }
    for (let i = 0; i < intervals.length; i++) {
      const interval = intervals[i]!;
      const size = this.sizes[i]!;
      const start = i === c ? cStart : windowStart(e.eventTime, size);
      const status = i === c ? cStatus : classify(start + size, wm, this.opts.allowedLatenessMs);
      if (status === 'too_late') {
        lateFor ??= [];
        lateFor.push(interval);
        continue;
      }
      if (status === 'late') late = true;
      let w = this.windowOf(i, e.symbol, start);
      if (w === undefined) {
        const ids = i === c ? [e.eventId] : [];
        w = new OpenWindow(interval, candleOf(e, size), ids, [...ids], false);
        this.open.set(windowKey(interval, e.symbol, start), w);
        if (i === c) this.freshIds.add(w);
      } else {
        if (price === undefined || key === undefined) {
          price = e.price.rescale(PRICE_SCALE);
          qty = e.quantity.rescale(QTY_SCALE).units;
          quote = e.quantity.mul(e.price, USD_SCALE).units;
          key = { t: e.eventTime, id: e.eventId };
        }
        w.add(key, price, qty, quote);
        if (i === c) {
          w.ids.add(e.eventId);
          w.fresh.push(e.eventId);
          this.freshIds.add(w);
        }
      }
      hot[i] = w;
      accepted = true;
    }
    if (e.eventTime > this.maxEventTime) this.maxEventTime = e.eventTime;
    if (!accepted) {
      this.counts.tooLate++;
      return { status: 'too_late', lateFor: lateFor ?? NOT_LATE };
    }
    const prev = this.last.get(e.symbol);
    if (
      prev === undefined ||
      e.eventTime > prev.eventTime ||
      (e.eventTime === prev.eventTime && e.eventId > prev.eventId)
    ) {
      this.last.set(e.symbol, { price: e.price.rescale(PRICE_SCALE), eventTime: e.eventTime, eventId: e.eventId });
      this.dirtySymbols.add(e.symbol);
    }
    if (late) this.counts.late++;
    else this.counts.onTime++;
    if (lateFor === undefined) return late ? OUTCOME.late : OUTCOME.on_time;
    return { status: late ? 'late' : 'on_time', lateFor };
  }

  /** Move windows whose lateness has expired to the finals list. Call after each batch. */
  seal(): void {
    const wm = this.watermark();
    for (const [k, w] of this.open) {
      if (w.end + this.opts.allowedLatenessMs <= wm) {
        this.finals.push({ interval: w.interval, candle: w.candle, final: true });
        w.closed = true;
        this.open.delete(k);
        // Final: no trade can be a duplicate of it any more (it would be too late). Free the ids now
        // (the per-symbol fast path may still point at the window) and delete the stored ones.
        if (w.stored) this.droppedIds.push({ interval: w.interval, symbol: w.symbol, start: w.start });
        this.freshIds.delete(w);
        w.ids.clear();
        w.fresh = [];
      }
    }
  }

  /** Candles changed since the last drain (live ones and newly final ones); clears dirty flags. */
  drain(): EmittedCandle[] {
    this.seal();
    const out = this.finals;
    this.finals = [];
    for (const w of this.open.values()) {
      if (!w.dirty) continue;
      w.dirty = false;
      out.push({ interval: w.interval, candle: w.candle, final: false });
    }
    return out;
  }

  /**
   * Trade ids added since the previous call (per window, to append) and windows whose stored ids are
   * no longer needed (final). Call after `drain` (which seals): cost proportional to what changed.
   */
  drainTradeIds(): TradeIdChanges {
    const added: [WindowRef, string[]][] = [];
    for (const w of this.freshIds) {
      if (w.fresh.length === 0) continue;
      added.push([{ interval: w.interval, symbol: w.symbol, start: w.start }, w.fresh]);
      w.fresh = [];
      w.stored = true;
    }
    this.freshIds.clear();
    const dropped = this.droppedIds;
    this.droppedIds = [];
    return { added, dropped };
  }

  /** Ids currently held (all open windows): the memory bound's measure. */
  heldIds(): number {
    let n = 0;
    for (const w of this.open.values()) n += w.ids.size;
    return n;
  }

  openWindows(): EmittedCandle[] {
    return [...this.open.values()].map((w) => ({ interval: w.interval, candle: w.candle, final: false }));
  }

  /**
   * Restore open windows from a checkpoint, with the trade ids stored for them (keyed by `windowKey`):
   * a trade re-delivered into a restored window is then a duplicate, as without the restart.
   */
  restore(
    maxEventTime: number,
    windows: readonly EmittedCandle[],
    last: ReadonlyMap<string, LastPrice>,
    ids: ReadonlyMap<string, readonly string[]> = new Map(),
  ): void {
    this.maxEventTime = maxEventTime;
    const coarsest = this.opts.intervals[this.coarsest];
    for (const w of windows) {
      const key = windowKey(w.interval, w.candle.symbol, w.candle.start);
      const held = w.interval === coarsest ? ids.get(key) : undefined;
      // Ids of a restored window may be stored even when none came back (the checkpoint that
      // wrote the window also wrote them): delete them when it is final either way.
      const restored = new OpenWindow(w.interval, w.candle, held ?? [], [], w.interval === coarsest);
      restored.dirty = false;
      this.open.set(key, restored);
    }
    for (const [s, p] of last) this.last.set(s, p);
  }
}

/** Candle <-> JSON (Redis), keeping the open/close ordering keys so a restored window merges correctly. */
/** A candle's public fields as JSON: exact decimals as canonical strings (Redis, --json, fixtures). */
export interface CandleFieldsJson {
  start: number;
  end: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  quoteVolume: string;
  trades: number;
  vwap: string;
}

/** A candle as the speed layer stores it: the fields plus what a restart needs to keep merging. */
export interface CandleStateJson extends CandleFieldsJson {
  symbol: string;
  /** True once the watermark passed end + allowed lateness: the candle can no longer change. */
  final: boolean;
  openKey: [number, string];
  closeKey: [number, string];
}

export const candleToJson = (c: Candle, final: boolean): CandleStateJson => ({
  symbol: c.symbol,
  start: c.start,
  end: c.end,
  open: c.open.toString(),
  high: c.high.toString(),
  low: c.low.toString(),
  close: c.close.toString(),
  volume: c.volume.toString(),
  quoteVolume: c.quoteVolume.toString(),
  trades: c.trades,
  vwap: vwap(c).toString(),
  final,
  openKey: [c.openKey.t, c.openKey.id],
  closeKey: [c.closeKey.t, c.closeKey.id],
});

export const candleFromJson = (j: CandleStateJson): Candle => {
  const p = (s: string) => Decimal.parse(s, PRICE_SCALE);
  return {
    symbol: j.symbol,
    start: j.start,
    end: j.end,
    open: p(j.open),
    high: p(j.high),
    low: p(j.low),
    close: p(j.close),
    volume: Decimal.parse(j.volume, QTY_SCALE),
    quoteVolume: Decimal.parse(j.quoteVolume, USD_SCALE),
    trades: j.trades,
    openKey: { t: j.openKey[0], id: j.openKey[1] },
    closeKey: { t: j.closeKey[0], id: j.closeKey[1] },
  };
};
