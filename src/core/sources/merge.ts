/**
 * k-way merge of sorted async sources by a numeric key, streamed: one pending item per source in a
 * binary min-heap, so memory is O(k) and each item costs O(log k) whatever the file sizes. Ties go
 * to the lower source index (argument order), which keeps the merge deterministic.
 *
 * Items for which `keyOf` returns undefined (rejects, which carry no event time) are passed
 * through as soon as they are read, so nothing waits behind them and nothing is lost.
 */
export async function* mergeByKey<T>(
  sources: readonly AsyncIterator<T>[],
  keyOf: (item: T) => number | undefined,
): AsyncGenerator<T> {
  interface Head {
    readonly key: number;
    readonly src: number;
    readonly item: T;
  }
  const heap: Head[] = [];
  const less = (a: Head, b: Head): boolean => a.key < b.key || (a.key === b.key && a.src < b.src);
  const push = (h: Head): void => {
    heap.push(h);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const pop = (): Head => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  };
  /** Read source `src` up to its next keyed item; unkeyed items are returned to be yielded now. */
  const advance = async (src: number, out: T[]): Promise<void> => {
    for (;;) {
      const r = await sources[src]!.next();
      if (r.done) return;
      const key = keyOf(r.value);
      if (key === undefined) {
        out.push(r.value);
        continue;
      }
      push({ key, src, item: r.value });
      return;
    }
  };
  try {
    const passed: T[] = [];
    for (let s = 0; s < sources.length; s++) await advance(s, passed);
    yield* passed;
    while (heap.length > 0) {
      const top = pop();
      yield top.item;
      const more: T[] = [];
      await advance(top.src, more);
      yield* more;
    }
  } finally {
    // Stopped early (count reached, signal): close every source (files, zip readers).
    await Promise.all(sources.map((s) => s.return?.(undefined)));
  }
}
