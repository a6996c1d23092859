import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdTimeIndex, idHash } from '../../../src/core/speed/id-index.js';

/**
 * The dedup ids' hash table against a Map on random operation sequences: after every operation the
 * answers (get, delete's result, size, entries, a clone taken midway) must be the Map's. The ids come
 * from a small alphabet so that sequences reuse them (overwrites, deletes of present ids, re-inserts
 * after a delete) and long enough runs grow and shrink the table through several capacities; a few
 * ids are forced into one probe run by sharing their low hash bits, which is where backward-shift
 * deletion can go wrong. Sequences short and long cover both forms (a Map up to 32 ids, the table
 * beyond) and the move from one to the other, a clone of either included.
 */
type Op = { op: 'set'; id: string; t: number } | { op: 'get'; id: string } | { op: 'delete'; id: string };

const idArb = fc.oneof(
  fc.integer({ min: 0, max: 300 }).map((i) => `e-${i}`),
  fc.string({ unit: 'binary', minLength: 0, maxLength: 6 }),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), id: idArb, t: fc.integer({ min: 0 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('get' as const), id: idArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), id: idArb }) },
);

const sorted = (it: Iterable<[string, number]>) => [...it].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

const run = (ops: readonly Op[]) => {
  const ix = new IdTimeIndex();
  const ref = new Map<string, number>();
  let snapshot: { ix: IdTimeIndex; ref: Map<string, number> } | undefined;
  ops.forEach((o, n) => {
    if (o.op === 'set') {
      ix.set(o.id, o.t);
      ref.set(o.id, o.t);
    } else if (o.op === 'get') expect(ix.get(o.id)).toBe(ref.get(o.id));
    else expect(ix.delete(o.id)).toBe(ref.delete(o.id));
    expect(ix.size).toBe(ref.size);
    if (n === Math.floor(ops.length / 2)) snapshot = { ix: ix.clone(), ref: new Map(ref) };
  });
  for (const [id, t] of ref) expect(ix.get(id)).toBe(t);
  expect(sorted(ix.entries())).toEqual(sorted(ref));
  if (snapshot !== undefined) expect(sorted(snapshot.ix.entries())).toEqual(sorted(snapshot.ref));
};

describe('IdTimeIndex (dedup ids) against a Map', () => {
  it('answers as a Map on random sequences', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400 }), (ops) => run(ops)),
      { numRuns: 300 },
    );
  });

  it('grows to thousands of ids and shrinks back, colliding ids included', () => {
    // Ids whose hashes share the low 10 bits land in one probe run at every capacity up to 1024.
    const colliding: string[] = [];
    for (let i = 0; colliding.length < 40; i++) if ((idHash(`c-${i}`) & 1023) === 7) colliding.push(`c-${i}`);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 39 }), { minLength: 20, maxLength: 200 }), (picks) => {
        const ops: Op[] = [];
        for (let i = 0; i < 3000; i++) ops.push({ op: 'set', id: `bulk-${i}`, t: Date.UTC(2026, 0, 1) + i });
        for (const p of picks) ops.push({ op: 'set', id: colliding[p]!, t: p });
        for (const p of picks) ops.push({ op: p % 3 === 0 ? 'get' : 'delete', id: colliding[(p * 7) % 40]! });
        for (let i = 0; i < 3000; i += 2) ops.push({ op: 'delete', id: `bulk-${i}` });
        for (const p of picks) ops.push({ op: 'get', id: colliding[p]! });
        for (let i = 1; i < 3000; i += 2) ops.push({ op: 'delete', id: `bulk-${i}` });
        run(ops);
      }),
      { numRuns: 20 },
    );
  });

  it('hashes are never 0 (the empty-slot mark) and spread sequential ids', () => {
    const slots = new Set<number>();
    for (let i = 0; i < 4096; i++) {
      const h = idHash(`hv-${i}`);
      expect(h).not.toBe(0);
      slots.add(h & 8191);
    }
    // 4096 ids into 8192 slots: a uniform hash fills ~3,220 distinct slots; a poor one far fewer.
    expect(slots.size).toBeGreaterThan(3000);
    expect(idHash('')).not.toBe(0);
  });
});
