import { CryptolambdaError } from '../errors.js';
import type { UserEvent } from '../events/types.js';
import { Decimal, USD_SCALE } from '../money/decimal.js';
import {
  type PositionJson,
  positionFromJson,
  positionToJson,
  type TierStateJson,
  tierStateFromJson,
  tierStateToJson,
} from '../portfolio/codec.js';
import { applyLotEvent, type Disposal, openingLots } from '../portfolio/lot-accounting.js';
import {
  type CostMethod,
  DEFAULT_COST_METHOD,
  LotQueue,
  type LotQueueJson,
  type LotRow,
  lotQueueFromJson,
  lotQueueToJson,
  lotToJson,
  type OpenLot,
} from '../portfolio/lots.js';
import {
  compareEvents,
  emptyPosition,
  notional,
  type Position,
  type RejectCode,
  touchesPosition,
} from '../portfolio/position.js';
import {
  DEFAULT_TIERS,
  type SpendBucketJson,
  type SpendKey,
  type TierChange,
  type TierDef,
  type TierHeadJson,
  TierWindow,
} from '../rewards/tiers.js';
import { DAY_MS, dayOf, dayStart } from '../time/date.js';
import { type DedupBucketJson, type DedupHeadJson, DedupIds } from './dedup.js';

/**
 * One user's complete state as both layers keep it: positions per asset, the reward-tier state and
 * per-day reward aggregates. `applyUserEvent` is THE function the speed layer (per Kafka record) and
 * the batch layer (per day, events sorted by (eventTime, eventId)) call, so their numbers are equal.
 *
 * The state is owned by whoever holds it and updated IN PLACE (as a Kafka Streams processor updates
 * its store): an event costs amortized O(1) whatever the user's history — one position replaced in
 * the positions map, the event id added to a day bucket of `DedupIds`, the spend queued in a day
 * bucket of `TierWindow`. Nothing is copied per event. A caller that needs the state before an
 * event keeps a `cloneUser` (O(state)), as `replayUser` does for its start.
 */
export { DAY_MS, dayOf, dayStart };

/** How long event ids are remembered for duplicate detection, in event time. */
export const DEDUP_WINDOW_MS = 2 * DAY_MS;

export interface DayRewards {
  /** Card spend (USD_SCALE). */
  spend: Decimal;
  /** Cashback owed by the tier rules for the day's spend, after the monthly cap. */
  cashbackOwed: Decimal;
  /** Cashback withheld by the monthly cap. */
  cashbackCapped: Decimal;
  /** Cashback rewards credited (market value at credit, USD_SCALE). */
  cashbackPaid: Decimal;
  /** Staking rewards credited (market value at credit, USD_SCALE). */
  stakingIncome: Decimal;
  /** Realized P&L booked that day. */
  realizedPnl: Decimal;
  /** Tier and 30-day spend after the user's last event of the day. */
  tier: string;
  spend30d: Decimal;
  events: number;
  rejected: number;
}

export interface UserState {
  readonly userId: string;
  /** Position per asset; the map is updated in place, Position values are immutable. */
  readonly positions: ReadonlyMap<string, Position>;
  readonly tier: TierWindow;
  /** Recently applied event ids (duplicate detection, DEDUP_WINDOW_MS of event time). */
  readonly recent: DedupIds;
  /** Assets whose position changed since the last `clearUserChanges`. */
  readonly changedAssets: Set<string>;
  /** The deployment's cost-basis method the lots are kept by (docs/core.md §3a). */
  readonly costMethod: CostMethod;
  /**
   * Open tax lots per asset. The map is updated in place like `positions`; each queue is persistent
   * (a new version per event, sharing structure), so `cloneUser` copies the map, never the lots.
   */
  readonly lots: ReadonlyMap<string, LotQueue>;
}

export const emptyUser = (
  userId: string,
  tiers: readonly TierDef[] = DEFAULT_TIERS,
  costMethod: CostMethod = DEFAULT_COST_METHOD,
): UserState => ({
  userId,
  positions: new Map(),
  tier: new TierWindow(tiers[0]!.name),
  recent: new DedupIds(DEDUP_WINDOW_MS),
  changedAssets: new Set(),
  costMethod,
  lots: new Map(),
});

/** An independent copy (O(state)): for a caller that must keep a state the ledger will update. */
export const cloneUser = (s: UserState): UserState => ({
  userId: s.userId,
  positions: new Map(s.positions),
  tier: s.tier.clone(),
  recent: s.recent.clone(),
  changedAssets: new Set(s.changedAssets),
  costMethod: s.costMethod,
  lots: new Map(s.lots),
});

const Z = Decimal.zero(USD_SCALE);
export const emptyDay = (tier: string): DayRewards => ({
  spend: Z,
  cashbackOwed: Z,
  cashbackCapped: Z,
  cashbackPaid: Z,
  stakingIncome: Z,
  realizedPnl: Z,
  tier,
  spend30d: Z,
  events: 0,
  rejected: 0,
});

/** A field-by-field copy (an object spread costs ~10x more on Node 20, and this runs per event). */
const copyDay = (d: DayRewards): DayRewards => ({
  spend: d.spend,
  cashbackOwed: d.cashbackOwed,
  cashbackCapped: d.cashbackCapped,
  cashbackPaid: d.cashbackPaid,
  stakingIncome: d.stakingIncome,
  realizedPnl: d.realizedPnl,
  tier: d.tier,
  spend30d: d.spend30d,
  events: d.events,
  rejected: d.rejected,
});

export type UserOutcome =
  | { readonly kind: 'duplicate' }
  | { kind: 'rejected'; code: RejectCode; reason: string }
  | { readonly kind: 'applied' };

const APPLIED: UserOutcome = Object.freeze({ kind: 'applied' });
const DUPLICATE: UserOutcome = Object.freeze({ kind: 'duplicate' });
const NO_DISPOSALS: readonly Disposal[] = Object.freeze([]);

export interface UserStep {
  readonly state: UserState;
  readonly outcome: UserOutcome;
  /** The event's day aggregate after this event (undefined for duplicates). */
  readonly day?: DayRewards;
  /** Asset whose position changed. */
  readonly asset?: string;
  readonly tierChanges: TierChange[];
  /** Realized gains rows of this event, lot by lot (empty unless it disposed of units or expensed a fee). */
  readonly disposals: readonly Disposal[];
}

/**
 * Apply one event to `s` IN PLACE (the returned `state` is `s`). `day` is the running aggregate of
 * the event's day (or undefined for a fresh day); it is not modified, the step carries the new one.
 * Rejected events (sell beyond holdings...) change no position but are counted in the day.
 */
export const applyUserEvent = (
  s: UserState,
  e: UserEvent,
  day: DayRewards | undefined,
  tiers: readonly TierDef[] = DEFAULT_TIERS,
  /**
   * false: the caller has already decided the event is new (the speed engine re-applying a user's
   * recent events in order, or folding them into the state before its horizon); `s.recent` is left
   * alone.
   */
  dedup = true,
): UserStep => {
  if (dedup) {
    if (s.recent.has(e.eventId)) return { state: s, outcome: DUPLICATE, tierChanges: [], disposals: [] };
    s.recent.add(e.eventId, e.eventTime);
  }

  // Every event runs this: it allocates only what the step hands back (the day aggregate, the
  // changes list, the step itself); outcomes without detail are shared constants (issue 13).
  const d = day === undefined ? emptyDay(s.tier.tier) : copyDay(day);
  d.events++;
  let tierChanges: TierChange[] = [];
  let outcome: UserOutcome = APPLIED;
  let asset: string | undefined;
  let disposals: readonly Disposal[] = NO_DISPOSALS;
  const cardSpend = e.kind === 'transaction' && e.type === 'card_spend';

  let spendUsd = Z;
  if (touchesPosition(e)) {
    const r = applyLotEvent(
      s.positions.get(e.asset) ?? emptyPosition(e.userId, e.asset),
      s.lots.get(e.asset) ?? LotQueue.empty(s.costMethod),
      e,
    );
    if (!r.ok) {
      d.rejected++;
      outcome = { kind: 'rejected', code: r.code, reason: r.reason };
    } else {
      (s.positions as Map<string, Position>).set(e.asset, r.position);
      (s.lots as Map<string, LotQueue>).set(e.asset, r.lots);
      s.changedAssets.add(e.asset);
      disposals = r.disposals;
      asset = e.asset;
      d.realizedPnl = d.realizedPnl.add(r.effect.realized);
      spendUsd = r.effect.spendUsd;
    }
  } else if (cardSpend) {
    // Card spend from the USD balance: no crypto position, but it counts for tiers.
    spendUsd = notional(e.quantity, e.price);
  }

  if (outcome === APPLIED && cardSpend) {
    const r = s.tier.record({ eventId: e.eventId, eventTime: e.eventTime, amount: spendUsd }, tiers);
    tierChanges = r.changes;
    d.spend = d.spend.add(spendUsd);
    d.cashbackOwed = d.cashbackOwed.add(r.cashback);
    d.cashbackCapped = d.cashbackCapped.add(r.capped);
  } else if (outcome === APPLIED) {
    s.tier.advance(e.eventTime, tiers, tierChanges);
    if (e.kind === 'reward') {
      const value = notional(e.quantity, e.price);
      if (e.rewardType === 'cashback') d.cashbackPaid = d.cashbackPaid.add(value);
      else d.stakingIncome = d.stakingIncome.add(value);
    }
  }
  d.tier = s.tier.tier;
  d.spend30d = s.tier.spend30d;
  return asset === undefined
    ? { state: s, outcome, day: d, tierChanges, disposals }
    : { state: s, outcome, day: d, asset, tierChanges, disposals };
};

/**
 * Expire old spend up to event time t (the watermark), in place: tiers can drop without a new event.
 * `changed` says whether the tier state moved (spend left the window), with or without a tier change.
 */
export const advanceUser = (
  s: UserState,
  t: number,
  tiers: readonly TierDef[] = DEFAULT_TIERS,
): { state: UserState; changes: TierChange[]; changed: boolean } => {
  const changes: TierChange[] = [];
  const changed = s.tier.advance(t, tiers, changes);
  return { state: s, changes, changed };
};

/** Tier name and 30-day spend at event time t without mutating the state. */
export const tierAtTime = (s: UserState, t: number, tiers: readonly TierDef[] = DEFAULT_TIERS) =>
  s.tier.peekAt(t, tiers);

/** Apply a user's events (any order; sorted by the tie-break rule) and collect per-day aggregates. */
export const replayUser = (
  start: UserState,
  events: readonly UserEvent[],
  tiers: readonly TierDef[] = DEFAULT_TIERS,
): {
  state: UserState;
  days: Map<string, DayRewards>;
  rejected: { event: UserEvent; reason: string; code: RejectCode }[];
} => {
  // `start` stays as it was (callers replay several sequences from one start).
  const state = cloneUser(start);
  const days = new Map<string, DayRewards>();
  const rejected: { event: UserEvent; reason: string; code: RejectCode }[] = [];
  let dayCache = { from: 0, to: -1, key: '' };
  for (const e of [...events].sort(compareEvents)) {
    // dayOf formats a date; the events are sorted, so it changes once a day, not once an event.
    if (e.eventTime < dayCache.from || e.eventTime > dayCache.to) {
      const key = dayOf(e.eventTime);
      dayCache = { from: dayStart(key), to: dayStart(key) + DAY_MS - 1, key };
    }
    const day = dayCache.key;
    const r = applyUserEvent(state, e, days.get(day), tiers);
    if (r.day) days.set(day, r.day);
    if (r.outcome.kind === 'rejected') rejected.push({ event: e, reason: r.outcome.reason, code: r.outcome.code });
  }
  return { state, days, rejected };
};

export interface UserStateJson {
  userId: string;
  positions: PositionJson[];
  tier: TierStateJson;
  recent: [string, number][];
  /**
   * Instead of `recent` (left empty): the same ids in columns, as a `recent` window part stores
   * them (RecentPartJson; the warehouse snapshot since 2026-12-02: its states held every event id of
   * the dedup window as a JSON pair, most of a day's snapshot and of its parse).
   */
  recentIds?: RecentPartJson;
  /** Absent in states written before lots existed: read with the deployment's method, one opening lot per position. */
  costMethod?: CostMethod;
  lots?: Record<string, LotQueueJson>;
  /**
   * Instead of `lots`: queues whose open lots are stored as rows beside this JSON (the warehouse
   * snapshot keeps them in fact_lot_daily of the same date), with the count the rows must match.
   */
  lotsApart?: Record<string, LotsApartJson>;
  /**
   * Instead of `recent` and `tier.spends` (left empty): the window's event ids and spends are stored
   * apart, in parts of at most WINDOW_PART entries (the warehouse snapshot keeps them in
   * snapshot_user_window of the same date), with the dedup frontier and the counts the parts must match.
   */
  windowApart?: WindowApartJson;
}

/** A state whose windows are stored apart: the dedup frontier and how many ids and spends the parts hold. */
export interface WindowApartJson {
  frontier: number | null;
  recent: number;
  spends: number;
}

/**
 * Entries per stored part of a window kept apart, and the size from which a state's windows go
 * apart (more ids + spends than one part). A part's JSON is then at most ~50 KB and a state's JSON
 * holds at most one part's worth of entries: no stored value grows with a user's activity (a heavy
 * user's million events a day made a 40 MB state on day 1 and 80 MB on day 2, each pinned whole by
 * DuckDB's sort and writer), while the many small users keep one row and one parse.
 */
export const WINDOW_PART = 1024;

/**
 * One stored part of a window kept apart: `recent` holds event ids with their event times
 * (RecentPartJson), `spends` SpendBucketJson rows.
 */
export interface WindowPartJson {
  kind: 'recent' | 'spends';
  /** 0, 1, ... within the user and kind, in the window's order. */
  part: number;
  /** The part's entries as JSON: RecentPartJson (recent), a JSON array of SpendBucketJson rows (spends). */
  entries: string;
}

/**
 * A `recent` part in columns: the event ids joined by single spaces (EVENT_ID_RE admits no space)
 * and their event times in the same order. Parsed as one string and one number array, with no
 * array per id: 0.10 us an id against 0.15 us for [eventId, eventTime] pairs, the form written
 * before (measured on 2M ids in parts of 20), which is still read.
 */
export interface RecentPartJson {
  ids: string;
  t: number[];
}

/** A `recent` part (its text, either stored form) or a state's `recentIds` as columns, checked. */
const recentColumns = (userId: string, stored: string | RecentPartJson): [string[], number[]] => {
  const v = typeof stored === 'string' ? (JSON.parse(stored) as RecentPartJson | [string, number][]) : stored;
  if (Array.isArray(v)) return [v.map((x) => x[0]), v.map((x) => x[1])];
  const ids = v.ids === '' ? [] : v.ids.split(' ');
  if (!Array.isArray(v.t) || ids.length !== v.t.length)
    throw new CryptolambdaError(
      'INTERNAL',
      `a window part of ${userId} lists ${ids.length} event ids and ${Array.isArray(v.t) ? v.t.length : 'no'} times`,
    );
  return [ids, v.t];
};

/** The `recent` parts of a state as columns, counted into `n.read`. */
function* recentParts(userId: string, parts: Iterable<string>, n: { read: number }): Generator<[string[], number[]]> {
  for (const text of parts) {
    const c = recentColumns(userId, text);
    n.read += c[0].length;
    yield c;
  }
}

/** The stored parts of a state's windows, per kind in part order (JSON texts, parsed one at a time). */
export interface WindowPartsIn {
  readonly recent: Iterable<string>;
  readonly spends: Iterable<string>;
}

/** A state's window entries as stored parts (for a state stored with `windowApart`), one part at a time. */
export function* windowParts(s: UserState, size = WINDOW_PART): Generator<WindowPartJson> {
  function* chunks<T>(kind: WindowPartJson['kind'], items: Iterable<T>): Generator<WindowPartJson> {
    let buf: T[] = [];
    let part = 0;
    for (const x of items) {
      buf.push(x);
      if (buf.length === size) {
        yield { kind, part: part++, entries: JSON.stringify(buf) };
        buf = [];
      }
    }
    if (buf.length > 0) yield { kind, part, entries: JSON.stringify(buf) };
  }
  let part = 0;
  for (const [ids, t] of s.recent.columns(size)) {
    const p: RecentPartJson = { ids: ids.join(' '), t };
    yield { kind: 'recent', part: part++, entries: JSON.stringify(p) };
  }
  yield* chunks(
    'spends',
    (function* () {
      for (const x of s.tier.spends) yield [x.eventId, x.eventTime, x.amount.toString()] as [string, number, string];
    })(),
  );
}

const windowMismatch = (userId: string, what: string, stored: number, read: number): CryptolambdaError =>
  new CryptolambdaError(
    'INTERNAL',
    `the stored state of ${userId} names ${stored} window ${what}, ${read} were read from its parts`,
  );

/** The entries of stored parts, parsed one part at a time, counted into `n.read`. */
function* partEntries<T>(parts: Iterable<string>, n: { read: number }): Generator<T> {
  for (const text of parts)
    for (const x of JSON.parse(text) as T[]) {
      n.read++;
      yield x;
    }
}

/**
 * A state stored with `windowApart`, its ids and spends put back inline from their parts, for
 * readers that hand the whole JSON on (serving, the stream bootstrap). Counts must match. A state
 * whose ids are inline in columns (`recentIds`) gets them as `recent` pairs.
 */
export const inlineWindow = (j: UserStateJson, parts: WindowPartsIn): UserStateJson => {
  const w = j.windowApart;
  if (j.recentIds !== undefined) {
    // Ids inline in columns (the warehouse snapshot's form): the whole JSON lists them as pairs.
    const [ids, t] = recentColumns(j.userId, j.recentIds);
    const { recentIds: _, ...rest } = j;
    return { ...rest, recent: ids.map((id, i) => [id, t[i]!] as [string, number]) };
  }
  if (w === undefined) return j;
  const ids = { read: 0 };
  const recent: [string, number][] = [];
  for (const [id, t] of recentParts(j.userId, parts.recent, ids))
    for (let i = 0; i < id.length; i++) recent.push([id[i]!, t[i]!]);
  if (ids.read !== w.recent) throw windowMismatch(j.userId, 'event ids', w.recent, ids.read);
  const sp = { read: 0 };
  const spends = [...partEntries<[string, number, string]>(parts.spends, sp)].map(([eventId, eventTime, amount]) => ({
    eventId,
    eventTime,
    amount,
  }));
  if (sp.read !== w.spends) throw windowMismatch(j.userId, 'spends', w.spends, sp.read);
  const { windowApart: _, ...rest } = j;
  return { ...rest, recent, tier: { ...j.tier, spends } };
};

/** A lot queue whose open lots are stored apart, as rows: its method, next seq and lot count. */
export interface LotsApartJson {
  method: CostMethod;
  nextSeq: number;
  open: number;
}

/**
 * The whole state in one JSON value. `lotsApart`: the open lots are left out (only each queue's
 * method, next seq and count stay), for a store that writes them as rows of their own: the warehouse
 * snapshot, where a heavy user's millions of lots made one JSON value of hundreds of MB.
 * `windowApart` (true, or 'large': only past WINDOW_PART entries): the dedup ids and window spends
 * are left out too (the frontier and counts stay), for a store that writes `windowParts`.
 */
export const userToJson = (s: UserState, lotsApart = false, windowApart: boolean | 'large' = false): UserStateJson => {
  // 'large' (the warehouse snapshot): apart when the windows hold more than WINDOW_PART ids and
  // spends together; else the ids inline in columns (`recentIds`), one string and one number array.
  const max = WINDOW_PART - s.tier.size;
  const columns = windowApart === 'large' && max >= 0 ? s.recent.columnsUpTo(max) : undefined;
  const recent = windowApart === true || windowApart === 'large' ? undefined : s.recent.list()!;
  const inline = recent !== undefined || columns !== undefined;
  return {
    userId: s.userId,
    positions: [...s.positions.values()].map(positionToJson),
    // Apart: the spends and ids are the parts of `windowParts` (never listed here, not even as a copy).
    tier: inline ? tierStateToJson(s.tier) : { spends: [], ...s.tier.headToJson() },
    recent: recent ?? [],
    ...(columns !== undefined ? { recentIds: { ids: columns[0].join(' '), t: columns[1] } } : {}),
    ...(inline ? {} : { windowApart: windowApartOf(s) }),
    costMethod: s.costMethod,
    ...(lotsApart
      ? {
          lotsApart: Object.fromEntries(
            [...s.lots].map(([a, q]) => [a, { method: q.method, nextSeq: q.seq, open: q.size }]),
          ),
        }
      : { lots: lotsToJson(s) }),
  };
};

const windowApartOf = (s: UserState): WindowApartJson => {
  return { frontier: s.recent.latest, recent: s.recent.size, spends: s.tier.size };
};

const apartMismatch = (userId: string, asset: string, open: number, rows: number): CryptolambdaError =>
  new CryptolambdaError(
    'INTERNAL',
    `the stored state of ${userId} names ${open} open ${asset} lot(s), ${rows} lot row(s) were read`,
  );

/**
 * A state stored with `lotsApart`, its lots put back inline from their rows (`lotsOf(asset)`, any
 * order), for readers that hand the whole JSON on (serving, the stream bootstrap). A count that
 * differs from the rows is refused: a lost or extra lot would change every later disposal.
 */
export const inlineLots = (
  j: UserStateJson,
  lotsOf: (asset: string) => readonly OpenLot[] | undefined,
): UserStateJson => {
  if (j.lotsApart === undefined) return j;
  const lots: Record<string, LotQueueJson> = {};
  for (const [asset, a] of Object.entries(j.lotsApart)) {
    const rows = [...(lotsOf(asset) ?? [])].sort((x, y) => x.seq - y.seq);
    if (rows.length !== a.open) throw apartMismatch(j.userId, asset, a.open, rows.length);
    lots[asset] = { method: a.method, nextSeq: a.nextSeq, lots: rows.map(lotToJson) };
  }
  const { lotsApart: _, ...rest } = j;
  return { ...rest, lots };
};

const lotsToJson = (s: UserState): Record<string, LotQueueJson> =>
  Object.fromEntries([...s.lots].map(([a, q]) => [a, lotQueueToJson(q)]));

/**
 * A stored state's method and lots. A state written before lots existed has no method: it takes the
 * deployment's, with one opening lot per position. A state kept by ANOTHER method is refused: mixing
 * methods gives numbers no single method produces; changing it means rebuilding from history.
 */
const lotsFromJson = (
  userId: string,
  positions: ReadonlyMap<string, Position>,
  stored: { costMethod?: CostMethod; lots?: Record<string, LotQueueJson>; lotsApart?: Record<string, LotsApartJson> },
  method: CostMethod,
  rowsOf?: (asset: string) => LotRow[] | undefined,
  headOnly = false,
): Map<string, LotQueue> => {
  if (stored.costMethod !== undefined && stored.costMethod !== method) {
    throw new CryptolambdaError(
      'INVALID_CONFIG',
      `the state of ${userId} is kept by cost-basis method ${stored.costMethod}, this deployment uses ${method}`,
      `run with --cost-basis ${stored.costMethod} (CRYPTOLAMBDA_COST_BASIS), or rebuild both layers from history to change it`,
    );
  }
  const lots = new Map<string, LotQueue>();
  for (const [asset, p] of positions) {
    const apart = stored.lotsApart?.[asset];
    if (apart !== undefined) {
      const rows = rowsOf?.(asset) ?? [];
      if (headOnly ? rows.length > apart.open : rows.length !== apart.open)
        throw apartMismatch(userId, asset, apart.open, rows.length);
      lots.set(asset, LotQueue.fromRows(apart.method, rows, apart.nextSeq, apart.open - rows.length));
      continue;
    }
    const q = stored.lots?.[asset];
    lots.set(asset, q === undefined ? openingLots(p, method) : lotQueueFromJson(q));
  }
  return lots;
};

/**
 * The tier window and dedup ids of a stored state: inline, or (`windowApart`) streamed from the
 * stored parts straight into the structures, one part parsed at a time; the counts must match.
 */
const windowsFromJson = (j: UserStateJson, window: WindowPartsIn | undefined): Pick<UserState, 'tier' | 'recent'> => {
  const w = j.windowApart;
  if (w === undefined) {
    const tier = TierWindow.from(tierStateFromJson(j.tier));
    if (j.recentIds === undefined) return { tier, recent: DedupIds.fromEntries(DEDUP_WINDOW_MS, j.recent) };
    const [ids, t] = recentColumns(j.userId, j.recentIds);
    return { tier, recent: DedupIds.fromColumns(DEDUP_WINDOW_MS, ids, t) };
  }
  const ids = { read: 0 };
  const recent = DedupIds.fromFrontierColumns(
    DEDUP_WINDOW_MS,
    w.frontier,
    recentParts(j.userId, window?.recent ?? [], ids),
  );
  if (ids.read !== w.recent) throw windowMismatch(j.userId, 'event ids', w.recent, ids.read);
  const sp = { read: 0 };
  // Each part is a run of the window in order: appended as one bucket list (TierWindow re-buckets by day).
  const tier = TierWindow.fromParts(
    j.tier,
    (function* () {
      for (const text of window?.spends ?? []) {
        const rows = JSON.parse(text) as SpendBucketJson;
        sp.read += rows.length;
        yield ['', rows] as [string, SpendBucketJson];
      }
    })(),
  );
  if (sp.read !== w.spends) throw windowMismatch(j.userId, 'spends', w.spends, sp.read);
  return { tier, recent };
};

/**
 * A state from its JSON. A state stored with `lotsApart` takes its open lots from `rowsOf(asset)`
 * (the stored rows, handed over: they become the queue's records); its counts must match.
 */
export const userFromJson = (
  j: UserStateJson,
  method: CostMethod = DEFAULT_COST_METHOD,
  rowsOf?: (asset: string) => LotRow[] | undefined,
  window?: WindowPartsIn,
  /**
   * `rowsOf` gives only the head of each queue stored apart (the lots the day's disposals can
   * reach, in the method's order): the rest stay away (LotsAway) and the caller copies them forward.
   */
  headOnly = false,
): UserState => {
  const positions = new Map(j.positions.map((p) => [p.asset, positionFromJson(p)]));
  const { tier, recent } = windowsFromJson(j, window);
  return {
    userId: j.userId,
    positions,
    tier,
    recent,
    changedAssets: new Set(),
    costMethod: method,
    lots: lotsFromJson(j.userId, positions, j, method, rowsOf, headOnly),
  };
};

/**
 * The state as separately stored parts, for a store that writes what changed (issue 13): one value
 * per asset, a small tier head, the spend of each event day, a small dedup head and the event ids of
 * each event day. `userChanges` names the parts to rewrite or delete since `clearUserChanges`.
 */
export interface UserParts {
  userId: string;
  positions: PositionJson[];
  tierHead: TierHeadJson;
  spendDays: [string, SpendBucketJson][];
  dedupHead: DedupHeadJson;
  dedupDays: [string, DedupBucketJson][];
  /** Lots per asset: written with the asset's position (both change together, see `changedAssets`). */
  costMethod?: CostMethod;
  lots?: Record<string, LotQueueJson>;
}

export const userToParts = (s: UserState): UserParts => ({
  userId: s.userId,
  positions: [...s.positions.values()].map(positionToJson),
  tierHead: s.tier.headToJson(),
  spendDays: s.tier.bucketKeys().map((d) => [d, s.tier.bucketToJson(d)]),
  dedupHead: s.recent.headToJson(),
  dedupDays: s.recent.bucketKeys().map((d) => [d, s.recent.bucketToJson(d)]),
  costMethod: s.costMethod,
  lots: lotsToJson(s),
});

export const userFromParts = (p: UserParts, method: CostMethod = DEFAULT_COST_METHOD): UserState => {
  const positions = new Map(p.positions.map((x) => [x.asset, positionFromJson(x)]));
  return {
    userId: p.userId,
    positions,
    tier: TierWindow.fromParts(p.tierHead, p.spendDays),
    recent: DedupIds.fromParts(DEDUP_WINDOW_MS, p.dedupHead, p.dedupDays),
    changedAssets: new Set(),
    costMethod: method,
    lots: lotsFromJson(p.userId, positions, p, method),
  };
};

export interface UserChanges {
  /** Assets whose position value must be rewritten. */
  readonly assets: ReadonlySet<string>;
  readonly tierHead: boolean;
  /**
   * Spends that entered or left the 30-day window, by `spendField`: write those the window holds,
   * delete the others (`TierChanges`).
   */
  readonly spends: ReadonlyMap<string, SpendKey>;
  readonly dedupHead: boolean;
  /** Event-id day buckets to rewrite (the ids added since; buckets only grow) / to delete. */
  readonly dedupDays: ReadonlySet<string>;
  readonly dedupDaysDropped: ReadonlySet<string>;
}

/** What changed since the last `clearUserChanges` (live views: read them before clearing). */
export const userChanges = (s: UserState): UserChanges => ({
  assets: s.changedAssets,
  tierHead: s.tier.changes.head,
  spends: s.tier.changes.spends,
  dedupHead: s.recent.changes.head,
  dedupDays: s.recent.changes.days,
  dedupDaysDropped: s.recent.changes.dropped,
});

export const clearUserChanges = (s: UserState): void => {
  s.changedAssets.clear();
  s.tier.clearChanges();
  s.recent.clearChanges();
};

export interface DayRewardsJson {
  spend: string;
  cashbackOwed: string;
  cashbackCapped: string;
  cashbackPaid: string;
  stakingIncome: string;
  realizedPnl: string;
  tier: string;
  spend30d: string;
  events: number;
  rejected: number;
}

export const dayToJson = (d: DayRewards): DayRewardsJson => ({
  spend: d.spend.toString(),
  cashbackOwed: d.cashbackOwed.toString(),
  cashbackCapped: d.cashbackCapped.toString(),
  cashbackPaid: d.cashbackPaid.toString(),
  stakingIncome: d.stakingIncome.toString(),
  realizedPnl: d.realizedPnl.toString(),
  tier: d.tier,
  spend30d: d.spend30d.toString(),
  events: d.events,
  rejected: d.rejected,
});

export const dayFromJson = (j: DayRewardsJson): DayRewards => {
  const u = (s: string) => Decimal.parse(s, USD_SCALE);
  return {
    spend: u(j.spend),
    cashbackOwed: u(j.cashbackOwed),
    cashbackCapped: u(j.cashbackCapped),
    cashbackPaid: u(j.cashbackPaid),
    stakingIncome: u(j.stakingIncome),
    realizedPnl: u(j.realizedPnl),
    tier: j.tier,
    spend30d: u(j.spend30d),
    events: j.events,
    rejected: j.rejected,
  };
};
