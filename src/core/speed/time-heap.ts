/**
 * A min-heap of [event time, key] ordered by time, then key: the one priority queue of the speed
 * core (tier expiries and folds per user in the engine, dedup stragglers). Entries may go stale;
 * callers check an entry against their state when they pop it (lazy deletion), so updates are
 * O(log n) pushes instead of searches.
 */
export class TimeHeap {
  private readonly h: [number, string][] = [];

  get size(): number {
    return this.h.length;
  }

  /** The earliest entry (undefined when empty). */
  peek(): readonly [number, string] | undefined {
    return this.h[0];
  }

  push(t: number, key: string): void {
    const h = this.h;
    h.push([t, key]);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  pop(): [number, string] {
    const h = this.h;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

const before = (a: readonly [number, string], b: readonly [number, string]): boolean =>
  a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
