import type { EpochMillis, UserEvent } from '../events/types.js';
import { USD } from '../events/types.js';
import { Decimal, divRoundHalfEven, QTY_SCALE, USD_SCALE } from '../money/decimal.js';
import { type LotPiece, LotQueue } from './lots.js';
import { type Applied, applyEvent, notional, type Position, positionWith } from './position.js';

/**
 * Portfolio accounting with tax lots: position.ts's rules for quantity, staking, fees and rejects,
 * with the cost of every disposal taken from the lots by the queue's method (docs/core.md §3a).
 *
 * - average: position.ts unchanged, number for number (the default). The lots are consumed FIFO
 *   only to date each disposal; the average cost removed is split over the pieces pro rata.
 * - fifo / lifo / hifo: the cost removed is the sum of the consumed lots' own cost shares, so the
 *   position's cost basis is always exactly the sum of its open lots' cost. A reward opens a lot at
 *   its fair value at credit (N(q) at the credit price, the same amount as its reward income), as
 *   tax practice and Rotki/Coinbase do; under average it keeps today's zero cost.
 *
 * Every realized amount is itemized as a `Disposal` row, so the rows of a position always sum to
 * its realized P&L exactly: sales and crypto card spends (proceeds vs cost per lot piece), units paid
 * as a fee (zero proceeds), and USD fees of withdrawals/stakes (an `expense` row without a lot).
 */
export type DisposalKind = 'sell' | 'card_spend' | 'fee' | 'expense' | 'void';

export interface Disposal {
  readonly eventId: string;
  readonly userId: string;
  readonly asset: string;
  readonly kind: DisposalKind;
  /** Position of the row among its event's rows: the order the lots were consumed in. */
  readonly piece: number;
  /** The lot the units came from; empty for an expense row. */
  readonly lotId: string;
  readonly acquiredAt: EpochMillis;
  readonly disposedAt: EpochMillis;
  /** Units disposed of (QTY_SCALE); zero for an expense row. */
  readonly quantity: Decimal;
  /** Proceeds net of the disposal's USD fee, allocated to the piece (USD_SCALE). */
  readonly proceeds: Decimal;
  readonly costBasis: Decimal;
  /** proceeds - costBasis (USD_SCALE). */
  readonly gain: Decimal;
}

export type LotApplied = (Applied & { ok: false }) | (Applied & { ok: true; lots: LotQueue; disposals: Disposal[] });

const Z_U = Decimal.zero(USD_SCALE);
const Z_Q = Decimal.zero(QTY_SCALE);

/**
 * Split `total` (USD units) over pieces pro rata by quantity: HALF-EVEN per piece, the last piece
 * takes the remainder, so the parts always add up to the total exactly.
 */
export const allocate = (total: bigint, pieces: readonly LotPiece[]): bigint[] => {
  // One piece (a disposal from one lot, the usual case) takes the whole total: no products.
  if (pieces.length === 1) return [total];
  let all = 0n;
  for (const p of pieces) all += p.quantity;
  const out: bigint[] = [];
  let left = total;
  for (let i = 0; i < pieces.length; i++) {
    const part = i === pieces.length - 1 ? left : all === 0n ? 0n : divRoundHalfEven(total * pieces[i]!.quantity, all);
    out.push(part);
    left -= part;
  }
  return out;
};

const usdOf = (u: bigint): Decimal => Decimal.fromUnits(u, USD_SCALE);

const rows = (
  e: UserEvent,
  kind: DisposalKind,
  pieces: readonly LotPiece[],
  proceeds: readonly bigint[],
  costs: readonly bigint[],
): Disposal[] =>
  pieces.map((p, i) => ({
    eventId: e.eventId,
    userId: e.userId,
    asset: e.asset,
    kind,
    piece: i,
    lotId: p.lotId,
    acquiredAt: p.acquiredAt,
    disposedAt: e.eventTime,
    quantity: Decimal.fromUnits(p.quantity, QTY_SCALE),
    proceeds: usdOf(proceeds[i]!),
    costBasis: usdOf(costs[i]!),
    gain: usdOf(proceeds[i]! - costs[i]!),
  }));

/** A realized amount with no lot behind it: a USD fee expensed, or cash that bought no unit. */
const expense = (e: UserEvent, fee: Decimal, kind: DisposalKind = 'expense'): Disposal[] =>
  fee.isZero()
    ? []
    : [
        {
          eventId: e.eventId,
          userId: e.userId,
          asset: e.asset,
          kind,
          piece: 0,
          lotId: '',
          acquiredAt: e.eventTime,
          disposedAt: e.eventTime,
          quantity: Decimal.zero(QTY_SCALE),
          proceeds: Z_U,
          costBasis: fee,
          gain: fee.neg(),
        },
      ];

/** Fee units taken first, at zero proceeds; their cost is `feeCost` (average) or the lots' own. */
const feeRows = (e: UserEvent, pieces: readonly LotPiece[], avgFeeCost: bigint | undefined) => {
  const costs = avgFeeCost === undefined ? pieces.map((p) => p.cost) : allocate(avgFeeCost, pieces);
  return {
    rows: rows(
      e,
      'fee',
      pieces,
      pieces.map(() => 0n),
      costs,
    ),
    cost: costs.reduce((s, c) => s + c, 0n),
  };
};

const sum = (pieces: readonly LotPiece[]): bigint => pieces.reduce((s, p) => s + p.cost, 0n);

/**
 * Apply one event to a position and its lots (neither is changed): the new position, the lots after
 * and the disposal rows the event realized; a rejected event is returned as position.ts rejects it.
 */
export const applyLotEvent = (p: Position, before: LotQueue, e: UserEvent): LotApplied => {
  const r = applyEvent(p, e);
  if (!r.ok) return r;
  // Runs once per event in both layers: no closures, no copies of what did not change (issue 13).
  const avg = before.method === 'average';

  if (e.kind === 'reward') {
    const value = notional(e.quantity, e.price);
    const lots = before.acquire(e.eventId, e.eventTime, e.quantity, avg ? Z_U : value);
    if (avg) return done(r, r.position, lots, r.effect.realized, NO_ROWS);
    return done(r, positionWith(r.position, { costBasis: p.costBasis.add(value) }), lots, Z_U, NO_ROWS);
  }

  const baseFee = e.feeAsset === e.asset ? e.fee.rescale(QTY_SCALE) : Z_Q;
  const usdFee = e.feeAsset === USD ? e.fee.rescale(USD_SCALE) : Z_U;
  const q = e.quantity.rescale(QTY_SCALE);

  switch (e.type) {
    case 'buy':
    case 'deposit': {
      const units = q.sub(baseFee);
      const cost = r.position.costBasis.sub(p.costBasis);
      if (units.isPositive() || avg) {
        return done(r, r.position, before.acquire(e.eventId, e.eventTime, units, cost), r.effect.realized, NO_ROWS);
      }
      // A base fee equal to the quantity leaves no unit to carry the cost: with lots, the cash
      // bought nothing and is realized at once as a loss (a `void` row). Average keeps it pooled.
      return done(
        r,
        positionWith(r.position, { costBasis: p.costBasis, realizedPnl: p.realizedPnl.sub(cost) }),
        before,
        cost.neg(),
        expense(e, cost, 'void'),
      );
    }
    case 'sell':
    case 'card_spend': {
      const c = before.consume(q.add(baseFee));
      const pieces = c.pieces;
      // applyEvent booked realized = proceeds - cost with cost = the average cost removed, so
      // proceeds = realized + (cost basis before - after), exactly, with no second product. Only at
      // the storage scale (a position built at another scale takes the product again).
      const costOut = p.costBasis.sub(r.position.costBasis);
      const derived = r.effect.realized.add(costOut);
      const proceeds = derived.scale === USD_SCALE ? derived : notional(q, e.price).sub(usdFee);
      const costs = avg ? allocate(costOut.rescale(USD_SCALE).units, pieces) : pieces.map((x) => x.cost);
      const out = rows(e, e.type, pieces, allocate(proceeds.units, pieces), costs);
      if (avg) return done(r, r.position, c.lots, r.effect.realized, out);
      const cost = usdOf(sum(pieces));
      const realized = proceeds.sub(cost);
      return done(
        r,
        positionWith(r.position, { costBasis: p.costBasis.sub(cost), realizedPnl: p.realizedPnl.add(realized) }),
        c.lots,
        realized,
        out,
      );
    }
    case 'withdrawal': {
      // Fee units leave first (a disposal at zero proceeds), then the units moved out at cost.
      const avgFee = avg ? -r.effect.realized.rescale(USD_SCALE).units - usdFee.units : undefined;
      const f = before.consume(baseFee);
      const fee = feeRows(e, f.pieces, avgFee);
      const moved = f.lots.consume(q);
      const out = [...fee.rows, ...expense(e, usdFee)];
      if (avg) return done(r, r.position, moved.lots, r.effect.realized, out);
      const realized = usdOf(-fee.cost).sub(usdFee);
      return done(
        r,
        positionWith(r.position, {
          costBasis: p.costBasis.sub(usdOf(fee.cost + sum(moved.pieces))),
          realizedPnl: p.realizedPnl.add(realized),
        }),
        moved.lots,
        realized,
        out,
      );
    }
    case 'stake':
    case 'unstake': {
      const avgFee = avg ? avgCostOut(p, r.position) : undefined;
      const f = before.consume(baseFee);
      const fee = feeRows(e, f.pieces, avgFee);
      const out = [...fee.rows, ...expense(e, usdFee)];
      if (avg) return done(r, r.position, f.lots, r.effect.realized, out);
      const realized = usdOf(-fee.cost).sub(usdFee);
      return done(
        r,
        positionWith(r.position, {
          costBasis: p.costBasis.sub(usdOf(fee.cost)),
          realizedPnl: p.realizedPnl.add(realized),
        }),
        f.lots,
        realized,
        out,
      );
    }
  }
};

const NO_ROWS: Disposal[] = [];

/** The average cost that left the position (USD units): what average-method rows allocate. */
const avgCostOut = (before: Position, after: Position): bigint =>
  before.costBasis.sub(after.costBasis).rescale(USD_SCALE).units;

/** The applied result; rows renumbered by their place (only when they are not already). */
const done = (
  r: Applied & { ok: true },
  position: Position,
  lots: LotQueue,
  realized: Decimal,
  disposals: Disposal[],
): LotApplied => {
  let numbered = true;
  for (let i = 0; i < disposals.length && numbered; i++) numbered = disposals[i]!.piece === i;
  return {
    ok: true,
    position,
    effect: realized === r.effect.realized ? r.effect : { realized, spendUsd: r.effect.spendUsd },
    lots,
    // A fresh array each time (callers may keep or extend it); NO_ROWS is never handed out.
    disposals: numbered
      ? disposals === NO_ROWS
        ? []
        : disposals
      : disposals.map((d, piece) => (d.piece === piece ? d : { ...d, piece })),
  };
};

/** A fresh queue for a position that predates lots: one opening lot holding its units and cost. */
export const openingLots = (p: Position, method: LotQueue['method']): LotQueue =>
  LotQueue.empty(method).acquire(`opening:${p.asset}`, p.lastEventTime, p.quantity, p.costBasis);
