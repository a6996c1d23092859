import type { UserEvent } from '../events/types.js';
import type { LotQueue } from '../portfolio/lots.js';
import { compareEvents, type Position, type RejectCode } from '../portfolio/position.js';
import { DEFAULT_TIERS, type TierDef } from '../rewards/tiers.js';
import { dayOf, twoDaysBefore } from '../time/date.js';
import { DedupIds } from './dedup.js';
import { applyUserEvent, type DayRewards, type UserState } from './user-ledger.js';

/**
 * What lets the speed layer apply one user's events in the batch's order, (eventTime, eventId),
 * whatever order they arrive in (issue 14). Kafka Streams keeps a versioned store for the same
 * reason; here the per-user unit is small enough to keep two versions of the book:
 *
 * - `base`: the user's state with every event up to `baseKey` applied, in order;
 * - `log`: the events after it (applied or rejected), in (eventTime, eventId) order.
 *
 * The live state always equals base + log applied in order. An event that arrives after a later
 * event of the same user is inserted into the log and the live state is rebuilt from base by
 * re-applying the log: O(events of that user within the lateness horizon + its 30-day card
 * spends), paid only by a late event. Each event is applied twice in all (amortized O(1)) and
 * memory per user is its book twice plus its events within the lateness.
 *
 * Events fold once they are behind the partition's fold horizon (the engine passes it: the lower
 * user topic's event-time high-water mark minus the lateness), so every event that is not TOO_LATE
 * by the lateness rule (core/time/lateness.ts) is ordered after `baseKey`; docs/core.md §5b.
 */
export interface EventKey {
  readonly eventTime: number;
  readonly eventId: string;
}

export const compareKey = (a: EventKey, b: EventKey): number =>
  a.eventTime - b.eventTime || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);

/** Which of the user's log events the ledger rejected, with the reason (for a dead letter). */
export interface Rejection {
  readonly code: RejectCode;
  readonly reason: string;
}

/** What a re-application changed, for the engine's change tracking and effects. */
export interface Replay {
  /** Days of the re-applied events, with their aggregates after the replay. */
  readonly days: Map<string, DayRewards>;
  /** Book at the end of each re-applied day but the last (the last day's is the live state). */
  readonly endOfDay: Map<string, { positions: Map<string, Position>; lots: Map<string, LotQueue> }>;
  readonly lastDay: string;
  /** Assets whose position an applied event of the replay touched. */
  readonly assets: Set<string>;
  /** Events rejected now that were applied before, and applied now that were rejected before. */
  readonly newlyRejected: [UserEvent, Rejection][];
  readonly noLongerRejected: UserEvent[];
}

/**
 * The dedup ids of every base book and snapshot: one shared, always empty instance. A base never
 * checks or adds ids (events are applied to it with `dedup = false`; the live state detects
 * duplicates), so a user's second book costs no index, buckets or heap of its own (issue 13:
 * memory per user held).
 */
const NO_DEDUP = new DedupIds(0);

/** A state's book without its dedup ids (the base never checks duplicates: the live state does). */
export const bookCopy = (s: UserState): UserState => ({
  userId: s.userId,
  positions: new Map(s.positions),
  tier: s.tier.clone(),
  recent: NO_DEDUP,
  changedAssets: new Set(),
  costMethod: s.costMethod,
  lots: new Map(s.lots),
});

const keepDays = (days: Map<string, DayRewards>, day: string): void => {
  // YYYY-MM-DD keys sort as dates.
  const keepFrom = twoDaysBefore(day);
  for (const d of days.keys()) if (d < keepFrom) days.delete(d);
};

/** The live book before `entries[at]` (in memory only; a restart starts again from base). */
interface Snapshot {
  at: number;
  readonly state: UserState;
  readonly days: Map<string, DayRewards>;
}

/** Events between snapshots: at least this many, and at least 1/16 of the spends a snapshot copies. */
const SNAPSHOT_EVERY = 256;

export class UserHistory {
  /** Log entries before `head` have been folded into base. */
  private head = 0;
  private readonly entries: UserEvent[] = [];
  /**
   * Copies of the live book every SNAPSHOT_EVERY (or more) log events, so a late event re-applies
   * only the events after the last copy before its place: O(spacing + events after it), not the
   * whole log. The spacing grows with the 30-day spends a copy holds, so copies cost O(1) per event
   * amortized (at most 16 copied spend references per event) and their memory is bounded by 16
   * times the log's size.
   */
  private snaps: Snapshot[] = [];
  /**
   * Ids of log events the ledger rejected, and the store's change tracking: log events to write (by
   * id) and ids to delete. Created on first use and released when empty, so a quiet user's
   * collapsed history holds none of them (issue 13: memory per user held).
   */
  private rejectedIds: Map<string, Rejection> | undefined;
  private addedIds: Map<string, UserEvent> | undefined;
  private droppedIds: Set<string> | undefined;
  baseChanged = false;
  /** Base was re-created from the live book: a store rewrites all its parts. */
  baseFull = false;
  /** Base's lot queues as of the previous drain, for the assets folded since (created on demand). */
  baseLotsBefore: Map<string, LotQueue | undefined> | undefined;

  constructor(
    /**
     * undefined = collapsed: the log is empty and base is the live book itself, so a user who went
     * quiet keeps one book, not two (`prepare` copies it again before the user's next event).
     */
    private baseBook: UserState | undefined,
    /** Day aggregates of base (its last three event days). */
    private baseDayMap: Map<string, DayRewards> | undefined,
    /** The last event folded into base: events ordered at or before it are too late. */
    public baseKey: EventKey | undefined,
    /** Latest event time applied for this user (the horizon's reference). */
    public maxEventTime: number,
    log: readonly UserEvent[] = [],
    rejected: Iterable<readonly [string, Rejection]> = [],
  ) {
    this.entries.push(...[...log].sort(compareEvents));
    for (const [id, r] of rejected) this.reject(id, r);
  }

  /** Why the ledger rejected a log event (undefined: applied, or not in the log). */
  rejection(id: string): Rejection | undefined {
    return this.rejectedIds?.get(id);
  }

  /** Log events to write since the previous drain. */
  get added(): Iterable<UserEvent> {
    return this.addedIds?.values() ?? [];
  }

  /** Ids of log events to delete since the previous drain (folded into base). */
  get dropped(): Iterable<string> {
    return this.droppedIds ?? [];
  }

  private reject(id: string, r: Rejection): void {
    this.rejectedIds ??= new Map();
    this.rejectedIds.set(id, r);
  }

  private unreject(id: string): void {
    if (this.rejectedIds?.delete(id) && this.rejectedIds.size === 0) this.rejectedIds = undefined;
  }

  private put(e: UserEvent): void {
    this.addedIds ??= new Map();
    this.addedIds.set(e.eventId, e);
  }

  /** A log event left the log: a store deletes it unless it was never written. */
  private remove(id: string): void {
    this.unreject(id);
    if (this.addedIds?.delete(id) === true) return;
    this.droppedIds ??= new Set();
    this.droppedIds.add(id);
  }

  /** A history for a state restored without one (written before issue 14): base = the state now. */
  static startingAt(state: UserState, days: ReadonlyMap<string, DayRewards>): UserHistory {
    const h = new UserHistory(
      bookCopy(state),
      new Map(days),
      undefined,
      state.recent.headToJson().frontier ?? Number.NEGATIVE_INFINITY,
    );
    // Nothing of this base is stored yet: the next checkpoint writes all of it.
    h.baseChanged = true;
    h.baseFull = true;
    return h;
  }

  get base(): UserState | undefined {
    return this.baseBook;
  }

  get baseDays(): ReadonlyMap<string, DayRewards> | undefined {
    return this.baseDayMap;
  }

  /** Event time of the oldest logged event (undefined when the log is empty). */
  get oldest(): number | undefined {
    return this.size === 0 ? undefined : this.entries[this.head]!.eventTime;
  }

  /**
   * Before an event is applied: a collapsed history copies the live book as its base again (the
   * store rewrites that base whole). Returns true when it did (the log starts again).
   */
  prepare(live: UserState, liveDays: ReadonlyMap<string, DayRewards>): boolean {
    if (this.baseBook !== undefined) return false;
    this.baseBook = bookCopy(live);
    this.baseDayMap = new Map(liveDays);
    this.baseChanged = true;
    this.baseFull = true;
    return true;
  }

  get log(): readonly UserEvent[] {
    return this.head === 0 ? this.entries : this.entries.slice(this.head);
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  private last(): UserEvent | undefined {
    return this.size === 0 ? undefined : this.entries[this.entries.length - 1];
  }

  /** Too late to place: ordered at or before an event already folded into base. */
  isTooLate(e: EventKey): boolean {
    return this.baseKey !== undefined && compareKey(e, this.baseKey) <= 0;
  }

  /** In order: after every event of the log (and base), so it can simply be applied to the live state. */
  isInOrder(e: UserEvent): boolean {
    const last = this.last();
    return last === undefined || compareEvents(last, e) < 0;
  }

  /** Record an event applied in order to the live state (`live`, `liveDays`: the book after it). */
  append(
    e: UserEvent,
    rejection: Rejection | undefined,
    live: UserState,
    liveDays: ReadonlyMap<string, DayRewards>,
  ): void {
    this.entries.push(e);
    this.put(e);
    if (rejection !== undefined) this.reject(e.eventId, rejection);
    if (e.eventTime > this.maxEventTime) this.maxEventTime = e.eventTime;
    this.maybeSnapshot(this.entries.length, live, liveDays);
  }

  private maybeSnapshot(at: number, live: UserState, liveDays: ReadonlyMap<string, DayRewards>): void {
    const from = this.snaps.at(-1)?.at ?? this.head;
    if (at - from < Math.max(SNAPSHOT_EVERY, live.tier.size / 16)) return;
    this.snaps.push({ at, state: bookCopy(live), days: new Map(liveDays) });
  }

  /**
   * Insert a late event and rebuild the live state from base: returns the new live state (sharing
   * `live.recent` and `live.changedAssets`, which the caller keeps) and what the replay changed.
   */
  insertAndReplay(
    e: UserEvent,
    live: UserState,
    tiers: readonly TierDef[] = DEFAULT_TIERS,
    openDay?: string,
  ): [UserState, Replay] {
    let i = this.entries.length;
    while (i > this.head && compareEvents(this.entries[i - 1]!, e) > 0) i--;
    this.entries.splice(i, 0, e);
    if (e.eventTime > this.maxEventTime) this.maxEventTime = e.eventTime;
    // Start from the last copy at or before the insertion point (copies after it lack the event).
    while (this.snaps.length > 0 && this.snaps.at(-1)!.at > i) this.snaps.pop();
    const from = this.snaps.at(-1);
    const b = bookCopy(from?.state ?? this.baseBook!);
    const s: UserState = { ...b, recent: live.recent, changedAssets: live.changedAssets };
    const days = new Map(from?.days ?? this.baseDayMap!);
    const endOfDay: Replay['endOfDay'] = new Map();
    const assets = new Set<string>();
    const newlyRejected: [UserEvent, Rejection][] = [];
    const noLongerRejected: UserEvent[] = [];
    // The day whose end-of-day book the starting book is, when the replay's first event is on a
    // later day: `openDay` (the engine's day whose end-of-day book is not written yet: only rejected
    // events came after its last applied one) or else the day of the event before the start. Its
    // events may all have folded into base, so no replayed event would otherwise close that day.
    const start = from?.at ?? this.head;
    const prev = start > this.head ? this.entries[start - 1] : this.baseKey;
    const firstDay = dayOf(this.entries[start]!.eventTime);
    const candidate = openDay ?? (prev === undefined ? '' : dayOf(prev.eventTime));
    let day = candidate !== '' && candidate <= firstDay ? candidate : '';
    for (let j = start; j < this.entries.length; j++) {
      if (j > i) this.maybeSnapshot(j, s, days);
      const ev = this.entries[j]!;
      const d = dayOf(ev.eventTime);
      if (day !== '' && d !== day) endOfDay.set(day, { positions: new Map(s.positions), lots: new Map(s.lots) });
      day = d;
      const step = applyUserEvent(s, ev, days.get(d), tiers, false);
      days.set(d, step.day!);
      // A replayed card spend may now be rejected (or no longer be): the store rewrites or deletes
      // its field either way (the caller's drain looks it up in the new window).
      if (ev.kind === 'transaction' && ev.type === 'card_spend') s.tier.changes.touch(ev);
      // Every re-applied event is rewritten in the store (its rejected flag may have changed).
      this.put(ev);
      const was = this.rejection(ev.eventId);
      if (step.outcome.kind === 'rejected') {
        const r = { code: step.outcome.code, reason: step.outcome.reason };
        if (was === undefined) newlyRejected.push([ev, r]);
        this.reject(ev.eventId, r);
      } else {
        if (was !== undefined) noLongerRejected.push(ev);
        this.unreject(ev.eventId);
        if (step.asset !== undefined) assets.add(step.asset);
      }
    }
    return [s, { days, endOfDay, lastDay: day, assets, newlyRejected, noLongerRejected }];
  }

  /**
   * Fold the logged events older than `horizon` (event time) into base, in order: the engine passes
   * its fold horizon (the lower user topic's high-water mark minus the user lateness).
   * An emptied log collapses base into the live book.
   */
  fold(horizon: number, tiers: readonly TierDef[] = DEFAULT_TIERS): void {
    if (this.size === 0 ? this.baseBook !== undefined : this.entries[this.entries.length - 1]!.eventTime < horizon) {
      this.collapse();
      return;
    }
    while (this.head < this.entries.length && this.entries[this.head]!.eventTime < horizon) {
      const ev = this.entries[this.head++]!;
      const d = dayOf(ev.eventTime);
      this.baseLotsBefore ??= new Map();
      if (!this.baseLotsBefore.has(ev.asset)) this.baseLotsBefore.set(ev.asset, this.baseBook!.lots.get(ev.asset));
      const step = applyUserEvent(this.baseBook!, ev, this.baseDayMap!.get(d), tiers, false);
      this.baseDayMap!.set(d, step.day!);
      keepDays(this.baseDayMap!, d);
      this.baseKey = { eventTime: ev.eventTime, eventId: ev.eventId };
      this.remove(ev.eventId);
      this.baseChanged = true;
    }
    while (this.snaps.length > 0 && this.snaps[0]!.at <= this.head) this.snaps.shift();
    if (this.size === 0 && this.baseBook !== undefined) {
      this.baseBook = undefined;
      this.baseDayMap = undefined;
      this.entries.length = 0;
      this.head = 0;
      this.snaps = [];
      return;
    }
    // Compact now and then: the array never keeps much more than the horizon's events.
    if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      for (const sn of this.snaps) sn.at -= this.head;
      this.head = 0;
    }
  }

  /**
   * The whole log is behind the horizon: base + log in order IS the live book (the invariant), and a
   * collapsed history keeps no base, so the events are not applied to base a second time (most users
   * of a large population: one event, then quiet past the lateness). Same outcome as folding them
   * one by one and collapsing: the log's ids leave the store, `baseKey` is the last event.
   */
  private collapse(): void {
    for (let j = this.head; j < this.entries.length; j++) {
      this.remove(this.entries[j]!.eventId);
    }
    if (this.size > 0) {
      const last = this.entries[this.entries.length - 1]!;
      this.baseKey = { eventTime: last.eventTime, eventId: last.eventId };
      this.baseChanged = true;
    }
    this.baseBook = undefined;
    this.baseDayMap = undefined;
    this.baseLotsBefore = undefined;
    this.entries.length = 0;
    this.head = 0;
    this.snaps = [];
  }

  clearChanges(): void {
    this.addedIds = undefined;
    this.droppedIds = undefined;
    this.baseChanged = false;
    this.baseFull = false;
    this.baseLotsBefore = undefined;
  }
}
