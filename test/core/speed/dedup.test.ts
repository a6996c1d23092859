import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DedupIds } from '../../../src/core/speed/dedup.js';
import { DAY_MS } from '../../../src/core/time/date.js';

const D0 = Date.UTC(2026, 0, 10);
const H = 3_600_000;

describe('DedupIds listings', () => {
  it('lists an id applied again after it left the window once, at its new time, in list, size and entries', () => {
    const s = new DedupIds(2 * DAY_MS);
    s.add('x', D0);
    s.add('y', D0 + H);
    // The frontier moves two days on: x (at D0) is out of the window, its day bucket still live.
    s.add('z', D0 + 2 * DAY_MS + 30 * 60_000);
    expect(s.has('x')).toBe(false);
    expect(s.has('y')).toBe(true);
    // x again, inside the window: the same bucket now lists it twice.
    s.add('x', D0 + 2 * H);
    // In bucket order (where x was first remembered), at its new time.
    const want: [string, number][] = [
      ['x', D0 + 2 * H],
      ['y', D0 + H],
      ['z', D0 + 2 * DAY_MS + 30 * 60_000],
    ];
    expect(s.list()).toEqual(want);
    expect([...s.entries()]).toEqual(want);
    expect(s.size).toBe(3);
    expect(s.list(2)).toBeUndefined();
    expect(s.list(3)).toEqual(want);
    // The same after a copy and after a reload from its stored buckets.
    expect(s.clone().list()).toEqual(want);
    const reloaded = DedupIds.fromParts(
      2 * DAY_MS,
      s.headToJson(),
      s.bucketKeys().map((k) => [k, s.bucketToJson(k)] as [string, [string, number][]]),
    );
    expect(reloaded.list()).toEqual(want);
  });

  it('reads stored buckets that list an id twice as one id', () => {
    const s = DedupIds.fromParts(2 * DAY_MS, { frontier: D0 + 3 * H, stragglers: [] }, [
      [
        '2026-01-10',
        [
          ['a', D0 + H],
          ['a', D0 + H],
          ['b', D0 + 3 * H],
        ],
      ],
    ]);
    expect(s.list()).toEqual([
      ['a', D0 + H],
      ['b', D0 + 3 * H],
    ]);
    expect(s.size).toBe(2);
  });

  it('remembers, lists and reloads exactly as the rule says, on random arrivals (stragglers, re-applied ids)', () => {
    const W = 2 * DAY_MS;
    /** The rule itself: an applied id is remembered until an event applied after it is more than W later. */
    const reference = () => {
      const applied: { id: string; t: number; maxAfter: number }[] = [];
      return {
        live: () => applied.filter((a) => a.maxAfter <= a.t + W),
        add(id: string, t: number) {
          for (const a of applied) a.maxAfter = Math.max(a.maxAfter, t);
          applied.push({ id, t, maxAfter: Number.NEGATIVE_INFINITY });
        },
      };
    };
    const sorted = (xs: Iterable<readonly [string, number]>) => [...xs].map(([i, t]) => `${i}@${t}`).sort();
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), h: fc.integer({ min: 0, max: 160 }) }),
          {
            maxLength: 80,
          },
        ),
        (ops) => {
          const s = new DedupIds(W);
          const ref = reference();
          for (const { id, h } of ops) {
            const t = D0 + h * H;
            const live = ref.live();
            expect(s.has(id)).toBe(live.some((a) => a.id === id));
            if (!s.has(id)) {
              s.add(id, t);
              ref.add(id, t);
            }
          }
          const want = sorted(ref.live().map((a) => [a.id, a.t] as const));
          expect(sorted(s.list()!)).toEqual(want);
          expect(s.list()).toHaveLength(s.size);
          expect(s.size).toBe(want.length);
          expect(sorted(s.entries())).toEqual(want);
          const [ids, times] = s.columnsUpTo(Number.POSITIVE_INFINITY)!;
          expect(sorted(ids.map((x, i) => [x, times[i]!] as const))).toEqual(want);
          // Reloaded from its buckets, from its columns, or copied: the same ids, and the same answers.
          const reloads = [
            DedupIds.fromParts(
              W,
              s.headToJson(),
              s.bucketKeys().map((k) => [k, s.bucketToJson(k)] as [string, [string, number][]]),
            ),
            DedupIds.fromFrontierColumns(W, s.latest, [[ids, times]]),
            s.clone(),
          ];
          for (const r of reloads) {
            expect(sorted(r.list()!)).toEqual(want);
            for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) expect(r.has(id)).toBe(s.has(id));
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
