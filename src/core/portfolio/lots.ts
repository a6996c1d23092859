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
 * partially consumed lots. The queue is MUTABLE and owned by the latest user state (as a Kafka Streams
 * processor owns its store): copying it per event would make a heavy user's cost grow with history.
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

interface LotRec {
  readonly lotId: string;
  readonly acquiredAt: EpochMillis;
  readonly seq: number;
  readonly q0: bigint;
  readonly c0: bigint;
  q: bigint;
  c: bigint;
}

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

const toOpen = (r: LotRec): OpenLot => ({
  lotId: r.lotId,
  acquiredAt: r.acquiredAt,
  seq: r.seq,
  originalQuantity: Decimal.fromUnits(r.q0, QTY_SCALE),
  originalCost: Decimal.fromUnits(r.c0, USD_SCALE),
  quantity: Decimal.fromUnits(r.q, QTY_SCALE),
  cost: Decimal.fromUnits(r.c, USD_SCALE),
});

export class LotQueue {
  /** Deque storage (average, fifo, lifo): live lots are items[head..]; heap storage (hifo): items[0..]. */
  private items: (LotRec | undefined)[] = [];
  private head = 0;
  private units = 0n;
  private costUnits = 0n;
  private nextSeq = 0;

  constructor(readonly method: CostMethod) {}

  /** Number of open lots. */
  get size(): number {
    return this.items.length - this.head;
  }

  /** Units held over all open lots (QTY_SCALE); equals the position's quantity. */
  get quantity(): Decimal {
    return Decimal.fromUnits(this.units, QTY_SCALE);
  }

  /** Remaining cost over all open lots (USD_SCALE); equals the position's cost basis for fifo/lifo/hifo. */
  get cost(): Decimal {
    return Decimal.fromUnits(this.costUnits, USD_SCALE);
  }

  /** Sequence number the next lot will get (persisted so a restored queue numbers on). */
  get seq(): number {
    return this.nextSeq;
  }

  /** Open a lot. Zero-unit acquisitions open none (the caller decides what their cost becomes). */
  acquire(lotId: string, acquiredAt: EpochMillis, quantity: Decimal, cost: Decimal): void {
    const q = quantity.rescale(QTY_SCALE).units;
    const c = cost.rescale(USD_SCALE).units;
    if (q < 0n || c < 0n) throw new CryptolambdaError('INTERNAL', `negative lot ${lotId}: ${q} units, ${c} cost`);
    if (q === 0n) return;
    this.push({ lotId, acquiredAt, seq: this.nextSeq++, q0: q, c0: c, q, c });
  }

  /**
   * Take `quantity` units in the method's order and return the pieces taken (in consumption order).
   * The caller has checked the holdings; asking for more than the lots hold is a broken invariant.
   */
  consume(quantity: Decimal): LotPiece[] {
    let need = quantity.rescale(QTY_SCALE).units;
    if (need > this.units) {
      throw new CryptolambdaError('INTERNAL', `lots hold ${this.units} units, ${need} requested`);
    }
    const pieces: LotPiece[] = [];
    while (need > 0n) {
      const lot = this.front()!;
      const take = need < lot.q ? need : lot.q;
      const cost = share(lot.c, take, lot.q);
      pieces.push({ lotId: lot.lotId, acquiredAt: lot.acquiredAt, quantity: take, cost });
      lot.q -= take;
      lot.c -= cost;
      this.units -= take;
      this.costUnits -= cost;
      need -= take;
      if (lot.q === 0n) this.popFront();
    }
    return pieces;
  }

  /** Open lots in acquisition order (seq), for snapshots, reconcile and display. O(n log n) for hifo. */
  open(): OpenLot[] {
    const live = this.items.slice(this.head) as LotRec[];
    if (this.method === 'hifo') live.sort((a, b) => a.seq - b.seq);
    return live.map(toOpen);
  }

  /** Rebuild a queue from its open lots (any order) and the next sequence number. */
  static restore(method: CostMethod, lots: readonly OpenLot[], nextSeq: number): LotQueue {
    const q = new LotQueue(method);
    for (const l of [...lots].sort((a, b) => a.seq - b.seq)) q.push(toRec(l));
    q.nextSeq = Math.max(
      nextSeq,
      lots.reduce((m, l) => Math.max(m, l.seq + 1), 0),
    );
    return q;
  }

  /** An independent copy (a branch of the state, e.g. an as-of view). O(n). */
  clone(): LotQueue {
    return LotQueue.restore(this.method, this.open(), this.nextSeq);
  }

  private push(r: LotRec): void {
    this.units += r.q;
    this.costUnits += r.c;
    if (this.method !== 'hifo') {
      this.items.push(r);
      return;
    }
    const h = this.items as LotRec[];
    h.push(r);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!hifoBefore(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private front(): LotRec | undefined {
    if (this.method === 'lifo') return this.items[this.items.length - 1];
    return this.items[this.head];
  }

  private popFront(): void {
    if (this.method === 'lifo') {
      this.items.pop();
      return;
    }
    if (this.method !== 'hifo') {
      this.items[this.head++] = undefined;
      // Compact once the dead prefix is most of the array: each lot is moved O(1) times amortized.
      if (this.head >= 64 && this.head * 2 >= this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      return;
    }
    const h = this.items as LotRec[];
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && hifoBefore(h[l]!, h[m]!)) m = l;
      if (r < h.length && hifoBefore(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

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

export const lotQueueToJson = (q: LotQueue): LotQueueJson => ({
  method: q.method,
  nextSeq: q.seq,
  lots: q.open().map((l) => ({
    id: l.lotId,
    t: l.acquiredAt,
    seq: l.seq,
    q0: l.originalQuantity.toString(),
    c0: l.originalCost.toString(),
    q: l.quantity.toString(),
    c: l.cost.toString(),
  })),
});

export const lotQueueFromJson = (j: LotQueueJson): LotQueue =>
  LotQueue.restore(
    j.method,
    j.lots.map((l) => ({
      lotId: l.id,
      acquiredAt: l.t,
      seq: l.seq,
      originalQuantity: Decimal.parse(l.q0, QTY_SCALE),
      originalCost: Decimal.parse(l.c0, USD_SCALE),
      quantity: Decimal.parse(l.q, QTY_SCALE),
      cost: Decimal.parse(l.c, USD_SCALE),
    })),
    j.nextSeq,
  );
