import { describe, expect, it } from 'vitest';
import { mergeByKey } from '../../../src/core/sources/merge.js';

async function* from<T>(items: T[], log?: string[], name = ''): AsyncGenerator<T> {
  for (const i of items) {
    log?.push(`${name}${String(i)}`);
    yield i;
  }
}

const all = async <T>(g: AsyncGenerator<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of g) out.push(x);
  return out;
};

describe('mergeByKey', () => {
  it('merges sorted sources by key, ties in argument order', async () => {
    const a = from([1, 4, 4, 9]);
    const b = from([2, 4, 5]);
    const c = from<number>([]);
    const d = from([0, 10]);
    expect(await all(mergeByKey([a, b, c, d], (x) => x))).toEqual([0, 1, 2, 4, 4, 4, 5, 9, 10]);
  });

  it('passes unkeyed items (rejects) through without holding them back', async () => {
    const a = from(['r1', 3, 'r2', 5] as (string | number)[]);
    const b = from([1, 'r3', 4] as (string | number)[]);
    const out = await all(mergeByKey([a, b], (x) => (typeof x === 'number' ? x : undefined)));
    expect(out.filter((x) => typeof x === 'number')).toEqual([1, 3, 4, 5]);
    expect(out.filter((x) => typeof x === 'string').sort()).toEqual(['r1', 'r2', 'r3']);
  });

  it('streams: reads one item ahead per source, never a whole source', async () => {
    const log: string[] = [];
    const g = mergeByKey([from([1, 3, 5, 7], log, 'a'), from([2, 4, 6, 8], log, 'b')], (x) => x);
    expect((await g.next()).value).toBe(1);
    expect(log).toEqual(['a1', 'b2']);
    await g.return(undefined);
  });

  it('a 1,000-source merge of 100k items stays sorted', async () => {
    const sources = Array.from({ length: 1000 }, (_, s) => from(Array.from({ length: 100 }, (_, i) => i * 1000 + s)));
    const out = await all(mergeByKey(sources, (x) => x));
    expect(out).toHaveLength(100_000);
    expect(out.every((x, i) => i === 0 || out[i - 1]! <= x)).toBe(true);
  });
});
