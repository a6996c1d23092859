/**
 * Which day buckets of a per-user structure a store must rewrite or delete since its last write
 * (the dedup ids' change tracking; the tier window tracks single spends, `TierChanges`). The sets
 * are created on the first change and released by `clear`, so the many users that are quiet between
 * two checkpoints hold none (issue 13: memory per user held); readers see an empty set meanwhile.
 */
const NONE: ReadonlySet<string> = new Set();

export class BucketChanges {
  /** The small always-rewritten part (a head) changed. */
  head = false;
  private touched: Set<string> | undefined;
  private gone: Set<string> | undefined;

  /** Buckets with new or removed entries (YYYY-MM-DD). */
  get days(): ReadonlySet<string> {
    return this.touched ?? NONE;
  }

  /** Buckets dropped whole (delete them from the store). */
  get dropped(): ReadonlySet<string> {
    return this.gone ?? NONE;
  }

  /** A bucket changed (and exists). */
  touch(day: string): void {
    this.touched ??= new Set();
    this.touched.add(day);
    this.gone?.delete(day);
  }

  /** A bucket changed; whether it was dropped before is left as it is. */
  addDay(day: string): void {
    this.touched ??= new Set();
    this.touched.add(day);
  }

  /** A bucket emptied: the store deletes it rather than rewriting it. */
  drop(day: string): void {
    this.touched?.delete(day);
    this.gone ??= new Set();
    this.gone.add(day);
  }

  clear(): void {
    this.head = false;
    this.touched = undefined;
    this.gone = undefined;
  }
}
