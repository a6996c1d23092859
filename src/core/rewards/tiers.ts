import { Decimal, USD_SCALE } from '../money/decimal.js';
import { dayFromKey, dayIndex, dayKey, monthKey } from '../time/date.js';

/**
 * Reward tiers on 30-day rolling card spend, in event time.
 *
 * spend30d(t) = sum of card spend (USD) with eventTime in (t - 30 days, t].
 * tier(t)     = the highest tier whose threshold <= spend30d(t).
 * Cashback for a spend at t = spend x rate(tier(t)) — the tier AFTER counting that spend — rounded
 * HALF-EVEN to USD_SCALE, then capped so the cashback owed in the spend's UTC calendar month never
 * exceeds the cap of the tier in effect for that spend.
 * Spend leaves the window at exactly eventTime + 30 days; the tier is re-evaluated at that instant,
 * so a user drops a tier at a deterministic event time whenever the watermark passes it.
 */
export const WINDOW_MS = 30 * 24 * 3600 * 1000;

export interface TierDef {
  readonly name: string;
  /** Minimum 30-day spend (USD). */
  readonly threshold: Decimal;
  /** Cashback rate as a fraction (0.005 = 0.5 %). */
  readonly rate: Decimal;
  /** Maximum cashback owed per calendar month (USD). */
  readonly monthlyCap: Decimal;
}

const d = (s: string): Decimal => Decimal.parse(s, USD_SCALE);

/** Default table; thresholds ascending. Override with a config file (docs/core.md). */
export const DEFAULT_TIERS: readonly TierDef[] = [
  { name: 'Bronze', threshold: d('0'), rate: d('0.005'), monthlyCap: d('25') },
  { name: 'Silver', threshold: d('1000'), rate: d('0.01'), monthlyCap: d('100') },
  { name: 'Gold', threshold: d('10000'), rate: d('0.02'), monthlyCap: d('500') },
  { name: 'Platinum', threshold: d('100000'), rate: d('0.03'), monthlyCap: d('2000') },
];

/** Reasons, not exceptions: a tier table from config is checked before use. */
export const checkTiers = (tiers: readonly TierDef[]): string | undefined => {
  if (tiers.length === 0) return 'tier table is empty';
  if (!tiers[0]!.threshold.isZero()) return 'the first tier must start at 0';
  for (let i = 1; i < tiers.length; i++) {
    if (!tiers[i]!.threshold.gt(tiers[i - 1]!.threshold)) return `tier ${tiers[i]!.name}: thresholds must increase`;
  }
  for (const t of tiers)
    if (t.rate.isNegative() || t.monthlyCap.isNegative()) return `tier ${t.name}: negative rate or cap`;
  return undefined;
};

export const tierFor = (tiers: readonly TierDef[], spend: Decimal): TierDef => {
  let out = tiers[0]!;
  for (const t of tiers) if (spend.gte(t.threshold)) out = t;
  return out;
};

export interface Spend {
  readonly eventId: string;
  readonly eventTime: number;
  readonly amount: Decimal;
}

/**
 * One user's reward state as readers see it. The ledger's own copy is a `TierWindow` (below), which
 * implements this interface and is updated in place; the functions `advanceTo` / `recordSpend`
 * keep the value-style API for callers that hold many versions (tests, the simulator, golden cases).
 */
export interface TierState {
  /** Spends still inside the window, ordered by (eventTime, eventId). */
  readonly spends: readonly Spend[];
  readonly spend30d: Decimal;
  readonly tier: string;
  /** Event time the current tier took effect (0 = never changed). */
  readonly since: number;
  /** `YYYY-MM` of the month `owedThisMonth` belongs to. */
  readonly month: string;
  readonly owedThisMonth: Decimal;
}

export interface TierChange {
  readonly at: number;
  readonly from: string;
  readonly to: string;
  readonly spend30d: Decimal;
}

export const monthOf = (t: number): string => monthKey(t);

export interface SpendResult {
  readonly state: TierState;
  readonly changes: TierChange[];
  /** Tier applied to this spend. */
  readonly tier: TierDef;
  /** Cashback owed for this spend after the monthly cap (USD_SCALE). */
  readonly cashback: Decimal;
  /** Cashback the cap withheld (USD_SCALE). */
  readonly capped: Decimal;
}

/** Stored form of the small part of a TierWindow, rewritten whenever anything changes. */
export interface TierHeadJson {
  tier: string;
  spend30d: string;
  since: number;
  month: string;
  owedThisMonth: string;
}
/** Stored form of one event-day bucket of spends: [eventId, eventTime, amount] in window order. */
export type SpendBucketJson = [string, number, string][];
/** Stored form of one spend (field `spendField`): [eventTime, amount]. */
export type SpendJson = [number, string];

/**
 * A store's field for one spend in the window: `<YYYY-MM-DD>|<eventId>`. The day is fixed-width,
 * so the bar at index 10 separates whatever the id holds.
 */
export const spendField = (s: Pick<Spend, 'eventId' | 'eventTime'>): string =>
  `${dayKey(dayIndex(s.eventTime))}|${s.eventId}`;
/** The event day of a `spendField`. */
export const spendFieldDay = (field: string): string => field.slice(0, 10);
export const spendToJson = (s: Spend): SpendJson => [s.eventTime, s.amount.toString()];
/** Every spend of a window as a store's field and value (a first or whole write). */
export const spendEntries = (w: TierState): [string, SpendJson][] =>
  w.spends.map((x) => [spendField(x), spendToJson(x)]);
/** A stored day bucket (the shape before spends were stored one by one) as fields and values. */
export const spendEntriesOfBucket = (rows: SpendBucketJson): [string, SpendJson][] =>
  rows.map(([eventId, eventTime, amount]) => [spendField({ eventId, eventTime }), [eventTime, amount]]);

/**
 * Day buckets (ascending, each in window order: eventTime, then eventId) from stored spends in any
 * order, as `TierWindow.fromParts` takes them: rebuilt by appending, never by walking back.
 */
export const bucketsFromSpends = (spends: Iterable<readonly [string, SpendJson]>): [string, SpendBucketJson][] => {
  const byDay = new Map<string, SpendBucketJson>();
  for (const [f, [t, amount]] of spends) {
    const day = spendFieldDay(f);
    const row: [string, number, string] = [f.slice(11), t, amount];
    const list = byDay.get(day);
    if (list === undefined) byDay.set(day, [row]);
    else list.push(row);
  }
  const text = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const out = [...byDay].sort(([a], [b]) => text(a, b));
  for (const [, rows] of out) rows.sort((a, b) => a[1] - b[1] || text(a[0], b[0]));
  return out;
};

/**
 * What a store must rewrite since its last write: `head` (tier, 30-day spend, month or owed
 * cashback changed) and every spend that entered or left the window, by `spendField`. A touched
 * spend is written if the window holds it when the store writes and deleted otherwise, so a spend
 * that came and went between two writes costs one (harmless) delete and nothing can be missed.
 * Per spend, not per day bucket: a heavy card spender's checkpoint writes its new spends, never its
 * whole day (issue 13: a checkpoint's cost grows with the changes). The map is created on the first
 * change and released by `clear`, so a quiet user holds none.
 */
export class TierChanges {
  head = false;
  private touchedSpends: Map<string, SpendKey> | undefined;
  /**
   * Spends touched since `spends` was last read: the field text and the map entry are made when a
   * store asks (once per checkpoint), not per event — a replay or a batch build never asks.
   */
  private pending: SpendKey[] | undefined;

  /** Spends that entered or left the window, by field (look the value up with `TierWindow.find`). */
  get spends(): ReadonlyMap<string, SpendKey> {
    if (this.pending !== undefined) {
      this.touchedSpends ??= new Map();
      for (const k of this.pending) this.touchedSpends.set(spendField(k), k);
      this.pending = undefined;
    }
    return this.touchedSpends ?? NO_SPENDS;
  }

  touch(s: SpendKey): void {
    this.pending ??= [];
    this.pending.push(s);
  }

  clear(): void {
    this.head = false;
    this.touchedSpends = undefined;
    this.pending = undefined;
  }
}
const NO_SPENDS: ReadonlyMap<string, SpendKey> = new Map();
/** What identifies a spend in the window. */
export type SpendKey = Pick<Spend, 'eventId' | 'eventTime'>;

interface SpendBucket {
  readonly day: number;
  readonly spends: Spend[];
  /** Spends before `head` have left the window. */
  head: number;
}

const bySpendKey = (a: Spend, b: Spend): number =>
  a.eventTime - b.eventTime || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);

/**
 * The 30-day window in amortized O(1) per spend: spends queued in event-day buckets (time order),
 * a running sum, and expiry popping from the front. Each spend enters once and leaves once, and the
 * tier is re-evaluated at each distinct expiry instant exactly as the rule above states. Owned and
 * mutated in place by one user's ledger; `changes` tells a store which buckets to rewrite.
 */
export class TierWindow implements TierState {
  private buckets: SpendBucket[] = [];
  /** Buckets before `first` are empty and gone. */
  private first = 0;
  spend30d: Decimal = Decimal.zero(USD_SCALE);
  since = 0;
  month = '';
  owedThisMonth: Decimal = Decimal.zero(USD_SCALE);
  readonly changes: TierChanges = new TierChanges();
  /** Spends in the window (what a `clone` copies). */
  private count = 0;

  constructor(public tier: string) {}

  get size(): number {
    return this.count;
  }

  /** The spends in the window, in order (a copy: for codecs and tests, not the per-event path). */
  get spends(): readonly Spend[] {
    const out: Spend[] = [];
    for (let i = this.first; i < this.buckets.length; i++) {
      const b = this.buckets[i]!;
      for (let j = b.head; j < b.spends.length; j++) out.push(b.spends[j]!);
    }
    return out;
  }

  /** Event time at which the oldest spend leaves the window (undefined when empty). */
  nextExpiry(): number | undefined {
    const b = this.buckets[this.first];
    return b === undefined ? undefined : b.spends[b.head]!.eventTime + WINDOW_MS;
  }

  /**
   * Expire spend that left the window by event time `t` (every spend with eventTime + 30d <= t),
   * in expiry order, re-evaluating the tier at each expiry instant; changes are appended to `out`.
   * Returns whether anything expired.
   */
  advance(t: number, tiers: readonly TierDef[], out: TierChange[]): boolean {
    let moved = false;
    for (let expiry = this.nextExpiry(); expiry !== undefined && expiry <= t; expiry = this.nextExpiry()) {
      while (this.nextExpiry() === expiry) {
        const b = this.buckets[this.first]!;
        const gone = b.spends[b.head]!;
        this.spend30d = this.spend30d.sub(gone.amount);
        b.head++;
        this.count--;
        this.changes.touch(gone);
        if (b.head === b.spends.length) this.dropFirst();
      }
      this.retier(tiers, expiry, out);
      moved = true;
    }
    if (moved) this.changes.head = true;
    return moved;
  }

  /**
   * Record a card spend. Expires old spend first, so the tier is always that of the window ending at
   * the spend. A spend recorded out of (eventTime, eventId) order takes its place in the queue.
   */
  record(spend: Spend, tiers: readonly TierDef[]): Omit<SpendResult, 'state'> {
    const changes: TierChange[] = [];
    this.advance(spend.eventTime, tiers, changes);
    const amount = spend.amount.rescale(USD_SCALE);
    this.insert({ eventId: spend.eventId, eventTime: spend.eventTime, amount });
    this.spend30d = this.spend30d.add(amount);
    this.retier(tiers, spend.eventTime, changes);
    const tier = tierFor(tiers, this.spend30d);
    const month = monthOf(spend.eventTime);
    const owedBefore = month === this.month ? this.owedThisMonth : Decimal.zero(USD_SCALE);
    const full = amount.mul(tier.rate, USD_SCALE);
    const room = Decimal.max(tier.monthlyCap.sub(owedBefore), Decimal.zero(USD_SCALE));
    const cashback = Decimal.min(full, room);
    this.month = month;
    this.owedThisMonth = owedBefore.add(cashback);
    this.changes.head = true;
    return { changes, tier, cashback, capped: full.sub(cashback) };
  }

  /** Tier name and 30-day spend at event time t (t at or after the last spend), without changing the window. */
  peekAt(t: number, tiers: readonly TierDef[]): { tier: string; spend30d: Decimal } {
    let spend30d = this.spend30d;
    outer: for (let i = this.first; i < this.buckets.length; i++) {
      const b = this.buckets[i]!;
      for (let j = b.head; j < b.spends.length; j++) {
        if (b.spends[j]!.eventTime + WINDOW_MS > t) break outer;
        spend30d = spend30d.sub(b.spends[j]!.amount);
      }
    }
    return { tier: tierFor(tiers, spend30d).name, spend30d };
  }

  headToJson(): TierHeadJson {
    return {
      tier: this.tier,
      spend30d: this.spend30d.toString(),
      since: this.since,
      month: this.month,
      owedThisMonth: this.owedThisMonth.toString(),
    };
  }

  /** Keys of the day buckets holding spends in the window, ascending. */
  bucketKeys(): string[] {
    return this.buckets.slice(this.first).map((b) => dayKey(b.day));
  }

  /** One day bucket's stored form (empty when the bucket is gone). */
  bucketToJson(day: string): SpendBucketJson {
    const d = dayFromKey(day);
    const out: SpendBucketJson = [];
    for (let i = this.first; i < this.buckets.length; i++) {
      const b = this.buckets[i]!;
      if (b.day !== d) continue;
      for (let j = b.head; j < b.spends.length; j++) {
        const s = b.spends[j]!;
        out.push([s.eventId, s.eventTime, s.amount.toString()]);
      }
      break;
    }
    return out;
  }

  clearChanges(): void {
    this.changes.clear();
  }

  /** An independent copy: the live buckets' arrays copied as they are (O(spends), no re-sorting). */
  clone(): TierWindow {
    const w = new TierWindow(this.tier);
    w.spend30d = this.spend30d;
    w.since = this.since;
    w.month = this.month;
    w.owedThisMonth = this.owedThisMonth;
    w.count = this.count;
    for (let i = this.first; i < this.buckets.length; i++) {
      const b = this.buckets[i]!;
      w.buckets.push({ day: b.day, spends: b.spends.slice(b.head), head: 0 });
    }
    return w;
  }

  /** A fresh window holding the same state (O(spends in the window)). */
  static from(s: TierState): TierWindow {
    const w = new TierWindow(s.tier);
    w.spend30d = s.spend30d;
    w.since = s.since;
    w.month = s.month;
    w.owedThisMonth = s.owedThisMonth;
    for (const x of s.spends) w.insert(x);
    w.clearChanges();
    return w;
  }

  static fromParts(head: TierHeadJson, buckets: Iterable<[string, SpendBucketJson]>): TierWindow {
    const w = new TierWindow(head.tier);
    w.spend30d = Decimal.parse(head.spend30d, USD_SCALE);
    w.since = head.since;
    w.month = head.month;
    w.owedThisMonth = Decimal.parse(head.owedThisMonth, USD_SCALE);
    for (const [, rows] of buckets)
      for (const [eventId, eventTime, amount] of rows)
        w.insert({ eventId, eventTime, amount: Decimal.parse(amount, USD_SCALE) });
    w.clearChanges();
    return w;
  }

  private retier(tiers: readonly TierDef[], at: number, out: TierChange[]): void {
    const t = tierFor(tiers, this.spend30d).name;
    if (t === this.tier) return;
    out.push({ at, from: this.tier, to: t, spend30d: this.spend30d });
    this.tier = t;
    this.since = at;
  }

  private dropFirst(): void {
    this.first++;
    // Compact now and then so the bucket list does not keep every day ever seen.
    if (this.first > 16 && this.first * 2 > this.buckets.length) {
      this.buckets = this.buckets.slice(this.first);
      this.first = 0;
    }
  }

  /** Append in order; an out-of-order spend walks back from the tail to its place. */
  private insert(s: Spend): void {
    const d = dayIndex(s.eventTime);
    let i = this.buckets.length;
    while (i > this.first && this.buckets[i - 1]!.day > d) i--;
    let b = i > this.first ? this.buckets[i - 1] : undefined;
    if (b === undefined || b.day !== d) {
      b = { day: d, spends: [], head: 0 };
      this.buckets.splice(i, 0, b);
    }
    let j = b.spends.length;
    while (j > b.head && bySpendKey(b.spends[j - 1]!, s) > 0) j--;
    if (j === b.spends.length) b.spends.push(s);
    else b.spends.splice(j, 0, s);
    this.count++;
    this.changes.touch(s);
  }

  /** The window's spend with this event time and id, if it holds one: O(days + log(spends of its day)). */
  find(s: Pick<Spend, 'eventId' | 'eventTime'>): Spend | undefined {
    const d = dayIndex(s.eventTime);
    let i = this.buckets.length - 1;
    while (i >= this.first && this.buckets[i]!.day > d) i--;
    const b = i >= this.first ? this.buckets[i]! : undefined;
    if (b === undefined || b.day !== d) return undefined;
    const key = s as Spend;
    let lo = b.head;
    let hi = b.spends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bySpendKey(b.spends[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    const at = b.spends[lo];
    return at !== undefined && at.eventTime === s.eventTime && at.eventId === s.eventId ? at : undefined;
  }
}

export const initialTierState = (tiers: readonly TierDef[] = DEFAULT_TIERS): TierState =>
  new TierWindow(tiers[0]!.name);

/**
 * Value-style expiry: `s` is left as it is. Only when something expires is the state copied
 * (O(window)); the ledger's per-event path uses `TierWindow.advance` in place instead.
 */
export const advanceTo = (
  s: TierState,
  t: number,
  tiers: readonly TierDef[] = DEFAULT_TIERS,
): { state: TierState; changes: TierChange[] } => {
  const head = s instanceof TierWindow ? s.nextExpiry() : s.spends[0] && s.spends[0].eventTime + WINDOW_MS;
  if (head === undefined || head > t) return { state: s, changes: [] };
  const w = TierWindow.from(s);
  const changes: TierChange[] = [];
  w.advance(t, tiers, changes);
  return { state: w, changes };
};

/**
 * Value-style `TierWindow.record` (events in (eventTime, eventId) order per user): `s` is left as
 * it is and the result carries a new state (a copy, O(window)).
 */
export const recordSpend = (s: TierState, spend: Spend, tiers: readonly TierDef[] = DEFAULT_TIERS): SpendResult => {
  const w = TierWindow.from(s);
  return { state: w, ...w.record(spend, tiers) };
};

/** Tier at event time t for a user's full spend history (any order). */
export const tierAt = (spends: readonly Spend[], t: number, tiers: readonly TierDef[] = DEFAULT_TIERS): TierDef => {
  let total = Decimal.zero(USD_SCALE);
  for (const s of spends) if (s.eventTime <= t && s.eventTime > t - WINDOW_MS) total = total.add(s.amount);
  return tierFor(tiers, total);
};
