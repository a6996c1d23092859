import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CryptolambdaError } from '../../../src/core/errors.js';
import { Decimal, QTY_SCALE, USD_SCALE } from '../../../src/core/money/decimal.js';
import {
  COST_METHODS,
  type CostMethod,
  type LotPiece,
  LotQueue,
  type LotRow,
} from '../../../src/core/portfolio/lots.js';

/**
 * A queue loaded only up to the reach of the day's disposals (LotsAway; the batch's lotHeadsSql
 * picks the same head) must take exactly the pieces the whole queue takes, and its lots held plus
 * the stored lots in its away range must be exactly the whole queue's lots after the day.
 */

const row = (seq: number, q: bigint, c: bigint): LotRow => ({
  lotId: `l${seq}`,
  acquiredAt: 1_000 + seq,
  seq,
  q0: q + 7n,
  c0: c + 3n,
  q,
  c,
});

type Op = { kind: 'buy'; q: bigint; c: bigint } | { kind: 'take'; q: bigint };

const apply = (start: LotQueue, ops: readonly Op[]): { end: LotQueue; pieces: LotPiece[] } => {
  let lots = start;
  const pieces: LotPiece[] = [];
  let n = 0;
  for (const op of ops) {
    if (op.kind === 'buy') {
      lots = lots.acquire(
        `new${n++}`,
        5_000 + n,
        Decimal.fromUnits(op.q, QTY_SCALE),
        Decimal.fromUnits(op.c, USD_SCALE),
      );
    } else {
      const r = lots.consume(Decimal.fromUnits(op.q, QTY_SCALE));
      lots = r.lots;
      pieces.push(...r.pieces);
    }
  }
  return { end: lots, pieces };
};

/** The head the batch loads: in the method's order, each lot whose predecessors hold less than the reach. */
const head = (method: CostMethod, rows: readonly LotRow[], reach: bigint): LotRow[] => {
  if (reach === 0n) return [];
  if (method === 'hifo') return [...rows];
  const order = method === 'lifo' ? [...rows].reverse() : [...rows];
  const out: LotRow[] = [];
  let before = 0n;
  for (const r of order) {
    if (before >= reach) break;
    out.push(r);
    before += r.q;
  }
  return out;
};

const copy = (rows: readonly LotRow[]): LotRow[] => rows.map((r) => ({ ...r }));
const held = (q: LotQueue): LotRow[] => {
  const out: LotRow[] = [];
  q.forEachRow((r) => out.push({ ...r }));
  return out;
};

const opsArb = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('buy' as const), q: fc.bigInt(1n, 50n), c: fc.bigInt(0n, 900n) }),
    fc.record({ kind: fc.constant('take' as const), q: fc.bigInt(0n, 40n) }),
  ),
  { maxLength: 30 },
);

describe('a partly loaded lot queue (LotsAway)', () => {
  it('takes the same pieces and ends with the same lots as the whole queue, every method', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...COST_METHODS),
        fc.array(fc.record({ q: fc.bigInt(1n, 60n), c: fc.bigInt(0n, 1_000n) }), { maxLength: 25 }),
        fc.integer({ min: 0, max: 5 }),
        opsArb,
        (method, stored, gap, ops) => {
          // Stored lots with gaps in their seqs (lots consumed before), the next seq after them.
          const rows = stored.map((s, i) => row(i * 2 + gap, s.q, s.c));
          const nextSeq = rows.length === 0 ? gap : rows[rows.length - 1]!.seq + 1 + gap;
          // Only what the lots can give is taken (the caller checks holdings first).
          let holds = rows.reduce((s, r) => s + r.q, 0n);
          const feasible: Op[] = [];
          for (const op of ops) {
            if (op.kind === 'buy') holds += op.q;
            else if (op.q > holds) continue;
            else holds -= op.q;
            feasible.push(op);
          }
          const reach = feasible.reduce((s, op) => (op.kind === 'take' ? s + op.q : s), 0n);
          const whole = apply(LotQueue.fromRows(method, copy(rows), nextSeq), feasible);
          const loaded = head(method, rows, reach);
          const partial = apply(
            LotQueue.fromRows(method, copy(loaded), nextSeq, rows.length - loaded.length),
            feasible,
          );
          expect(partial.pieces).toEqual(whole.pieces);
          expect(partial.end.size).toBe(whole.end.size);
          expect(partial.end.seq).toBe(whole.end.seq);
          const away = partial.end.away;
          expect(away?.count ?? 0).toBe(rows.length - loaded.length);
          const copied = away === undefined ? [] : rows.filter((r) => r.seq >= away.lo && r.seq <= away.hi);
          expect(copied).toHaveLength(away?.count ?? 0);
          const together = [...held(partial.end), ...copied].sort((a, b) => a.seq - b.seq);
          expect(together).toEqual(held(whole.end).sort((a, b) => a.seq - b.seq));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('refuses a disposal that would reach the lots not loaded, in every method', () => {
    for (const method of COST_METHODS) {
      const rows = [row(0, 10n, 100n), row(1, 10n, 100n), row(2, 10n, 100n)];
      // The head of one lot covers a take of 10; a take of 11 needs a lot that is away.
      const one = method === 'lifo' ? [rows[2]!] : method === 'hifo' ? [] : [rows[0]!];
      const q = LotQueue.fromRows(method, copy(one), 3, 3 - one.length);
      if (method !== 'hifo') expect(q.consume(Decimal.fromUnits(10n, QTY_SCALE)).pieces).toHaveLength(1);
      expect(() => q.consume(Decimal.fromUnits(11n, QTY_SCALE))).toThrow(CryptolambdaError);
      expect(() => q.consume(Decimal.fromUnits(11n, QTY_SCALE))).toThrow(/not loaded/);
    }
  });

  it('under fifo never takes a lot bought today before the stored ones away', () => {
    const q = LotQueue.fromRows('fifo', [], 3, 3).acquire(
      'today',
      9_000,
      Decimal.fromUnits(5n, QTY_SCALE),
      Decimal.fromUnits(50n, USD_SCALE),
    );
    expect(() => q.consume(Decimal.fromUnits(1n, QTY_SCALE))).toThrow(/not loaded/);
    // lifo takes today's lot first: that is its order, the stored lots stay away.
    const l = LotQueue.fromRows('lifo', [], 3, 3).acquire(
      'today',
      9_000,
      Decimal.fromUnits(5n, QTY_SCALE),
      Decimal.fromUnits(50n, USD_SCALE),
    );
    expect(l.consume(Decimal.fromUnits(5n, QTY_SCALE)).pieces.map((p) => p.lotId)).toEqual(['today']);
  });

  it('gives no totals or lot lists that would leave the lots away out', () => {
    const q = LotQueue.fromRows('fifo', [row(0, 10n, 100n)], 2, 1);
    expect(q.size).toBe(2);
    expect(q.away).toEqual({ count: 1, lo: 1, hi: 1 });
    expect(() => q.quantity).toThrow(/partly loaded/);
    expect(() => q.cost).toThrow(/partly loaded/);
    expect(() => q.open()).toThrow(/partly loaded/);
    expect(() => [...q.rows()]).toThrow(/partly loaded/);
    expect(held(q).map((r) => r.seq)).toEqual([0]);
    expect(() => LotQueue.fromRows('hifo', [row(0, 10n, 100n)], 2, 1)).toThrow(/all or none/);
  });
});
