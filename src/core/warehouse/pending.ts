/**
 * Which dates the batch must (re)build, derived from the raw-zone manifest and the warehouse
 * ledger alone (no extra state that could disagree with them after a crash):
 *
 * - a date is **unbuilt** when the raw zone has files for it and the ledger no build;
 * - a built date is **stale** when a raw file dated on or before it was published after its build
 *   (file.commit > build.rawCommit): late events landed in its partition, or in an earlier one
 *   whose end state it carries forward (so rebuilding the earlier date alone does not make it
 *   current again);
 * - **rebuild** lists unbuilt and stale dates in date order, the order that lets each start from
 *   the snapshot of the one before.
 *
 * Compaction keeps the newest input commit on the merged file, so it never makes a date stale.
 */
export interface RawFileRef {
  readonly dt: string;
  readonly commit: number;
}

export interface BuildRef {
  readonly date: string;
  readonly rawCommit: number;
}

export interface PendingDates {
  readonly unbuilt: string[];
  readonly stale: string[];
  /** Every date to build or rebuild, oldest first: unbuilt dates and built dates from the earliest stale one on. */
  readonly rebuild: string[];
}

export const pendingDates = (files: readonly RawFileRef[], builds: readonly BuildRef[]): PendingDates => {
  const dates = new Set(files.map((f) => f.dt));
  const built = new Set(builds.map((b) => b.date));
  const unbuilt = [...dates].filter((d) => !built.has(d)).sort();
  const stale = builds
    .filter((b) => !carryForwardValid(files, b))
    .map((b) => b.date)
    .sort();
  return { unbuilt, stale, rebuild: [...new Set([...unbuilt, ...stale])].sort() };
};

/**
 * Whether the build of `prev` is current: no raw file dated on or before `prev` was published after
 * it (otherwise its end state misses late events). Also decides whether the next date may start
 * from its snapshot.
 */
export const carryForwardValid = (files: readonly RawFileRef[], prev: BuildRef): boolean =>
  files.every((f) => f.dt > prev.date || f.commit <= prev.rawCommit);

// A real calendar date or undefined; from..to inclusive; the day before: the one UTC date module.
export { dateRange, previousDate, tryParseDate as parseDate } from '../time/date.js';
