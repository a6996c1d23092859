/**
 * The one lateness rule for user events, applied identically by the speed layer (`stream`) and the
 * batch layer (`ingest` stamps it, `batch` applies it), so reconcile stays exact (docs/core.md §5b).
 *
 * The reference of an event is the **high-water mark of its topic partition before it**: the latest
 * event time among the decoded user events at lower offsets of the same topic and partition. It is a
 * function of the log alone (offsets are totally ordered within a partition), never of arrival
 * timing, fetch sizes or how the two user topics interleave, so both layers compute the same value:
 * `stream` as it consumes the partition in offset order, `ingest` as it reads it into the raw zone
 * (the `_hwm_ms` column of each raw user row, and the manifest's `hwm` for the next run).
 *
 * An event whose event time is more than the user lateness before that reference is **TOO_LATE** in
 * both layers: dead-lettered by `stream`, recorded in `batch_rejects` by `batch`, applied by neither.
 * Every other event is applied in (eventTime, eventId) order by both. This is the rule Kafka Streams
 * applies with a grace period over its stream time; here stream time is per topic partition so that
 * it does not depend on the timing of the merge.
 */

/** Default user lateness: an event up to an hour older than its partition's latest is still placed. */
export const DEFAULT_USER_LATENESS_MS = 60 * 60_000;

/** An event is too late when it is more than `latenessMs` before the high-water mark before it. */
export const isTooLate = (eventTime: number, hwmBefore: number | undefined, latenessMs: number): boolean =>
  hwmBefore !== undefined && eventTime < hwmBefore - latenessMs;

/** The dead-letter / batch_rejects reason of a TOO_LATE event. */
export const tooLateReason = (eventTime: number, hwmBefore: number, latenessMs: number, where: string): string =>
  `event time ${new Date(eventTime).toISOString()} is more than the user lateness (${latenessMs / 60_000} min) ` +
  `before ${new Date(hwmBefore).toISOString()}, the latest event time earlier in ${where}`;

/**
 * High-water marks of event time per key (a topic partition), fed in offset order: `next` returns
 * the mark before the event and advances it. O(1) per event.
 */
export class HighWaterMarks {
  private readonly marks = new Map<string, number>();

  constructor(initial: Iterable<readonly [string, number]> = []) {
    for (const [k, v] of initial) this.marks.set(k, v);
  }

  /** The mark before an event of `key` at `eventTime`, then advanced past it. */
  next(key: string, eventTime: number): number | undefined {
    const before = this.marks.get(key);
    if (before === undefined || eventTime > before) this.marks.set(key, eventTime);
    return before;
  }

  get(key: string): number | undefined {
    return this.marks.get(key);
  }

  entries(): IterableIterator<[string, number]> {
    return this.marks.entries();
  }
}
