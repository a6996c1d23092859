/**
 * Duplicate detection for one user's events in amortized O(1) per event, whatever the history.
 *
 * The rule (docs/core.md §6) is the one the ledger always had: an applied event's id is remembered
 * until an event applied AFTER it has an event time more than `windowMs` later. For events applied
 * in event-time order that is "remembered while eventTime >= frontier - windowMs", the frontier
 * being the latest event time applied; so ids live in buckets by event day and a bucket is dropped
 * whole once its last millisecond leaves the window. An id inside a partly expired bucket is simply
 * no longer matched (the frontier check) and leaves with its bucket.
 *
 * An event applied more than the window BEHIND the frontier (a very late straggler) is the one case
 * the frontier rule would forget at once: the rule keeps it until a later-applied event is more than
 * a window after it. Stragglers sit in a min-heap by event time and leave as soon as that happens,
 * so they cost O(log k) each; in practice the next on-time event removes them.
 *
 * The structure is owned and mutated by one user's ledger (`user-ledger.ts`), like a Kafka Streams
 * state store: `changes` records which parts a store must rewrite (the head, the touched day
 * buckets, the dropped ones) so a checkpoint writes what changed, not the history.
 */
import { BucketChanges } from '../time/bucket-changes.js';
import { DAY_MS, dayFromKey, dayIndex, dayKey } from '../time/date.js';
import { IdTimeIndex } from './id-index.js';
import { TimeHeap } from './time-heap.js';

/** Stored form of the small, always-rewritten part: the frontier and the stragglers. */
export interface DedupHeadJson {
  /** Latest event time applied (null before the first event). */
  frontier: number | null;
  stragglers: [string, number][];
}
/** Stored form of one event-day bucket: [eventId, eventTime] in insertion order. */
export type DedupBucketJson = [string, number][];

/** `head`: the frontier or the stragglers changed; `days`: buckets with new ids; `dropped`: gone. */
export type DedupChanges = BucketChanges;

/** One event day's ids and their event times, in insertion order. */
interface Bucket {
  readonly ids: string[];
  readonly times: number[];
}

export class DedupIds {
  /** Remembered windowed ids → event time (one lookup per event; a typed-array table, id-index.ts). */
  private index = new IdTimeIndex();
  /**
   * Day index → ids added with an event time in that day, and their times in the same order (the
   * listings read them from here instead of looking each id up in the index, see `repeats`). At
   * most windowMs/DAY_MS + 1 are live.
   */
  private readonly buckets = new Map<number, Bucket>();
  /** Bucket days, ascending (tiny: the window spans three days). */
  private days: number[] = [];
  private frontier = Number.NEGATIVE_INFINITY;
  /** Created with the first straggler (rare): most users never hold one. */
  private stragglers: Map<string, number> | undefined;
  /** Min-heap of [eventTime, eventId] over `stragglers`. */
  private heap: TimeHeap | undefined;
  readonly changes: DedupChanges = new BucketChanges();
  /**
   * Whether an id was ever remembered while the index still held it (re-applied after it left the
   * window, or listed twice in stored buckets): only then can a bucket list it twice or an entry's
   * time differ from the index's, so only then do the listings look ids up in the index and need a
   * Set to list each once. Until then every bucket entry is live in the index at its listed time.
   */
  private repeats = false;

  constructor(readonly windowMs: number) {}

  /** True when `id` was applied and is still remembered. */
  has(id: string): boolean {
    const t = this.index.get(id);
    if (t !== undefined && t >= this.frontier - this.windowMs) return true;
    return this.stragglers?.has(id) === true;
  }

  /** Remember an applied event (call after `has(id)` said false). */
  add(id: string, t: number): void {
    this.expireStragglers(t);
    if (t < this.frontier - this.windowMs) {
      this.addStraggler(id, t);
      this.changes.head = true;
      return;
    }
    const d = dayIndex(t);
    this.remember(id, t, d);
    this.changes.addDay(dayKey(d));
    if (t > this.frontier) {
      this.frontier = t;
      this.changes.head = true;
      this.dropExpiredBuckets();
    }
  }

  /** Live ids with their event time: windowed ones by day, then stragglers. */
  *entries(): IterableIterator<[string, number]> {
    const floor = this.frontier - this.windowMs;
    for (const d of this.days) for (const [id, t] of this.bucketEntries(d)) if (t >= floor) yield [id, t];
    if (this.stragglers !== undefined) yield* this.stragglers;
  }

  /**
   * `entries()` as one list, or undefined when there are more than `max`: for a state written whole
   * (the warehouse snapshot writes every user's ids at the end of its day). No generator, and no
   * per-bucket Set unless an id was ever remembered twice (`repeats`).
   */
  list(max = Number.POSITIVE_INFINITY): [string, number][] | undefined {
    const out: [string, number][] = [];
    const ok = this.scan((id, t) => {
      if (out.length === max) return false;
      out.push([id, t]);
      return true;
    });
    return ok ? out : undefined;
  }

  /** `list(max)` in columns: the ids and their times, or undefined when there are more than `max`. */
  columnsUpTo(max: number): [string[], number[]] | undefined {
    const ids: string[] = [];
    const times: number[] = [];
    const ok = this.scan((id, t) => {
      if (ids.length === max) return false;
      ids.push(id);
      times.push(t);
      return true;
    });
    return ok ? [ids, times] : undefined;
  }

  get size(): number {
    let n = 0;
    this.scan(() => {
      n++;
      return true;
    });
    return n;
  }

  /**
   * `entries()` in columns of at most `size`: the ids and their event times, one pair of arrays
   * per yield (a stored part: the warehouse snapshot keeps a heavy user's ids in parts).
   */
  *columns(size: number): Generator<[string[], number[]]> {
    const [ids, times] = this.columnsUpTo(Number.POSITIVE_INFINITY)!;
    for (let i = 0; i < ids.length; i += size) yield [ids.slice(i, i + size), times.slice(i, i + size)];
  }

  /** Each live id in `entries()` order until `f` returns false; false when it did. */
  private scan(f: (id: string, t: number) => boolean): boolean {
    const floor = this.frontier - this.windowMs;
    for (const d of this.days) {
      const { ids, times } = this.buckets.get(d)!;
      if (!this.repeats) {
        for (let i = 0; i < ids.length; i++) if (times[i]! >= floor && !f(ids[i]!, times[i]!)) return false;
        continue;
      }
      const seen = new Set<string>();
      for (const id of ids) {
        const t = this.index.get(id);
        if (t === undefined || dayIndex(t) !== d || t < floor || seen.has(id)) continue;
        seen.add(id);
        if (!f(id, t)) return false;
      }
    }
    if (this.stragglers !== undefined) for (const [id, t] of this.stragglers) if (!f(id, t)) return false;
    return true;
  }

  /** Keys of the live day buckets, ascending. */
  bucketKeys(): string[] {
    return this.days.map(dayKey);
  }

  headToJson(): DedupHeadJson {
    return {
      frontier: this.frontier === Number.NEGATIVE_INFINITY ? null : this.frontier,
      stragglers: this.stragglers === undefined ? [] : [...this.stragglers],
    };
  }

  /** One day bucket's stored form (empty when the bucket is gone). */
  bucketToJson(day: string): DedupBucketJson {
    return this.bucketEntries(dayFromKey(day));
  }

  /** The ids of a day bucket that still belong to it (an id re-applied later moved on), once each. */
  private bucketEntries(d: number): [string, number][] {
    const out: [string, number][] = [];
    const b = this.buckets.get(d);
    if (b === undefined) return out;
    if (!this.repeats) {
      for (let i = 0; i < b.ids.length; i++) out.push([b.ids[i]!, b.times[i]!]);
      return out;
    }
    const seen = new Set<string>();
    for (const id of b.ids) {
      const t = this.index.get(id);
      if (t === undefined || dayIndex(t) !== d || seen.has(id)) continue;
      seen.add(id);
      out.push([id, t]);
    }
    return out;
  }

  /** Forget the recorded changes (after a store wrote them). */
  clearChanges(): void {
    this.changes.clear();
  }

  clone(): DedupIds {
    const c = DedupIds.fromParts(this.windowMs, this.headToJson(), []);
    for (const d of this.days) {
      const b = this.buckets.get(d)!;
      c.buckets.set(d, { ids: [...b.ids], times: [...b.times] });
    }
    c.index = this.index.clone();
    c.repeats = this.repeats;
    c.days = [...this.days];
    return c;
  }

  /** Rebuild from stored parts (head + the live buckets, in any order). */
  static fromParts(windowMs: number, head: DedupHeadJson, buckets: Iterable<[string, DedupBucketJson]>): DedupIds {
    const s = new DedupIds(windowMs);
    s.frontier = head.frontier ?? Number.NEGATIVE_INFINITY;
    for (const [id, t] of head.stragglers) s.addStraggler(id, t);
    for (const [key, entries] of buckets) {
      const d = dayFromKey(key);
      let b = s.buckets.get(d);
      if (b === undefined) {
        b = { ids: [], times: [] };
        s.buckets.set(d, b);
        s.insertDay(d);
      }
      for (const [id, t] of entries) {
        b.ids.push(id);
        b.times.push(t);
        // A stored bucket lists the ids of its day; one that does not is listed through the index.
        if (!s.index.set(id, t) || dayIndex(t) !== d) s.repeats = true;
      }
    }
    s.dropExpiredBuckets();
    s.clearChanges();
    return s;
  }

  /**
   * Rebuild from the live ids alone (the whole-state JSON form). Exact: the event at the frontier
   * is never forgotten, so the frontier is the latest time listed, and a live id more than a window
   * behind it can only be a straggler.
   */
  static fromEntries(windowMs: number, entries: Iterable<readonly [string, number]>): DedupIds {
    const list = [...entries];
    let frontier: number | null = null;
    for (const [, t] of list) if (frontier === null || t > frontier) frontier = t;
    return DedupIds.fromFrontier(windowMs, frontier, list);
  }

  /**
   * Rebuild from the frontier and the live ids (`entries()`, in any order), streamed: each id goes
   * straight to its day bucket or the stragglers, nothing is listed first. For a store that keeps a
   * heavy user's ids apart in parts (the warehouse snapshot) and reads them back part by part.
   */
  static fromFrontier(
    windowMs: number,
    frontier: number | null,
    entries: Iterable<readonly [string, number]>,
  ): DedupIds {
    const s = new DedupIds(windowMs);
    s.frontier = frontier ?? Number.NEGATIVE_INFINITY;
    const floor = s.frontier - windowMs;
    for (const [id, t] of entries) s.restore(id, t, floor);
    s.dropExpiredBuckets();
    s.clearChanges();
    return s;
  }

  /** `fromEntries` from the ids in columns (`columnsUpTo`). */
  static fromColumns(windowMs: number, ids: readonly string[], times: readonly number[]): DedupIds {
    let frontier: number | null = null;
    for (const t of times) if (frontier === null || t > frontier) frontier = t;
    return DedupIds.fromFrontierColumns(windowMs, frontier, [[ids, times]]);
  }

  /** `fromFrontier` from the ids in columns (`columns()`, a part at a time): no pair per id. */
  static fromFrontierColumns(
    windowMs: number,
    frontier: number | null,
    parts: Iterable<readonly [readonly string[], readonly number[]]>,
  ): DedupIds {
    const s = new DedupIds(windowMs);
    s.frontier = frontier ?? Number.NEGATIVE_INFINITY;
    const floor = s.frontier - windowMs;
    for (const [ids, times] of parts) for (let i = 0; i < ids.length; i++) s.restore(ids[i]!, times[i]!, floor);
    s.dropExpiredBuckets();
    s.clearChanges();
    return s;
  }

  /** A stored live id back: a straggler when more than the window behind the frontier. */
  private restore(id: string, t: number, floor: number): void {
    if (t < floor) this.addStraggler(id, t);
    else this.remember(id, t, dayIndex(t));
  }

  /** The latest event time applied (null before the first event). */
  get latest(): number | null {
    return this.frontier === Number.NEGATIVE_INFINITY ? null : this.frontier;
  }

  /** A windowed id into its event day's bucket (created in day order) and the index. */
  private remember(id: string, t: number, d: number): void {
    let b = this.buckets.get(d);
    if (b === undefined) {
      b = { ids: [], times: [] };
      this.buckets.set(d, b);
      this.insertDay(d);
    }
    b.ids.push(id);
    b.times.push(t);
    if (!this.index.set(id, t)) this.repeats = true;
  }

  private insertDay(d: number): void {
    let i = this.days.length;
    while (i > 0 && this.days[i - 1]! > d) i--;
    this.days.splice(i, 0, d);
  }

  private dropExpiredBuckets(): void {
    const floor = this.frontier - this.windowMs;
    while (this.days.length > 0 && (this.days[0]! + 1) * DAY_MS - 1 < floor) {
      const d = this.days.shift()!;
      for (const id of this.buckets.get(d)!.ids) {
        if (!this.repeats) {
          this.index.delete(id);
          continue;
        }
        const t = this.index.get(id);
        if (t !== undefined && dayIndex(t) === d) this.index.delete(id);
      }
      this.buckets.delete(d);
      const key = dayKey(d);
      this.changes.drop(key);
    }
  }

  private addStraggler(id: string, t: number): void {
    this.stragglers ??= new Map();
    this.stragglers.set(id, t);
    this.heap ??= new TimeHeap();
    this.heap.push(t, id);
  }

  /** An applied event at t ends every straggler more than a window before it. */
  private expireStragglers(t: number): void {
    const heap = this.heap;
    if (heap === undefined) return;
    while (heap.size > 0 && heap.peek()![0] < t - this.windowMs) {
      const [, id] = heap.pop();
      this.stragglers!.delete(id);
      this.changes.head = true;
    }
    if (heap.size === 0) {
      this.heap = undefined;
      this.stragglers = undefined;
    }
  }
}
