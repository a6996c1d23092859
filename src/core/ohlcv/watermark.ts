/**
 * Event-time watermarks with bounded out-of-orderness (the Flink model):
 * a partition's watermark is (max event time seen on it) - outOfOrderness; the stream's watermark is
 * the minimum over partitions that are not idle. A partition with no record for `idleTimeoutMs` of
 * processing time is idle and stops holding the minimum back, until it receives a record again.
 *
 * Processing time is passed in (`now`), never read from a clock, so this stays pure and testable.
 */
export interface WatermarkOptions {
  readonly outOfOrdernessMs: number;
  readonly idleTimeoutMs: number;
}

interface PartitionMark {
  maxEventTime: number;
  lastSeenAt: number;
}

/** No event seen yet anywhere. */
export const NO_WATERMARK = Number.NEGATIVE_INFINITY;

export class WatermarkTracker {
  private readonly parts = new Map<string, PartitionMark>();
  /** Watermarks never go back, even when an idle partition wakes up behind the others. */
  private emitted = NO_WATERMARK;

  constructor(readonly opts: WatermarkOptions) {}

  /** Record an event on a partition at processing time `now`. */
  observe(partition: string, eventTime: number, now: number): void {
    const m = this.parts.get(partition);
    if (m === undefined) this.parts.set(partition, { maxEventTime: eventTime, lastSeenAt: now });
    else {
      if (eventTime > m.maxEventTime) m.maxEventTime = eventTime;
      m.lastSeenAt = now;
    }
  }

  /** Mark a partition as known (e.g. just assigned) without an event: it is idle until it sees one. */
  forget(partition: string): void {
    this.parts.delete(partition);
  }

  partitionWatermark(partition: string): number {
    const m = this.parts.get(partition);
    return m === undefined ? NO_WATERMARK : m.maxEventTime - this.opts.outOfOrdernessMs;
  }

  /** The stream's watermark at processing time `now`: min over active partitions, monotone. */
  current(now: number): number {
    let min = Number.POSITIVE_INFINITY;
    let any = false;
    let maxIdle = NO_WATERMARK;
    for (const m of this.parts.values()) {
      const wm = m.maxEventTime - this.opts.outOfOrdernessMs;
      if (now - m.lastSeenAt >= this.opts.idleTimeoutMs) {
        maxIdle = Math.max(maxIdle, wm);
        continue;
      }
      any = true;
      if (wm < min) min = wm;
    }
    // All partitions idle: the stream has drained, the furthest one bounds the watermark.
    const wm = any ? min : maxIdle;
    if (wm > this.emitted) this.emitted = wm;
    return this.emitted;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.parts].map(([p, m]) => [p, m.maxEventTime]));
  }

  restore(maxEventTimes: Record<string, number>, now: number): void {
    for (const [p, t] of Object.entries(maxEventTimes)) this.parts.set(p, { maxEventTime: t, lastSeenAt: now });
  }
}

export type Lateness = 'on_time' | 'late' | 'too_late';

/**
 * Classify an event against the window it falls in: on time while the watermark has not passed the
 * window end; late (the window re-emits) while watermark < end + allowed lateness; too late after.
 */
export const classify = (windowEnd: number, watermark: number, allowedLatenessMs: number): Lateness =>
  watermark < windowEnd ? 'on_time' : watermark < windowEnd + allowedLatenessMs ? 'late' : 'too_late';

/**
 * The speed layer's published watermarks: each partition n checkpoints its price watermark (max
 * price event time - out-of-orderness) and its users' watermark (event time up to which user events
 * are applied). THE rule every reader applies (`stream status`, the pipeline sensor, serving, the
 * ticker):
 * - price: the minimum over partitions that have one (a partition that never saw a price does not
 *   hold it back): the stream-wide event-time progress of prices, what staleness and completeness
 *   follow;
 * - users: the maximum over partitions (every user event up to it on its partition is applied): the
 *   last event day the serving layer must read from the speed layer.
 */
export interface PartitionMarks {
  readonly partition: number;
  readonly price: number | null;
  readonly users: number | null;
}

export interface StreamWatermarks {
  readonly price: number | null;
  readonly users: number | null;
  readonly partitions: readonly PartitionMarks[];
}

export const streamWatermarks = (partitions: readonly PartitionMarks[]): StreamWatermarks => {
  let price: number | null = null;
  let users: number | null = null;
  for (const p of partitions) {
    if (p.price !== null && (price === null || p.price < price)) price = p.price;
    if (p.users !== null && (users === null || p.users > users)) users = p.users;
  }
  return { price, users, partitions };
};
