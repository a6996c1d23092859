import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal, QTY_SCALE, USD_SCALE } from '../../../src/core/money/decimal.js';
import {
  COST_METHODS,
  type LotJson,
  LotQueue,
  lotChanges,
  lotQueueFromJson,
  lotQueueToJson,
  lotToJson,
} from '../../../src/core/portfolio/lots.js';

/** A store keeping one record per lot, as the speed store does: apply the changes to it. */
const applyChanges = (store: Map<number, LotJson>, prev: LotQueue | undefined, next: LotQueue | undefined) => {
  const c = lotChanges(prev, next);
  for (const seq of c.del) store.delete(seq);
  for (const l of c.put) store.set(l.seq, lotToJson(l));
  return c;
};
const stored = (store: Map<number, LotJson>) => [...store.values()].sort((a, b) => a.seq - b.seq);
const expected = (q: LotQueue | undefined) => (q === undefined ? [] : q.open().map(lotToJson));

type Op = { kind: 'buy'; units: number; cost: number } | { kind: 'sell'; units: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('buy' as const), units: fc.integer({ min: 0, max: 5 }), cost: fc.nat(1000) }),
  fc.record({ kind: fc.constant('sell' as const), units: fc.integer({ min: 1, max: 12 }) }),
);
let id = 0;
const step = (q: LotQueue, o: Op): LotQueue => {
  if (o.kind === 'buy') {
    return q.acquire(
      `e${id++}`,
      id,
      Decimal.fromUnits(BigInt(o.units), QTY_SCALE),
      Decimal.fromUnits(BigInt(o.cost), USD_SCALE),
    );
  }
  const have = q.quantity.units;
  const take = BigInt(o.units) > have ? have : BigInt(o.units);
  return q.consume(Decimal.fromUnits(take, QTY_SCALE)).lots;
};

describe('lotChanges: what a per-lot store writes between two versions of a queue', () => {
  it('turns the stored lots of any version into those of any later or branched version', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...COST_METHODS),
        fc.array(fc.array(op, { maxLength: 30 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.boolean(),
        (method, segments, branchFrom, restored) => {
          // Versions: each segment continues from the latest version or (a re-application) from an
          // older one; the store follows every version in turn.
          const versions: LotQueue[] = [LotQueue.empty(method)];
          const store = new Map<number, LotJson>();
          let written: LotQueue | undefined;
          for (const [i, seg] of segments.entries()) {
            const from =
              i > 0 && branchFrom[i] !== undefined
                ? versions[branchFrom[i]! % versions.length]!
                : versions[versions.length - 1]!;
            // A restored queue shares no records with the versions before it.
            let q = restored && i === 1 ? lotQueueFromJson(lotQueueToJson(from)) : from;
            for (const o of seg) q = step(q, o);
            versions.push(q);
            applyChanges(store, written, q);
            written = q;
            expect(stored(store)).toEqual(expected(q));
          }
          applyChanges(store, written, undefined);
          expect(store.size).toBe(0);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('writes only what changed when a heavy buyer adds one lot (deque and stack)', () => {
    for (const method of ['fifo', 'average', 'lifo'] as const) {
      let q = LotQueue.empty(method);
      for (let i = 0; i < 10_000; i++) q = step(q, { kind: 'buy', units: 2, cost: 7 });
      const next = step(step(q, { kind: 'buy', units: 1, cost: 3 }), { kind: 'sell', units: 1 });
      const c = lotChanges(q, next);
      expect(c.put.length + c.del.length).toBeLessThanOrEqual(2);
    }
  });
});
