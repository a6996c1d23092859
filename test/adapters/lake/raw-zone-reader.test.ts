import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { holdsNoneOf } from '../../../src/adapters/lake/raw-zone-reader.js';
import { partitionOf } from '../../../src/core/warehouse/shard.js';

const f = (users?: { of: number; partitions: number[] }) => ({ path: 'warehouse/x.parquet', users });

describe('a next-date shard skips the previous files that cannot hold its users', () => {
  it('skips a file only when it is of the same partitioning and none of its partitions is the shard’s', () => {
    const own = new Set([1, 4]);
    expect(holdsNoneOf(f({ of: 6, partitions: [0, 2, 3] }), 6, own)).toBe(true);
    expect(holdsNoneOf(f({ of: 6, partitions: [0, 4] }), 6, own)).toBe(false);
    // Written before the topics were recreated with another partition count: anyone's rows.
    expect(holdsNoneOf(f({ of: 12, partitions: [0, 2] }), 6, own)).toBe(false);
    // A file that does not say whose rows it holds (one-shard build, older ledger).
    expect(holdsNoneOf(f(), 6, own)).toBe(false);
    // A file of no partition holds nobody.
    expect(holdsNoneOf(f({ of: 6, partitions: [] }), 6, own)).toBe(true);
  });

  it('never skips a file holding a user of the shard (random users, partitions and shard sets)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
        (of, ids, mine) => {
          const own = new Set(Array.from({ length: of }, (_, p) => p).filter((p) => mine[p]));
          // A file written by a shard holds the users of its partitions, and says so.
          const parts = [...new Set(ids.map((u) => partitionOf(u, of)))];
          const skipped = holdsNoneOf(f({ of, partitions: parts }), of, own);
          expect(skipped).toBe(!ids.some((u) => own.has(partitionOf(u, of))));
        },
      ),
    );
  });
});
