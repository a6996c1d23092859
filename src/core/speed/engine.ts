import { CryptolambdaError } from '../errors.js';
import type { PriceEvent, UserEvent } from '../events/types.js';
import type { Interval } from '../ohlcv/candle.js';
import { NO_WATERMARK } from '../ohlcv/watermark.js';
import type { CostMethod, LotQueue } from '../portfolio/lots.js';
import {
  applyEvent,
  compareEvents,
  emptyPosition,
  type Position,
  type RejectCode,
  touchesPosition,
} from '../portfolio/position.js';
import {
  DEFAULT_TIERS,
  type SpendJson,
  type SpendKey,
  spendEntries,
  spendToJson,
  type TierChange,
  type TierDef,
  type TierHeadJson,
  type TierWindow,
} from '../rewards/tiers.js';
import { twoDaysBefore } from '../time/date.js';
import { DEFAULT_USER_LATENESS_MS, isTooLate, tooLateReason } from '../time/lateness.js';
import type { DedupHeadJson } from './dedup.js';
import { type EmittedCandle, type LastPrice, PriceWindows, type TradeIdChanges } from './price-windows.js';
import { TimeHeap } from './time-heap.js';
import { type EventKey, type Rejection, UserHistory } from './user-history.js';
import {
  advanceUser,
  applyUserEvent,
  clearUserChanges,
  type DayRewards,
  DEDUP_WINDOW_MS,
  dayOf,
  emptyUser,
  type UserState,
  userChanges,
} from './user-ledger.js';

/**
 * The speed layer's logic for one partition n (partition n of raw.prices, raw.transactions and
 * raw.rewards belong to one worker at a time), pure: decoded events in, typed changes out. The
 * adapter (src/adapters/redis/speed-store.ts) turns the changes into one checkpoint transaction and
 * restores a `PartitionEngine` from what earlier checkpoints wrote. Processing time is passed in.
 *
 * User events from the two user topics are merged in (eventTime, eventId) order before they touch
 * accounting (average cost depends on order): an event is released once both topics' max event
 * time minus the out-of-orderness has passed it, which makes the order independent of how Kafka
 * interleaves the two topics' batches. When the user topics go quiet (`userIdleMs` of processing
 * time, and processed up to their high watermark), the buffer is released so the last events of a
 * stream do not wait forever.
 */
export interface SpeedEngineOptions {
  /** Bounded out-of-orderness of event time (ms). */
  readonly outOfOrdernessMs: number;
  /** How long a closed window still accepts late trades (ms). */
  readonly allowedLatenessMs: number;
  /** Processing time without new user events after which buffered user events are released (ms). */
  readonly userIdleMs: number;
  /**
   * Allowed user lateness (event time, ms): an event up to this much older than the latest event
   * time earlier in its topic partition is put in its (eventTime, eventId) place by re-applying the
   * user's later events; older ones are TOO_LATE in both layers (core/time/lateness.ts, docs/core.md
   * §5b). Default 1 hour. The batch must use the same value (`speed.userLateness`).
   */
  readonly userLatenessMs?: number;
  readonly tiers: readonly TierDef[];
  /** The deployment's cost-basis method new users' lots are kept by (docs/core.md §3a); FIFO when absent. */
  readonly costMethod?: CostMethod;
}

/** A user's book at the end of a day: positions and their open lots. */
export interface EodBook {
  readonly positions: ReadonlyMap<string, Position>;
  readonly lots: ReadonlyMap<string, LotQueue>;
}

export { DEFAULT_USER_LATENESS_MS };

export const DEFAULT_ENGINE_OPTIONS: SpeedEngineOptions = {
  outOfOrdernessMs: 5_000,
  allowedLatenessMs: 30_000,
  userIdleMs: 2_000,
  userLatenessMs: DEFAULT_USER_LATENESS_MS,
  tiers: DEFAULT_TIERS,
};

export const INTERVALS: readonly Interval[] = ['1m', '5m'];
export const USER_TABLES = ['transactions', 'rewards'] as const;
export type UserTable = (typeof USER_TABLES)[number];

export interface PartitionCounts {
  userEvents: number;
  duplicates: number;
  rejected: number;
  invalid: number;
  lateUser: number;
  tierChanges: number;
  /** Late events put in their place by re-applying the user's later events. */
  reordered: number;
  /** Events TOO_LATE by the lateness rule (dead-lettered; the batch rejects them too). */
  tooLateUser: number;
  /** Events not TOO_LATE that the user's folded history could not place (dead-lettered UNPLACEABLE). */
  unplaceable: number;
  /** Events rejected earlier that a late event made valid (their dead letter stays in the topic). */
  unrejected: number;
}

export const emptyCounts = (): PartitionCounts => ({
  userEvents: 0,
  duplicates: 0,
  rejected: 0,
  invalid: 0,
  lateUser: 0,
  tierChanges: 0,
  reordered: 0,
  tooLateUser: 0,
  unplaceable: 0,
  unrejected: 0,
});

/** A user as the worker keeps it: the ledger state plus the aggregates of its recent days. */
export interface StoredUser {
  state: UserState;
  /** Day aggregates of the last three days the user had events (older days are final and written). */
  days: Map<string, DayRewards>;
  /** Base book and recent events for in-order re-application (created on the first event when absent). */
  hist?: UserHistory;
  /**
   * The day whose end-of-day key the store holds as the live book of the previous drain (its
   * lots are then written as changes; any other day's book is written whole). It only moves
   * forward (the user's latest event day), so the store holds no book of a later day; '' = none of
   * any day (a user new since acquire); undefined = unknown (restored). Not checkpointed.
   */
  eodStored?: string;
  /**
   * The store's: the latest event day whose per-user day keys this process already gave their TTL
   * (`ttlKeys` a bit per key kind), so a checkpoint does not resend an EXPIRE per key and
   * checkpoint. Not checkpointed (a restored user gets its TTLs set again on its first write).
   */
  ttlDay?: string;
  ttlKeys?: number;
  /**
   * The store's: its user hash holds the cost method (written with the user's first state, or
   * loaded from it). The method never changes, so later checkpoints leave that field alone.
   */
  methodStored?: boolean;
}

/** The partition-wide scalars a checkpoint stores (small, rewritten when they change). */
export interface PartitionSnapshot {
  readonly priceMaxEventTime: number;
  readonly openWindows: readonly EmittedCandle[];
  readonly lastPrices: ReadonlyMap<string, LastPrice>;
  readonly priceCounts: PriceWindows['counts'];
  readonly counts: PartitionCounts;
  readonly userMax: ReadonlyMap<string, number>;
  readonly userFrontier: number;
}

/** What changed for one user since the previous drain: each field names a part the store rewrites. */
export interface UserChange {
  readonly userId: string;
  readonly user: StoredUser;
  /** Assets whose position changed. */
  readonly assets: readonly string[];
  /**
   * The live lot queues as of the previous drain, for the assets changed since (absent = the store
   * holds none for it): a store keeping one record per lot writes the difference (`lotChanges`).
   */
  readonly lotsBefore: ReadonlyMap<string, LotQueue | undefined>;
  /** `StoredUser.eodStored` before this drain: the day whose stored book `lotsBefore` is. */
  readonly eodStored?: string;
  /** Day aggregates that changed (final values of days that already left the worker's memory included). */
  readonly days: readonly (readonly [string, DayRewards])[];
  /** Events applied (or rejected) per event day: the Lambda merge's per-day event sets. */
  readonly deltas: readonly (readonly [string, readonly UserEvent[]])[];
  /** Per day touched, the user's whole book right after their latest applied event of that day. */
  readonly endOfDay: readonly (readonly [string, EodBook])[];
  /** The public tier (tier:<user>) changed, also by expiry without an event. */
  readonly tier: boolean;
  /** The ledger's private state parts that changed (core/speed/user-ledger.ts `userChanges`). */
  readonly parts: UserPartChanges;
  /** The re-application history's parts that changed (absent when nothing did). */
  readonly hist?: HistChanges;
  /**
   * Only the history changed (events folded into base, no event applied, no tier expiry): the
   * live book and its parts are as the store holds them, so a store writes the history alone.
   */
  readonly histOnly: boolean;
}

/** The ledger-state parts a store rewrites: small heads, touched day buckets, dropped buckets. */
export interface UserPartChanges {
  /** The small heads are always included: O(1) per dirty user, and a new user's first checkpoint needs them. */
  readonly tierHead: TierHeadJson;
  /**
   * Card spends that entered the 30-day window, by `spendField` (`<day>|<eventId>`), and fields of
   * spends that left it: per spend, so a heavy card spender's checkpoint writes its new spends only.
   */
  readonly spendPut: readonly (readonly [string, SpendJson])[];
  readonly spendDel: readonly string[];
  readonly dedupHead: DedupHeadJson;
  /**
   * Event ids remembered since the previous drain, per day bucket: buckets only grow, so a store
   * appends these instead of rewriting the bucket.
   */
  readonly dedupAdded: readonly (readonly [string, readonly (readonly [string, number])[]])[];
  readonly dedupDaysDropped: readonly string[];
}

/**
 * What changed in a user's `UserHistory`: log events to write (with the rejection the ledger gave
 * them) and to delete (folded into base), and base's parts when events folded into it.
 */
export interface HistChanges {
  readonly logPut: readonly (readonly [UserEvent, Rejection | undefined])[];
  readonly logDel: readonly string[];
  readonly maxEventTime: number;
  /** The last event folded into base (the too-late boundary). */
  readonly key: EventKey | undefined;
  readonly base?: {
    /** Base was copied from the live book again: every part is written, older ones deleted first. */
    readonly full: boolean;
    /**
     * With `full`: the store holds the live book's parts as of the previous drain, and base differs
     * from them only in the lots of the assets in `UserChange.lotsBefore` and the spends listed
     * here (`spendPut` / `spendDel`). A store may then copy the live lots and spends server-side
     * and write just those differences: a quiet user's next event no longer rewrites every lot it
     * holds (issue 13: a checkpoint writes what changed).
     */
    readonly fromLive: boolean;
    /**
     * With `fromLive`: the stored live spend buckets are empty (the live window holds none and
     * dropped none since the previous drain), so there is nothing to copy server-side.
     */
    readonly liveSpendEmpty: boolean;
    readonly tierHead: TierHeadJson;
    readonly days: readonly (readonly [string, DayRewards])[];
    /** Assets whose base position (and lots) changed: null = none any more. */
    readonly assets: readonly (readonly [string, Position | null, LotQueue | null])[];
    /** Base's lot queues as of the previous drain for those assets (when not `full`). */
    readonly lotsBefore: ReadonlyMap<string, LotQueue | undefined>;
    /** Spends to write / fields to delete (as `UserPartChanges`). */
    readonly spendPut: readonly (readonly [string, SpendJson])[];
    readonly spendDel: readonly string[];
  };
}

export type SpeedEffect =
  | { readonly kind: 'tier-change'; readonly userId: string; readonly change: TierChange }
  | {
      readonly kind: 'rejected';
      readonly event: UserEvent;
      readonly code: RejectCode | 'TOO_LATE' | 'UNPLACEABLE';
      readonly reason: string;
    };

/** Everything a checkpoint of partition n must write: its cost grows with these, not with history. */
export interface SpeedChanges {
  readonly candles: readonly EmittedCandle[];
  /** Trade ids that entered open windows (appended) and windows whose ids are final (deleted). */
  readonly tradeIds: TradeIdChanges;
  readonly lastPrices: readonly (readonly [string, LastPrice])[];
  readonly users: readonly UserChange[];
  /** Buffered user events added since the last drain, grouped by event id (the store's field). */
  readonly bufferPut: readonly (readonly [string, readonly UserEvent[]])[];
  /** Event ids no longer buffered that an earlier drain put (or the restore loaded). */
  readonly bufferDel: readonly string[];
  /** Present when the partition scalars changed. */
  readonly partition?: PartitionSnapshot;
  readonly watermarks: PartitionWatermarks;
  readonly effects: readonly SpeedEffect[];
  /**
   * Provisional positions (early results): per user, the book with the events still waiting in the
   * merge buffer applied in their current order, for the assets they touch; null = no position
   * (delete). Written after the committed ones, so `pos:<user>` shows an event within one checkpoint
   * instead of after the merge's out-of-orderness. Exactly the committed book again once the merge
   * releases them (the final state never depends on it).
   */
  readonly provisional: readonly (readonly [string, readonly (readonly [string, Position | null])[]])[];
}

/** The two watermarks one partition publishes (see core/ohlcv/watermark.ts for the stream-wide rule). */
export interface PartitionWatermarks {
  /** Price watermark (max price event time - out-of-orderness); NO_WATERMARK before any price. */
  readonly price: number;
  /** Event time up to which user events have been applied; NO_WATERMARK before any. */
  readonly users: number;
}

interface UserDirty {
  readonly assets: Set<string>;
  readonly days: Set<string>;
  /** Final aggregates of dirty days that left the three-day memory before the drain. */
  readonly retired: Map<string, DayRewards>;
  readonly deltas: Map<string, UserEvent[]>;
  /** Snapshots of the book at the end of days other than `eodDay` (taken when the day changed). */
  readonly eod: Map<string, EodBook>;
  /** Day whose end-of-day book is the user's current book. */
  eodDay: string | undefined;
  /** Ids applied since the previous drain (the ledger's dedup buckets grew by these). */
  readonly seen: [string, number][];
  /** Live lot queues as of the previous drain, for the assets events touched since. */
  readonly lots: Map<string, LotQueue | undefined>;
  tier: boolean;
}

const newDirty = (): UserDirty => ({
  assets: new Set(),
  days: new Set(),
  retired: new Map(),
  deltas: new Map(),
  eod: new Map(),
  eodDay: undefined,
  seen: [],
  lots: new Map(),
  tier: false,
});

/** Remember the lot queues of `assets` before the first change since the previous drain. */
const noteLots = (dirty: UserDirty, lots: ReadonlyMap<string, LotQueue>, assets: Iterable<string>): void => {
  for (const a of assets) if (!dirty.lots.has(a)) dirty.lots.set(a, lots.get(a));
};

const LATE_FOR_1M = Object.freeze({ lateFor1m: true });
const NOT_LATE_FOR_1M = Object.freeze({ lateFor1m: false });

export class PartitionEngine {
  readonly prices: PriceWindows;
  readonly users = new Map<string, StoredUser>();
  counts: PartitionCounts = emptyCounts();
  /** User events waiting for both user topics' event time to pass them. */
  private buffer: UserEvent[] = [];
  private readonly bufferDirty = new Set<string>();
  /**
   * Ids whose buffered events the store holds (put by an earlier drain, or restored): only these
   * need a delete when released. Most events enter and leave the buffer between two drains, and
   * deleting them anyway was one Redis argument per user event.
   */
  private readonly bufferStored = new Set<string>();
  private readonly userMax = new Map<string, number>();
  /** Processing time of the last record per user topic (idleness; not checkpointed). */
  private readonly lastRecordAt = new Map<string, number>();
  /** Event time up to which user events have been released (the users' watermark). */
  private userFrontier = NO_WATERMARK;
  private readonly dirty = new Map<string, UserDirty>();
  private effects: SpeedEffect[] = [];
  /**
   * Min-heap of [next spend expiry, userId]: which users' tiers the users' watermark can move (lazy:
   * stale entries are skipped on pop). Keeps tier expiry O(log n) per spend instead of a scan of
   * every user of the partition per batch.
   */
  private readonly expiries = new TimeHeap();
  /**
   * Min-heap of [event time of the oldest logged event, userId]: users whose re-application log
   * the users' watermark may fold (lazy like `expiries`), so a user who goes quiet does not keep
   * the lateness' worth of events and a second book in memory.
   */
  private readonly folds = new TimeHeap();
  /** Users with events added to the buffer since the previous drain. */
  private readonly bufferedUsers = new Set<string>();
  /** Per user, the assets whose provisional value is in the store (rewritten until they are committed). */
  private readonly provisionalAssets = new Map<string, Set<string>>();
  private scalarsDirty = false;
  /** Users seeded whole since the previous drain (bootstrap from the batch): the drain writes every part. */
  private readonly seeded = new Set<string>();

  constructor(
    readonly opts: SpeedEngineOptions,
    /** Processing time the partition was acquired (idleness of a user topic that never had a record). */
    private readonly acquiredAt: number,
    restored?: {
      readonly snapshot?: PartitionSnapshot;
      /** Trade ids of the snapshot's open windows, by `windowKey` (duplicates stay duplicates). */
      readonly tradeIds?: ReadonlyMap<string, readonly string[]>;
      readonly buffer?: readonly UserEvent[];
      readonly users?: Iterable<readonly [string, StoredUser]>;
    },
  ) {
    const lateness = opts.userLatenessMs ?? DEFAULT_USER_LATENESS_MS;
    // Duplicates must be recognised for as long as an event can still be placed: ids are kept for
    // DEDUP_WINDOW_MS behind the user's latest event, so the lateness may use at most half of it.
    if (!(lateness > 0 && lateness <= DEDUP_WINDOW_MS / 2)) {
      throw new CryptolambdaError(
        'INVALID_CONFIG',
        `speed.userLateness must be between 1ms and ${DEDUP_WINDOW_MS / 2 / 3_600_000}h (got ${lateness} ms)`,
      );
    }
    this.prices = new PriceWindows({
      intervals: INTERVALS,
      outOfOrdernessMs: opts.outOfOrdernessMs,
      allowedLatenessMs: opts.allowedLatenessMs,
    });
    const s = restored?.snapshot;
    if (s !== undefined) {
      this.prices.restore(s.priceMaxEventTime, s.openWindows, s.lastPrices, restored?.tradeIds);
      this.prices.counts = { ...s.priceCounts };
      this.counts = { ...emptyCounts(), ...s.counts };
      for (const [t, m] of s.userMax) this.userMax.set(t, m);
      this.userFrontier = s.userFrontier;
    }
    this.buffer = [...(restored?.buffer ?? [])];
    for (const e of this.buffer) this.bufferStored.add(e.eventId);
    for (const [id, u] of restored?.users ?? []) {
      this.users.set(id, u);
      this.scheduleExpiry(id, u);
    }
  }

  private scheduleExpiry(userId: string, u: StoredUser): void {
    const t = u.state.tier.nextExpiry();
    if (t !== undefined) this.expiries.push(t, userId);
  }

  /**
   * Add a user whose complete state comes from elsewhere (the batch's snapshot: `stream
   * --bootstrap-from-batch`). The next drain emits the user with EVERY part (each position, the whole
   * spend window and dedup buckets, the tier), so the store writes it in exactly the shape a checkpoint
   * would have left; no day keys (deltas, eod, rw) are written for it, those belong to the days it
   * has events on. `user.days` (recent day aggregates) is kept for late events of those days.
   */
  seedUser(userId: string, user: StoredUser): void {
    if (this.users.has(userId)) throw new CryptolambdaError('INTERNAL', `user ${userId} seeded twice`);
    this.users.set(userId, user);
    this.scheduleExpiry(userId, user);
    this.seeded.add(userId);
    const d = this.dirtyOf(userId);
    for (const a of user.state.positions.keys()) d.assets.add(a);
    d.tier = true;
  }

  get buffered(): number {
    return this.buffer.length;
  }

  watermarks(): PartitionWatermarks {
    return { price: this.prices.watermark(), users: this.userFrontier };
  }

  /** A record that could not be decoded (the caller dead-letters it). */
  countInvalid(): void {
    this.counts.invalid++;
    this.scalarsDirty = true;
  }

  /** One price trade; `lateFor1m` tells the caller to copy the record to the late topic. */
  addPrice(e: PriceEvent): { lateFor1m: boolean } {
    const out = this.prices.add(e);
    this.scalarsDirty = true;
    return out.lateFor.includes('1m') ? LATE_FOR_1M : NOT_LATE_FOR_1M;
  }

  /**
   * A batch of decoded user events of one topic, in offset order, received at processing time `now`.
   * The topic partition's high-water mark before each event decides whether it is TOO_LATE
   * (core/time/lateness.ts), exactly as `ingest` stamps it for the batch. `hwmBefore` gives those
   * marks instead when the events do not come in offset order (the bootstrap replays the raw zone,
   * whose rows carry the mark ingest stamped); the caller then sets the marks with `setHighWaterMarks`.
   */
  addUsers(
    table: UserTable,
    events: readonly UserEvent[],
    now: number,
    hwmBefore?: readonly (number | undefined)[],
  ): void {
    let max = this.userMax.get(table) ?? NO_WATERMARK;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const ref = hwmBefore !== undefined ? hwmBefore[i] : max === NO_WATERMARK ? undefined : max;
      // Fed in offset order the running max is the mark; fed in event-time order (bootstrap) it stays
      // at or below the true mark and below every later event, so folding on it is safe as well.
      if (e.eventTime > max) max = e.eventTime;
      if (isTooLate(e.eventTime, ref, this.lateness)) {
        this.tooLate(e, ref!, table);
        continue;
      }
      if (e.eventTime <= this.userFrontier) {
        // Behind the users' watermark: apply now (money is never dropped); it may land out of order.
        this.counts.lateUser++;
        this.applyUser(e);
      } else {
        this.buffer.push(e);
        this.bufferDirty.add(e.eventId);
        this.bufferedUsers.add(e.userId);
      }
    }
    if (max !== NO_WATERMARK) this.userMax.set(table, max);
    this.lastRecordAt.set(table, now);
    this.scalarsDirty = true;
    this.releaseBuffer(new Set());
    this.foldQuietUsers();
  }

  /** The topics' high-water marks after a replay that passed them per event (bootstrap). */
  setHighWaterMarks(marks: ReadonlyMap<UserTable, number>): void {
    for (const [t, m] of marks) if (m > (this.userMax.get(t) ?? NO_WATERMARK)) this.userMax.set(t, m);
    this.scalarsDirty = true;
    this.foldQuietUsers();
  }

  /**
   * Where a user's history may fold: every event from now on that is not TOO_LATE has an event time
   * at or after the lateness before the high-water mark of its topic partition, and marks only
   * grow, so events before the lowest mark minus the lateness can never be needed again. A user
   * topic that has had no record on this partition does not hold folding back (see docs/core.md §5b
   * for what that means for its first records).
   */
  private foldHorizon(): number {
    let low = Number.POSITIVE_INFINITY;
    for (const t of USER_TABLES) {
      const m = this.userMax.get(t);
      if (m !== undefined && m !== NO_WATERMARK && m < low) low = m;
    }
    // At least the out-of-orderness (+1) behind as well: the merge buffer holds events down to the
    // lowest mark minus the out-of-orderness, and they must still be placeable when released.
    return low === Number.POSITIVE_INFINITY
      ? NO_WATERMARK
      : low - Math.max(this.lateness, this.opts.outOfOrdernessMs + 1);
  }

  /**
   * Timer hook: a user topic is idle once `caughtUp(table)` (processed up to its high watermark) and
   * quiet for userIdleMs; idle topics stop holding the buffer back. Requiring "caught up" keeps the
   * merge order independent of fetch timing. Returns true when state changed.
   */
  tick(now: number, caughtUp: (table: UserTable) => boolean): boolean {
    if (this.buffer.length === 0) return false;
    const idle = new Set<UserTable>(
      USER_TABLES.filter(
        (t) => caughtUp(t) && now - (this.lastRecordAt.get(t) ?? this.acquiredAt) >= this.opts.userIdleMs,
      ),
    );
    if (idle.size === 0) return false;
    const before = this.buffer.length;
    this.releaseBuffer(idle);
    return this.buffer.length !== before;
  }

  /**
   * Release buffered user events up to the users' frontier, in event order. The frontier is the
   * minimum over the user topics that are not idle of (max event time - out-of-orderness - 1); when
   * both are idle everything buffered is released.
   */
  private releaseBuffer(idle: ReadonlySet<UserTable>): void {
    if (this.buffer.length === 0) return;
    const active = USER_TABLES.filter((t) => !idle.has(t));
    const frontier =
      active.length === 0
        ? Math.max(...USER_TABLES.map((t) => this.userMax.get(t) ?? NO_WATERMARK))
        : Math.min(...active.map((t) => this.userMax.get(t) ?? NO_WATERMARK)) - this.opts.outOfOrdernessMs - 1;
    if (frontier <= NO_WATERMARK) return;
    this.buffer.sort(compareEvents);
    let i = 0;
    while (i < this.buffer.length && this.buffer[i]!.eventTime <= frontier) {
      const e = this.buffer[i++]!;
      this.bufferDirty.add(e.eventId);
      this.applyUser(e);
    }
    if (i === 0) return;
    this.buffer = this.buffer.slice(i);
    if (frontier > this.userFrontier) this.userFrontier = frontier;
    this.scalarsDirty = true;
    this.expireTiers();
    this.foldQuietUsers();
  }

  /**
   * Tiers drop as old spend leaves the 30-day window: advance the users whose oldest spend expires at
   * or before the users' watermark (in expiry order, ties by user id), exactly the users for whom
   * advancing changes anything.
   */
  private expireTiers(): void {
    if (this.userFrontier === NO_WATERMARK) return;
    while (this.expiries.size > 0 && this.expiries.peek()![0] <= this.userFrontier) {
      const [t, userId] = this.expiries.pop();
      const u = this.users.get(userId);
      if (u === undefined || u.state.tier.nextExpiry() !== t) continue;
      const r = advanceUser(u.state, this.userFrontier, this.opts.tiers);
      this.scheduleExpiry(userId, u);
      if (!r.changed) continue;
      this.dirtyOf(userId).tier = true;
      this.emitTierChanges(userId, r.changes);
    }
  }

  private emitTierChanges(userId: string, changes: readonly TierChange[]): void {
    for (const change of changes) {
      this.counts.tierChanges++;
      this.effects.push({ kind: 'tier-change', userId, change });
    }
  }

  private dirtyOf(userId: string): UserDirty {
    let d = this.dirty.get(userId);
    if (d === undefined) {
      d = newDirty();
      this.dirty.set(userId, d);
    }
    return d;
  }

  private applyUser(e: UserEvent): void {
    let u = this.users.get(e.userId);
    let fresh = false;
    if (u === undefined) {
      // New since acquire: the store holds no end-of-day book of it for any day ('' sorts first).
      u = { state: emptyUser(e.userId, this.opts.tiers, this.opts.costMethod), days: new Map(), eodStored: '' };
      this.users.set(e.userId, u);
      fresh = true;
    }
    if (u.state.recent.has(e.eventId)) {
      this.counts.duplicates++;
      return;
    }
    u.hist ??= UserHistory.startingAt(u.state, u.days);
    const h = u.hist;
    if (h.isTooLate(e)) {
      // Cannot happen under the lateness rule (the fold horizon stays behind every event that is not
      // TOO_LATE) except for the first records of a user topic that had none while the other ran
      // more than the lateness ahead: the batch applies such an event, reconcile names it.
      this.unplaceable(e);
      return;
    }
    // A quiet user's history is collapsed into the live book: copy it as base again.
    if (h.prepare(u.state, u.days) || h.size === 0) this.folds.push(e.eventTime, e.userId);
    if (h.isInOrder(e)) this.applyInOrder(u, e, fresh);
    else this.reapply(u, e);
    this.foldUser(h);
  }

  private get lateness(): number {
    return this.opts.userLatenessMs ?? DEFAULT_USER_LATENESS_MS;
  }

  /** Fold what no event that is not TOO_LATE can come before any more. */
  private foldUser(h: UserHistory): void {
    const horizon = this.foldHorizon();
    if (horizon !== NO_WATERMARK) h.fold(horizon, this.opts.tiers);
  }

  /**
   * The high-water marks moved: fold the logs of users whose oldest logged event is now behind the
   * fold horizon (users who went quiet), in time order; a fold is a change the store writes.
   */
  private foldQuietUsers(): void {
    const horizon = this.foldHorizon();
    if (horizon === NO_WATERMARK) return;
    while (this.folds.size > 0 && this.folds.peek()![0] < horizon) {
      const [, userId] = this.folds.pop();
      const h = this.users.get(userId)?.hist;
      if (h === undefined || h.size === 0) continue;
      const before = h.oldest;
      this.foldUser(h);
      if (h.oldest !== before) this.dirtyOf(userId);
      if (h.oldest !== undefined) this.folds.push(h.oldest, userId);
    }
  }

  /** The common case: the event comes after every event of its user; applied to the live state in place. */
  private applyInOrder(u: StoredUser, e: UserEvent, fresh: boolean): void {
    const day = dayOf(e.eventTime);
    const prevDay = this.dirty.get(e.userId)?.eodDay;
    // The end-of-day book of the previous day this user touched is the book before this event: copy
    // it when the day changes (the ledger may update positions in place).
    // Lot queues are persistent: copying the map keeps that day's lots, whatever comes after.
    const before: EodBook | undefined =
      prevDay !== undefined && prevDay !== day
        ? { positions: new Map(u.state.positions), lots: new Map(u.state.lots) }
        : undefined;
    const expiryBefore = u.state.tier.nextExpiry();
    const dirty = this.dirtyOf(e.userId);
    noteLots(dirty, u.state.lots, [e.asset]);
    const step = applyUserEvent(u.state, e, u.days.get(day), this.opts.tiers);
    this.counts.userEvents++;
    u.state = step.state;
    this.setDay(u, dirty, day, step.day!);
    dirty.seen.push([e.eventId, e.eventTime]);
    // tier:<user> is derived from the tier head: rewrite it when that changed (or for a new user).
    // The head flag alone (userChanges would also key the touched spends, a drain's job).
    if (fresh || u.state.tier.changes.head) dirty.tier = true;
    if (step.outcome.kind === 'rejected') {
      this.counts.rejected++;
      this.effects.push({ kind: 'rejected', event: e, code: step.outcome.code, reason: step.outcome.reason });
      u.hist!.append(e, { code: step.outcome.code, reason: step.outcome.reason }, u.state, u.days);
    } else {
      u.hist!.append(e, undefined, u.state, u.days);
      if (step.asset !== undefined) dirty.assets.add(step.asset);
      if (before !== undefined && dirty.eodDay !== undefined) dirty.eod.set(dirty.eodDay, before);
      dirty.eod.delete(day);
      dirty.eodDay = day;
    }
    this.addDelta(dirty, day, e);
    // Any applied event may expire old spend (the ledger advances the window to its time) or add one.
    if (u.state.tier.nextExpiry() !== expiryBefore) this.scheduleExpiry(e.userId, u);
    this.emitTierChanges(e.userId, step.tierChanges);
  }

  /**
   * A late event within the user lateness: inserted in (eventTime, eventId) order and the user's
   * later events re-applied from the base book, so the book is what in-order application gives.
   * Every day, asset, end-of-day book and the tier the replay touched is rewritten; dead letters
   * go out for events the replay newly rejects; the public tier changes once, to its final value.
   */
  private reapply(u: StoredUser, e: UserEvent): void {
    const old = u.state;
    const tierBefore = old.tier.tier;
    const oldTouched = [...old.tier.changes.spends.values()];
    old.recent.add(e.eventId, e.eventTime);
    const [s, r] = u.hist!.insertAndReplay(e, old, this.opts.tiers, this.dirty.get(e.userId)?.eodDay);
    // The live tier was also advanced by the users' watermark (tier expiry without events).
    if (this.userFrontier !== NO_WATERMARK) s.tier.advance(this.userFrontier, this.opts.tiers, []);
    // The store holds the old window as of the previous drain. The replayed one differs from it in
    // the spends the old window touched since (carried here) and in the card spends among the
    // replayed events (touched by `insertAndReplay`, applied or not): the drain writes each one
    // the new window holds and deletes the others.
    for (const k of oldTouched) s.tier.changes.touch(k);
    s.tier.changes.head = true;
    u.state = s;
    this.counts.userEvents++;
    this.counts.reordered++;
    const dirty = this.dirtyOf(e.userId);
    noteLots(dirty, old.lots, [...r.assets, ...old.lots.keys()]);
    dirty.seen.push([e.eventId, e.eventTime]);
    dirty.tier = true;
    for (const day of [...r.endOfDay.keys(), r.lastDay]) this.setDay(u, dirty, day, r.days.get(day)!);
    for (const a of r.assets) dirty.assets.add(a);
    // Assets a replay left without a position (their only applied events are now rejected).
    for (const a of old.positions.keys()) if (!s.positions.has(a)) dirty.assets.add(a);
    for (const [day, book] of r.endOfDay) dirty.eod.set(day, book);
    dirty.eod.delete(r.lastDay);
    dirty.eodDay = r.lastDay;
    this.addDelta(dirty, dayOf(e.eventTime), e);
    for (const [ev, why] of r.newlyRejected) {
      this.counts.rejected++;
      this.effects.push({ kind: 'rejected', event: ev, code: why.code, reason: why.reason });
    }
    this.counts.rejected -= r.noLongerRejected.length;
    this.counts.unrejected += r.noLongerRejected.length;
    if (s.tier.tier !== tierBefore) {
      this.emitTierChanges(e.userId, [
        { at: e.eventTime, from: tierBefore, to: s.tier.tier, spend30d: s.tier.spend30d },
      ]);
    }
    this.scheduleExpiry(e.userId, u);
  }

  /**
   * TOO_LATE by the lateness rule (core/time/lateness.ts): applied by neither layer. Dead-lettered
   * with the reason and recorded per event day, so reconcile can check that the batch rejected the
   * same events; not in the day's delta, not remembered as applied.
   */
  private tooLate(e: UserEvent, hwmBefore: number, table: UserTable): void {
    this.counts.tooLateUser++;
    const reason = tooLateReason(e.eventTime, hwmBefore, this.lateness, `raw.${table} of its partition`);
    this.effects.push({ kind: 'rejected', event: e, code: 'TOO_LATE', reason });
  }

  /**
   * Not TOO_LATE by the rule, yet before what this user's history already folded (see applyUser):
   * the book is not changed, the event is dead-lettered UNPLACEABLE and kept in its day's delta, so
   * the serving merge and the batch (which apply it in order) count it; reconcile names the user.
   */
  private unplaceable(e: UserEvent): void {
    this.counts.unplaceable++;
    const reason =
      `event time ${new Date(e.eventTime).toISOString()} is before events of ${e.userId} the speed layer ` +
      'already folded (its user topic had no record on this partition until now); the batch applies it';
    this.effects.push({ kind: 'rejected', event: e, code: 'UNPLACEABLE', reason });
    this.addDelta(this.dirtyOf(e.userId), dayOf(e.eventTime), e);
  }

  private setDay(u: StoredUser, dirty: UserDirty, day: string, agg: DayRewards): void {
    u.days.set(day, agg);
    dirty.days.add(day);
    dirty.retired.delete(day);
    // Keep three days of aggregates in the worker; older days no longer receive on-time events.
    // YYYY-MM-DD keys sort as dates.
    const keepFrom = twoDaysBefore(day);
    for (const [d, a] of u.days) {
      if (d >= keepFrom) continue;
      u.days.delete(d);
      if (dirty.days.has(d)) dirty.retired.set(d, a);
    }
  }

  private addDelta(dirty: UserDirty, day: string, e: UserEvent): void {
    let deltas = dirty.deltas.get(day);
    if (deltas === undefined) {
      deltas = [];
      dirty.deltas.set(day, deltas);
    }
    deltas.push(e);
  }

  /**
   * Early results for the users whose buffered events or committed book changed: their book with
   * the buffered events applied (duplicates and rejections skipped as the ledger would), limited
   * to `maxEvents` re-applied events per drain (beyond that, under load, the committed book shows).
   */
  private provisional(maxEvents = 20_000): [string, [string, Position | null][]][] {
    const users = new Set<string>([...this.bufferedUsers, ...this.dirty.keys(), ...this.provisionalAssets.keys()]);
    this.bufferedUsers.clear();
    const pending = new Map<string, UserEvent[]>();
    let count = 0;
    for (const e of this.buffer) {
      if (!users.has(e.userId) || !touchesPosition(e)) continue;
      const list = pending.get(e.userId);
      if (list === undefined) pending.set(e.userId, [e]);
      else list.push(e);
      count++;
    }
    if (count > maxEvents) pending.clear();
    const out: [string, [string, Position | null][]][] = [];
    for (const userId of users) {
      // Most dirty users have nothing buffered and no provisional value stored: nothing to write.
      if (!pending.has(userId) && !this.provisionalAssets.has(userId)) continue;
      const committed = this.users.get(userId)?.state;
      const spec = new Map<string, Position>();
      const ids = new Set<string>();
      for (const e of (pending.get(userId) ?? []).sort(compareEvents)) {
        if (ids.has(e.eventId) || committed?.recent.has(e.eventId)) continue;
        ids.add(e.eventId);
        const base = spec.get(e.asset) ?? committed?.positions.get(e.asset) ?? emptyPosition(userId, e.asset);
        const r = applyEvent(base, e);
        if (r.ok) spec.set(e.asset, r.position);
      }
      const before = this.provisionalAssets.get(userId);
      if (spec.size === 0 && before === undefined) continue;
      const assets = new Set([...(before ?? []), ...spec.keys()]);
      out.push([
        userId,
        [...assets].map((a) => [a, spec.get(a) ?? committed?.positions.get(a) ?? null] as [string, Position | null]),
      ]);
      if (spec.size > 0) this.provisionalAssets.set(userId, new Set(spec.keys()));
      else this.provisionalAssets.delete(userId);
    }
    return out;
  }

  /** Everything that changed since the previous drain; resets the change tracking. */
  drain(): SpeedChanges {
    const provisional = this.provisional();
    const users: UserChange[] = [];
    for (const [userId, d] of this.dirty) {
      const u = this.users.get(userId)!;
      const endOfDay = [...d.eod];
      if (d.eodDay !== undefined) endOfDay.push([d.eodDay, { positions: u.state.positions, lots: u.state.lots }]);
      users.push({
        userId,
        user: u,
        assets: [...d.assets],
        lotsBefore: d.lots,
        ...(u.eodStored === undefined ? {} : { eodStored: u.eodStored }),
        days: [...d.days].map((day) => [day, u.days.get(day) ?? d.retired.get(day)!] as const),
        deltas: [...d.deltas],
        endOfDay,
        tier: d.tier,
        parts: this.seeded.has(userId) ? wholeParts(u.state) : partChanges(u.state, d.seen),
        ...(u.hist === undefined ? {} : { hist: histChanges(u.hist, this.seeded.has(userId) ? undefined : u.state) }),
        histOnly:
          !this.seeded.has(userId) &&
          d.assets.size === 0 &&
          d.days.size === 0 &&
          d.retired.size === 0 &&
          d.deltas.size === 0 &&
          d.eod.size === 0 &&
          d.eodDay === undefined &&
          d.seen.length === 0 &&
          !d.tier,
      });
      clearUserChanges(u.state);
      if (d.eodDay !== undefined) u.eodStored = d.eodDay;
    }
    this.dirty.clear();
    this.seeded.clear();
    const bufferPut: [string, UserEvent[]][] = [];
    const bufferDel: string[] = [];
    if (this.bufferDirty.size > 0) {
      const byId = new Map<string, UserEvent[]>();
      for (const e of this.buffer) {
        if (!this.bufferDirty.has(e.eventId)) continue;
        const list = byId.get(e.eventId);
        if (list === undefined) byId.set(e.eventId, [e]);
        else list.push(e);
      }
      for (const id of this.bufferDirty) {
        const list = byId.get(id);
        if (list !== undefined) {
          bufferPut.push([id, list]);
          this.bufferStored.add(id);
        } else if (this.bufferStored.delete(id)) bufferDel.push(id);
      }
      this.bufferDirty.clear();
    }
    const lastPrices = [...this.prices.dirtySymbols].map((s) => [s, this.prices.last.get(s)!] as const);
    this.prices.dirtySymbols.clear();
    const effects = this.effects;
    this.effects = [];
    const candles = this.prices.drain();
    const changes: SpeedChanges = {
      candles,
      // After drain, which seals: the ids of windows that just became final are deleted, not written.
      tradeIds: this.prices.drainTradeIds(),
      lastPrices,
      users,
      bufferPut,
      bufferDel,
      watermarks: this.watermarks(),
      effects,
      provisional,
      ...(this.scalarsDirty ? { partition: this.snapshot() } : {}),
    };
    this.scalarsDirty = false;
    return changes;
  }

  private snapshot(): PartitionSnapshot {
    return {
      priceMaxEventTime: this.prices.maxEventTime,
      openWindows: this.prices.openWindows(),
      lastPrices: this.prices.last,
      priceCounts: { ...this.prices.counts },
      counts: { ...this.counts },
      userMax: new Map(this.userMax),
      userFrontier: this.userFrontier,
    };
  }
}

/**
 * The store writes for touched spends: the window's value of each one it still holds, the field of
 * each one it no longer does. A field can be touched twice (the live and the base window).
 */
const spendWrites = (
  w: TierWindow,
  touched: Iterable<readonly [string, SpendKey]>,
): Pick<UserPartChanges, 'spendPut' | 'spendDel'> => {
  const spendPut: [string, SpendJson][] = [];
  const spendDel: string[] = [];
  for (const [f, k] of touched) {
    const x = w.find(k);
    if (x === undefined) spendDel.push(f);
    else spendPut.push([f, spendToJson(x)]);
  }
  return { spendPut, spendDel };
};

/** Read (then the caller clears) what changed in a user's ledger state since the previous drain. */
const partChanges = (s: UserState, seen: readonly [string, number][]): UserPartChanges => {
  const c = userChanges(s);
  const dedupAdded = new Map<string, [string, number][]>();
  for (const [id, t] of seen) {
    const day = dayOf(t);
    if (!c.dedupDays.has(day)) continue;
    const list = dedupAdded.get(day);
    if (list === undefined) dedupAdded.set(day, [[id, t]]);
    else list.push([id, t]);
  }
  return {
    tierHead: s.tier.headToJson(),
    ...spendWrites(s.tier, c.spends.entries()),
    dedupHead: s.recent.headToJson(),
    dedupAdded: [...dedupAdded].filter(([d]) => !c.dedupDaysDropped.has(d)),
    dedupDaysDropped: [...c.dedupDaysDropped],
  };
};

/** Every part of a user's ledger state, as changes (a seeded user's first write). */
const wholeParts = (s: UserState): UserPartChanges => ({
  tierHead: s.tier.headToJson(),
  spendPut: spendEntries(s.tier),
  spendDel: [],
  dedupHead: s.recent.headToJson(),
  dedupAdded: s.recent.bucketKeys().map((d) => [d, s.recent.bucketToJson(d)] as const),
  dedupDaysDropped: [],
});

/** Read (and clear) what changed in a user's history since the previous drain. */
/**
 * `live`: the user's live state before its change tracking is cleared, when the store holds its
 * parts as of the previous drain (every user but one seeded since): a base copied from the live book
 * since then is written as that copy plus the differences (see HistChanges.base.fromLive).
 */
const histChanges = (h: UserHistory, live: UserState | undefined): HistChanges => {
  const b = h.base;
  const days = h.baseDays;
  let base: HistChanges['base'];
  // A collapsed history (empty log) writes no base: a restore with an empty log needs none.
  if (h.baseChanged && b !== undefined && days !== undefined) {
    const c = userChanges(b);
    const assets = h.baseFull ? [...b.positions.keys()] : [...c.assets];
    const fromLive = h.baseFull && live !== undefined;
    let spends: Pick<UserPartChanges, 'spendPut' | 'spendDel'>;
    let liveSpendEmpty = false;
    if (fromLive) {
      // Base is the live book of some moment since the previous drain (plus events folded into it
      // since, which the live book applied too): its spends differ from the stored live ones only
      // in those the live window touched since then and those folding touched in base.
      const lc = userChanges(live);
      spends = spendWrites(b.tier, new Map([...lc.spends, ...c.spends]));
      liveSpendEmpty = live.tier.size === 0 && lc.spends.size === 0;
    } else if (h.baseFull) {
      spends = { spendPut: spendEntries(b.tier), spendDel: [] };
    } else {
      spends = spendWrites(b.tier, c.spends.entries());
    }
    base = {
      full: h.baseFull,
      fromLive,
      liveSpendEmpty,
      tierHead: b.tier.headToJson(),
      days: [...days],
      assets: assets.map((a) => [a, b.positions.get(a) ?? null, b.lots.get(a) ?? null] as const),
      ...spends,
      lotsBefore: h.baseLotsBefore ?? new Map(),
    };
  }
  const out: HistChanges = {
    logPut: [...h.added].map((e) => [e, h.rejection(e.eventId)] as const),
    logDel: [...h.dropped],
    maxEventTime: h.maxEventTime,
    key: h.baseKey,
    ...(base === undefined ? {} : { base }),
  };
  h.clearChanges();
  if (b !== undefined) clearUserChanges(b);
  return out;
};
