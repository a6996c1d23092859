import { CryptolambdaError } from '../errors.js';
import type { EpochMillis } from '../events/types.js';
import { Decimal, divRoundHalfEven, QTY_SCALE, USD_SCALE } from '../money/decimal.js';

/**
 * Tax lots of one (user, asset). Every acquisition opens a lot (its event id, time, units and cost);
 * every disposal consumes lots in the order of the deployment's cost-basis method (docs/core.md §3a):
 *
 *   average  FIFO order, used only for acquisition dates and holding periods: the COST of a disposal
 *            is still the weighted-average share of position.ts (today's numbers, unchanged)
 *   fifo     oldest lot first                       deque, consumed at the head   amortized O(1)
 *   lifo     newest lot first                       deque, consumed at the tail   amortized O(1)
 *   hifo     highest unit cost at acquisition first binary heap                   O(log n)
 *
 * "Amortized O(1)": a disposal that empties k lots does k units of work, but each lot is emptied at
 * most once, so the total over a history is O(acquisitions + disposals), whatever the number of
 * partially consumed lots. The queue is PERSISTENT (immutable versions sharing structure), so a user
 * state stays a value like the rest of the core: replaying two branches from one state (an as-of
 * view, a test) is correct, and no event copies the lots.
 *
 * Quantities are integer units at QTY_SCALE, costs at USD_SCALE, held as bigints. A partial take of a
 * lot removes cost x taken / units (HALF-EVEN), or the whole remaining cost when every unit is taken,
 * so a lot emptied by several partial takes leaves no dust.
 */
export const COST_METHODS = ['average', 'fifo', 'lifo', 'hifo'] as const;
export type CostMethod = (typeof COST_METHODS)[number];
export const DEFAULT_COST_METHOD: CostMethod = 'average';

export const isCostMethod = (s: string): s is CostMethod => (COST_METHODS as readonly string[]).includes(s);

/** An open lot as callers see it (a snapshot; the queue's own record is private). */
export interface OpenLot {
  /** The acquiring event's id. */
  readonly lotId: string;
  readonly acquiredAt: EpochMillis;
  /** Acquisition order within the (user, asset): the tie-break of equal times. */
  readonly seq: number;
  /** Units and cost at acquisition; the HIFO key is originalCost / originalQuantity and never changes. */
  readonly originalQuantity: Decimal;
  readonly originalCost: Decimal;
  /** Units still held and their remaining cost. */
  readonly quantity: Decimal;
  readonly cost: Decimal;
}

/** Units taken from one lot by one consumption. `cost` is the lot's own cost share of the units. */
export interface LotPiece {
  readonly lotId: string;
  readonly acquiredAt: EpochMillis;
  readonly quantity: bigint;
  readonly cost: bigint;
}

/**
 * An open lot as a stored row gives it (fact_lot_daily): units at QTY_SCALE, costs at USD_SCALE, as
 * bigints. `LotQueue.fromRows` takes such rows as the queue's own records, with no Decimal per field:
 * a heavy user's snapshot carries millions of lots (docs/warehouse.md).
 */
export interface LotRow {
  readonly lotId: string;
  readonly acquiredAt: EpochMillis;
  readonly seq: number;
  readonly q0: bigint;
  readonly c0: bigint;
  q: bigint;
  c: bigint;
}

/** The queue's own record of a lot: the stored row's shape, so rows become records as they are. */
type LotRec = LotRow;

/** HIFO priority: higher acquisition unit cost first (compared exactly, c0a/q0a vs c0b/q0b), then older. */
const hifoBefore = (a: LotRec, b: LotRec): boolean => {
  const l = a.c0 * b.q0;
  const r = b.c0 * a.q0;
  return l !== r ? l > r : a.seq < b.seq;
};

/** Cost share of `take` units of a lot: c x take / q HALF-EVEN, all of it when take = q. */
const share = (c: bigint, take: bigint, q: bigint): bigint => (take === q ? c : divRoundHalfEven(c * take, q));

const toRec = (l: OpenLot): LotRec => ({
  lotId: l.lotId,
  acquiredAt: l.acquiredAt,
  seq: l.seq,
  q0: l.originalQuantity.rescale(QTY_SCALE).units,
  c0: l.originalCost.rescale(USD_SCALE).units,
  q: l.quantity.rescale(QTY_SCALE).units,
  c: l.cost.rescale(USD_SCALE).units,
});

/** A stored lot row as an open lot (Decimals at the lot scales). */
export const openLotOf = (r: Readonly<LotRow>): OpenLot => toOpen(r);

const toOpen = (r: LotRec): OpenLot => ({
  lotId: r.lotId,
  acquiredAt: r.acquiredAt,
  seq: r.seq,
  originalQuantity: Decimal.fromUnits(r.q0, QTY_SCALE),
  originalCost: Decimal.fromUnits(r.c0, USD_SCALE),
  quantity: Decimal.fromUnits(r.q, QTY_SCALE),
  cost: Decimal.fromUnits(r.c, USD_SCALE),
});

/**
 * The three persistent shapes. Every operation returns a new shape and never changes one a caller
 * may still hold, yet costs O(1) (deque, stack) or O(log n) (heap):
 * - Deque (average, fifo): an append-only array shared by successive versions, each seeing
 *   [head, len) with its own remainder of the head lot. Appending in place is safe while the array
 *   ends at len (no later version wrote past it); otherwise the live part is copied first, which
 *   only happens when two versions branch from one state.
 * - Stack (lifo): an immutable linked list; a partial take replaces the top node.
 * - Heap (hifo): a leftist heap of immutable nodes (O(log n) merge); a partial take replaces the
 *   top node with the same priority (the key is the acquisition unit cost, which never changes).
 */
interface Deque {
  readonly kind: 'deque';
  readonly arr: LotRec[];
  readonly head: number;
  readonly len: number;
  /** The head lot's remaining units and cost (the array keeps each lot as it was appended). */
  readonly headRec: LotRec | undefined;
}
interface StackNode {
  readonly rec: LotRec;
  readonly next: StackNode | null;
}
interface Stack {
  readonly kind: 'stack';
  readonly top: StackNode | null;
}
interface HeapNode {
  readonly rec: LotRec;
  readonly rank: number;
  readonly left: HeapNode | null;
  readonly right: HeapNode | null;
}
interface Heap {
  readonly kind: 'heap';
  readonly root: HeapNode | null;
}
type Shape = Deque | Stack | Heap;

const rank = (h: HeapNode | null): number => (h === null ? 0 : h.rank);
const node = (rec: LotRec, a: HeapNode | null, b: HeapNode | null): HeapNode =>
  rank(a) >= rank(b) ? { rec, rank: rank(b) + 1, left: a, right: b } : { rec, rank: rank(a) + 1, left: b, right: a };
const merge = (a: HeapNode | null, b: HeapNode | null): HeapNode | null => {
  if (a === null) return b;
  if (b === null) return a;
  if (hifoBefore(b.rec, a.rec)) [a, b] = [b, a];
  return node(a.rec, a.left, merge(a.right, b));
};

const emptyShape = (method: CostMethod): Shape =>
  method === 'lifo'
    ? { kind: 'stack', top: null }
    : method === 'hifo'
      ? { kind: 'heap', root: null }
      : { kind: 'deque', arr: [], head: 0, len: 0, headRec: undefined };

const frontOf = (s: Shape): LotRec | undefined =>
  s.kind === 'deque' ? s.headRec : s.kind === 'stack' ? s.top?.rec : s.root?.rec;

const pushShape = (s: Shape, r: LotRec): Shape => {
  if (s.kind === 'stack') return { kind: 'stack', top: { rec: r, next: s.top } };
  if (s.kind === 'heap') return { kind: 'heap', root: merge(s.root, { rec: r, rank: 1, left: null, right: null }) };
  let { arr, head, len } = s;
  if (arr.length !== len) {
    // Another version appended past us: copy our live part (only on a branch).
    arr = arr.slice(head, len);
    len -= head;
    head = 0;
  }
  arr.push(r);
  return { kind: 'deque', arr, head, len: len + 1, headRec: s.headRec ?? r };
};

/** Replace the front lot's remainder (a partial take). */
const replaceFront = (s: Shape, r: LotRec): Shape => {
  // Literals, not spreads: a spread with overrides costs ~40x a literal on Node 20 (per disposal).
  if (s.kind === 'deque') return { kind: 'deque', arr: s.arr, head: s.head, len: s.len, headRec: r };
  if (s.kind === 'stack') return { kind: 'stack', top: { rec: r, next: s.top!.next } };
  const root = s.root!;
  return { kind: 'heap', root: { rec: r, rank: root.rank, left: root.left, right: root.right } };
};

const popFront = (s: Shape): Shape => {
  if (s.kind === 'stack') return { kind: 'stack', top: s.top!.next };
  if (s.kind === 'heap') return { kind: 'heap', root: merge(s.root!.left, s.root!.right) };
  let { arr, head, len } = s;
  head++;
  // Drop the dead prefix once it is most of the array: each lot is copied O(1) times amortized.
  if (head >= 64 && head * 2 >= len) {
    arr = arr.slice(head, len);
    len -= head;
    head = 0;
  }
  return { kind: 'deque', arr, head, len, headRec: head < len ? arr[head] : undefined };
};

const liveRecs = (s: Shape): LotRec[] => {
  if (s.kind === 'deque') {
    const out = s.arr.slice(s.head, s.len);
    if (out.length > 0) out[0] = s.headRec!;
    return out;
  }
  const out: LotRec[] = [];
  if (s.kind === 'stack') {
    for (let n = s.top; n !== null; n = n.next) out.push(n.rec);
  } else {
    const walk: (HeapNode | null)[] = [s.root];
    while (walk.length > 0) {
      const n = walk.pop();
      if (!n) continue;
      out.push(n.rec);
      walk.push(n.left, n.right);
    }
  }
  return out.sort((a, b) => a.seq - b.seq);
};

/**
 * Open lots of a queue that are not held in memory: a day's build loads from the previous day's
 * fact_lot_daily only the lots its day's disposals can reach (docs/warehouse.md, "Untouched lots
 * stay in DuckDB") and copies the others forward there. They are `count` lots whose seqs lie in
 * [lo, hi], after every lot held (fifo, average) or before them (lifo); no lot held or acquired
 * later has a seq in that range. A disposal that would reach them is a broken invariant (the
 * build's bound missed an outflow), refused instead of taking the wrong lots.
 */
export interface LotsAway {
  readonly count: number;
  readonly lo: number;
  readonly hi: number;
}

/**
 * Where the lots not loaded lie, given the loaded ones (sorted by seq): what a build that loads a
 * queue's head in the method's order leaves behind. fifo and average consume the lowest seqs first,
 * so the loaded lots are the lowest and the others lie above them; lifo the highest, so the others
 * lie below; hifo's order is not by seq, so its lots are loaded all or none.
 */
const awayRange = (method: CostMethod, sorted: readonly LotRow[], nextSeq: number, count: number): LotsAway => {
  const top = nextSeq - 1;
  if (sorted.length === 0) return { count, lo: 0, hi: top };
  if (method === 'hifo')
    throw new CryptolambdaError('INTERNAL', `hifo lots are loaded all or none: ${sorted.length} loaded, ${count} not`);
  return method === 'lifo'
    ? { count, lo: 0, hi: sorted[0]!.seq - 1 }
    : { count, lo: sorted[sorted.length - 1]!.seq + 1, hi: top };
};

/**
 * Whether the next lot a disposal takes (`front`) comes before the lots away in the method's order:
 * fifo/average hold the lots below the range first (lots acquired since lie above it), lifo holds
 * the lots above it (loaded or acquired since) on top; hifo never takes while lots are away.
 */
const beforeAway = (s: Shape, front: LotRec | undefined, away: LotsAway): boolean =>
  front !== undefined && (s.kind === 'deque' ? front.seq < away.lo : s.kind === 'stack' ? front.seq > away.hi : false);

/** An immutable queue of open lots; `acquire` and `consume` return the next version. */
export class LotQueue {
  private constructor(
    readonly method: CostMethod,
    private readonly shape: Shape,
    /** Number of open lots (those `away` included). */
    readonly size: number,
    /** Units and cost of the lots held (not of those `away`). */
    private readonly units: bigint,
    private readonly costUnits: bigint,
    /** Sequence number the next lot will get (persisted so a restored queue numbers on). */
    readonly seq: number,
    /** Lots of this queue left in the store (a partly loaded queue), or undefined: all are here. */
    readonly away?: LotsAway,
  ) {}

  private wholeOnly(what: string): void {
    if (this.away !== undefined)
      throw new CryptolambdaError('INTERNAL', `${what} of a partly loaded lot queue (${this.away.count} lot(s) away)`);
  }

  static empty(method: CostMethod): LotQueue {
    return new LotQueue(method, emptyShape(method), 0, 0n, 0n, 0);
  }

  /** Units held over all open lots (QTY_SCALE); equals the position's quantity. */
  get quantity(): Decimal {
    this.wholeOnly('the quantity');
    return Decimal.fromUnits(this.units, QTY_SCALE);
  }

  /** Remaining cost over all open lots (USD_SCALE); equals the position's cost basis for fifo/lifo/hifo. */
  get cost(): Decimal {
    this.wholeOnly('the cost');
    return Decimal.fromUnits(this.costUnits, USD_SCALE);
  }

  /** Open a lot. A zero-unit acquisition opens none (the caller decides what its cost becomes). */
  acquire(lotId: string, acquiredAt: EpochMillis, quantity: Decimal, cost: Decimal): LotQueue {
    const q = quantity.rescale(QTY_SCALE).units;
    const c = cost.rescale(USD_SCALE).units;
    if (q < 0n || c < 0n) throw new CryptolambdaError('INTERNAL', `negative lot ${lotId}: ${q} units, ${c} cost`);
    if (q === 0n) return this;
    return this.with({ lotId, acquiredAt, seq: this.seq, q0: q, c0: c, q, c }, this.seq + 1);
  }

  private with(r: LotRec, seq: number): LotQueue {
    return new LotQueue(
      this.method,
      pushShape(this.shape, r),
      this.size + 1,
      this.units + r.q,
      this.costUnits + r.c,
      seq,
      this.away,
    );
  }

  /**
   * Take `quantity` units in the method's order: the pieces taken (in consumption order) and the
   * queue after. The caller has checked the holdings; more than the lots hold is a broken invariant.
   */
  consume(quantity: Decimal): { lots: LotQueue; pieces: LotPiece[] } {
    let need = quantity.rescale(QTY_SCALE).units;
    if (need > this.units && this.away === undefined) {
      throw new CryptolambdaError('INTERNAL', `lots hold ${this.units} units, ${need} requested`);
    }
    if (need === 0n) return { lots: this, pieces: [] };
    const pieces: LotPiece[] = [];
    let shape = this.shape;
    let size = this.size;
    let units = this.units;
    let costUnits = this.costUnits;
    const away = this.away;
    while (need > 0n) {
      const lot = frontOf(shape);
      if (away !== undefined && !beforeAway(shape, lot, away))
        throw new CryptolambdaError(
          'INTERNAL',
          `a disposal of ${quantity.toString()} reaches the ${away.count} ${this.method} lot(s) not loaded (seqs ${away.lo}-${away.hi}): the day's outflow bound missed it`,
        );
      if (lot === undefined)
        throw new CryptolambdaError('INTERNAL', `lots hold ${this.units} units, ${need} requested`);
      const take = need < lot.q ? need : lot.q;
      const cost = share(lot.c, take, lot.q);
      pieces.push({ lotId: lot.lotId, acquiredAt: lot.acquiredAt, quantity: take, cost });
      units -= take;
      costUnits -= cost;
      need -= take;
      if (take === lot.q) {
        shape = popFront(shape);
        size--;
      } else
        shape = replaceFront(shape, {
          lotId: lot.lotId,
          acquiredAt: lot.acquiredAt,
          seq: lot.seq,
          q0: lot.q0,
          c0: lot.c0,
          q: lot.q - take,
          c: lot.c - cost,
        });
    }
    return { lots: new LotQueue(this.method, shape, size, units, costUnits, this.seq, away), pieces };
  }

  /** The persistent shape (for `lotChanges`, which compares two versions). */
  shapeOf(): Shape {
    return this.shape;
  }

  /**
   * Open lots in acquisition order (seq) as the queue's own records, one at a time: for writing
   * them out as rows (fact_lot_daily) without an OpenLot and four Decimals per lot, nor (average,
   * fifo) a copy of the queue. Read-only: the records are shared with the queue.
   */
  *rows(): Generator<Readonly<LotRow>> {
    this.wholeOnly('the lots');
    const s = this.shape;
    if (s.kind === 'deque') {
      for (let i = s.head; i < s.len; i++) yield i === s.head ? s.headRec! : s.arr[i]!;
      return;
    }
    yield* liveRecs(s);
  }

  /**
   * `rows()` as a pass that calls `f` per lot held (a partly loaded queue's lots `away` are not
   * here: the build copies them forward in the store): no generator step per lot (an iterator result each,
   * a day's build writes out every open lot of every user, millions at a million users).
   */
  forEachRow(f: (row: Readonly<LotRow>) => void): void {
    const s = this.shape;
    if (s.kind === 'deque') {
      for (let i = s.head; i < s.len; i++) f(i === s.head ? s.headRec! : s.arr[i]!);
      return;
    }
    for (const r of liveRecs(s)) f(r);
  }

  /** Open lots in acquisition order (seq), for snapshots, reconcile and display. O(n log n). */
  open(): OpenLot[] {
    this.wholeOnly('the lots');
    return liveRecs(this.shape).map(toOpen);
  }

  /**
   * Rebuild a queue from stored lot rows (any order; sorted here by seq, in place) and the next
   * sequence number. The rows become the queue's records: the caller hands them over and keeps none.
   * `awayCount`: how many more open lots the store holds that were not loaded (the head of the
   * queue in the method's order was; see LotsAway).
   */
  static fromRows(method: CostMethod, rows: LotRow[], nextSeq: number, awayCount = 0): LotQueue {
    let inOrder = true;
    for (let i = 1; i < rows.length && inOrder; i++) inOrder = rows[i - 1]!.seq < rows[i]!.seq;
    if (!inOrder) rows.sort((a, b) => a.seq - b.seq);
    let shape = emptyShape(method);
    let units = 0n;
    let costUnits = 0n;
    let seq = nextSeq;
    for (const r of rows) {
      if (r.q <= 0n || r.c < 0n || r.q > r.q0)
        throw new CryptolambdaError('INTERNAL', `stored lot ${r.lotId}: ${r.q} of ${r.q0} units, ${r.c} cost`);
      shape = pushShape(shape, r);
      units += r.q;
      costUnits += r.c;
      if (r.seq >= seq) seq = r.seq + 1;
    }
    const away = awayCount > 0 ? awayRange(method, rows, nextSeq, awayCount) : undefined;
    return new LotQueue(method, shape, rows.length + awayCount, units, costUnits, seq, away);
  }

  /** Rebuild a queue from its open lots (any order) and the next sequence number. */
  static restore(method: CostMethod, lots: readonly OpenLot[], nextSeq: number): LotQueue {
    let q = LotQueue.empty(method);
    for (const l of [...lots].sort((a, b) => a.seq - b.seq)) q = q.with(toRec(l), q.seq);
    const seq = Math.max(
      nextSeq,
      lots.reduce((m, l) => Math.max(m, l.seq + 1), 0),
    );
    return new LotQueue(method, q.shape, q.size, q.units, q.costUnits, seq);
  }
}

/**
 * What a store that keeps one record per open lot (keyed by `seq`) must write to go from `prev` to
 * `next`, two versions of one (user, asset)'s queue: lots to (re)write and seqs to delete. Its cost
 * grows with the lots that differ, not with the lots held (issue 13: a heavy buyer holds hundreds
 * of thousands of lots, and rewriting them all per checkpoint made a checkpoint O(history)):
 * - deque (average, fifo): the open lots are exactly the seqs [front, next) in acquisition order,
 *   so the lots that left are a range below, the new ones a range above, and inside the overlap
 *   versions share each lot record except the partly taken front and, after a re-application
 *   from an older book, a suffix of re-acquired lots (compared from the newest down to the first
 *   shared record);
 * - stack (lifo): both lists run newest first; walked in step until they share a node;
 * - heap (hifo): the open lots of both versions compared by seq, O(lots) in memory (but still
 *   only the lots that differ are written).
 * Correct for ANY two versions (identity is only a shortcut for "same record"); at worst it
 * rewrites lots that did not change.
 */
export interface LotChanges {
  readonly put: OpenLot[];
  readonly del: number[];
}

/** [first seq, end seq) of a deque whose lots are contiguous in seq, or undefined. */
const dequeRange = (s: Deque): [number, number] | undefined => {
  if (s.len === s.head) return [0, 0];
  const lo = s.headRec!.seq;
  return s.arr[s.len - 1]!.seq === lo + (s.len - s.head) - 1 ? [lo, lo + (s.len - s.head)] : undefined;
};
const dequeAt = (s: Deque, lo: number, seq: number): LotRec => (seq === lo ? s.headRec! : s.arr[s.head + seq - lo]!);

const dequeChanges = (p: Deque, n: Deque, put: LotRec[], del: number[]): boolean => {
  const pr = dequeRange(p);
  const nr = dequeRange(n);
  if (pr === undefined || nr === undefined) return false;
  const [pLo, pHi] = pr;
  const [nLo, nHi] = nr;
  const oLo = Math.max(pLo, nLo);
  const oHi = Math.min(pHi, nHi);
  if (oLo >= oHi) {
    for (let s = pLo; s < pHi; s++) del.push(s);
    for (let s = nLo; s < nHi; s++) put.push(dequeAt(n, nLo, s));
    return true;
  }
  for (let s = pLo; s < oLo; s++) del.push(s);
  for (let s = oHi; s < pHi; s++) del.push(s);
  for (let s = nLo; s < oLo; s++) put.push(dequeAt(n, nLo, s));
  for (let s = oHi; s < nHi; s++) put.push(dequeAt(n, nLo, s));
  if (dequeAt(p, pLo, oLo) !== dequeAt(n, nLo, oLo)) put.push(dequeAt(n, nLo, oLo));
  for (let s = oHi - 1; s > oLo; s--) {
    const r = dequeAt(n, nLo, s);
    if (dequeAt(p, pLo, s) === r) break;
    put.push(r);
  }
  return true;
};

const stackChanges = (p: Stack, n: Stack, put: LotRec[], del: number[]): void => {
  let a = p.top;
  let b = n.top;
  while (a !== b) {
    if (b === null || (a !== null && a.rec.seq > b.rec.seq)) {
      del.push(a!.rec.seq);
      a = a!.next;
    } else if (a === null || b.rec.seq > a.rec.seq) {
      put.push(b.rec);
      b = b.next;
    } else {
      if (a.rec !== b.rec) put.push(b.rec);
      a = a.next;
      b = b.next;
    }
  }
};

const anyChanges = (p: Shape, n: Shape, put: LotRec[], del: number[]): void => {
  const before = new Map(liveRecs(p).map((r) => [r.seq, r]));
  for (const r of liveRecs(n)) {
    if (before.get(r.seq) !== r) put.push(r);
    before.delete(r.seq);
  }
  for (const seq of before.keys()) del.push(seq);
};

const EMPTY_DEQUE: Deque = { kind: 'deque', arr: [], head: 0, len: 0, headRec: undefined };

export const lotChanges = (prev: LotQueue | undefined, next: LotQueue | undefined): LotChanges => {
  const put: LotRec[] = [];
  const del: number[] = [];
  const p = prev?.shapeOf() ?? (next === undefined ? EMPTY_DEQUE : emptyShape(next.method));
  const n = next?.shapeOf() ?? emptyShape(prev?.method ?? 'fifo');
  if (p === n) return { put: [], del: [] };
  if (p.kind === 'deque' && n.kind === 'deque') {
    if (!dequeChanges(p, n, put, del)) anyChanges(p, n, put, del);
  } else if (p.kind === 'stack' && n.kind === 'stack') stackChanges(p, n, put, del);
  else anyChanges(p, n, put, del);
  return { put: put.map(toOpen), del };
};

/** Lossless JSON of a queue (canonical decimal strings, lots in acquisition order). */
export interface LotJson {
  id: string;
  t: number;
  seq: number;
  q0: string;
  c0: string;
  q: string;
  c: string;
}

export interface LotQueueJson {
  method: CostMethod;
  nextSeq: number;
  lots: LotJson[];
}

export const lotToJson = (l: OpenLot): LotJson => ({
  id: l.lotId,
  t: l.acquiredAt,
  seq: l.seq,
  q0: l.originalQuantity.toString(),
  c0: l.originalCost.toString(),
  q: l.quantity.toString(),
  c: l.cost.toString(),
});

export const lotFromJson = (l: LotJson): OpenLot => ({
  lotId: l.id,
  acquiredAt: l.t,
  seq: l.seq,
  originalQuantity: Decimal.parse(l.q0, QTY_SCALE),
  originalCost: Decimal.parse(l.c0, USD_SCALE),
  quantity: Decimal.parse(l.q, QTY_SCALE),
  cost: Decimal.parse(l.c, USD_SCALE),
});

export const lotQueueToJson = (q: LotQueue): LotQueueJson => ({
  method: q.method,
  nextSeq: q.seq,
  lots: q.open().map(lotToJson),
});

export const lotQueueFromJson = (j: LotQueueJson): LotQueue =>
  LotQueue.restore(j.method, j.lots.map(lotFromJson), j.nextSeq);

/** What reconcile compares per (user, asset): counts and sums exactly, and a digest of every lot. */
export interface LotSummary {
  readonly count: number;
  readonly quantity: Decimal;
  readonly cost: Decimal;
  /** FNV-1a 64 over the canonical text of every open lot (id, time, seq, original and remaining). */
  readonly digest: string;
}

/**
 * summarizeLots one lot at a time, for readers that stream a position's lots in acquisition order
 * (reconcile reads a heavy user's hundreds of thousands of lots as a stream, never as a list). The
 * FNV-1a 64 state is four 16-bit limbs in plain numbers: the same digest as the BigInt definition
 * (h = (h ^ c) * 0x100000001b3 mod 2^64 for each UTF-16 code unit c), without a BigInt per character.
 */
export class LotSummarizer {
  private h0 = 0x2325;
  private h1 = 0x8422;
  private h2 = 0x9ce4;
  private h3 = 0xcbf2;
  private n = 0;
  private lastSeq = -1;
  private units = 0n;
  private costUnits = 0n;

  add(l: OpenLot): void {
    if (l.seq < this.lastSeq)
      throw new CryptolambdaError('INTERNAL', `lots out of acquisition order (seq ${l.seq} after ${this.lastSeq})`);
    this.lastSeq = l.seq;
    const text = `${l.lotId}|${l.acquiredAt}|${l.seq}|${l.originalQuantity}|${l.originalCost}|${l.quantity}|${l.cost};`;
    let { h0, h1, h2, h3 } = this;
    for (let i = 0; i < text.length; i++) {
      h0 ^= text.charCodeAt(i);
      // h * (2^40 + 0x1b3) mod 2^64, limb by limb (every intermediate below 2^26).
      const t0 = h0 * 0x1b3;
      const t1 = h1 * 0x1b3 + (t0 >>> 16);
      const t2 = h2 * 0x1b3 + (t1 >>> 16) + ((h0 & 0xff) << 8);
      const t3 = h3 * 0x1b3 + (t2 >>> 16) + (h0 >>> 8) + ((h1 & 0xff) << 8);
      h0 = t0 & 0xffff;
      h1 = t1 & 0xffff;
      h2 = t2 & 0xffff;
      h3 = t3 & 0xffff;
    }
    this.h0 = h0;
    this.h1 = h1;
    this.h2 = h2;
    this.h3 = h3;
    this.n++;
    this.units += l.quantity.rescale(QTY_SCALE).units;
    this.costUnits += l.cost.rescale(USD_SCALE).units;
  }

  summary(): LotSummary {
    const hex = (x: number) => x.toString(16).padStart(4, '0');
    return {
      count: this.n,
      quantity: Decimal.fromUnits(this.units, QTY_SCALE),
      cost: Decimal.fromUnits(this.costUnits, USD_SCALE),
      digest: `${hex(this.h3)}${hex(this.h2)}${hex(this.h1)}${hex(this.h0)}`,
    };
  }
}

/** summarizeLots of a stored queue (the speed layer's `eod` value), without rebuilding the queue. */
export const summarizeLotJson = (j: LotQueueJson): LotSummary => {
  const s = new LotSummarizer();
  for (const l of [...j.lots].sort((a, b) => a.seq - b.seq)) s.add(lotFromJson(l));
  return s.summary();
};

export const summarizeLots = (lots: readonly OpenLot[]): LotSummary => {
  const s = new LotSummarizer();
  for (const l of [...lots].sort((a, b) => a.seq - b.seq)) s.add(l);
  return s.summary();
};
