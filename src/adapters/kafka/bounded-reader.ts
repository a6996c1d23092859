import type { Consumer } from 'kafkajs';
import type { Config } from '../../config/config.js';
import { createKafka, retryRetriable, toBrokerError, withAdmin } from './client.js';
import { type ConsumedRecord, fetchedRecord } from './consumer.js';

export interface PartitionRange {
  readonly topic: string;
  readonly partition: number;
  /** First offset to read. */
  readonly from: bigint;
  /** Stop before this offset (the high watermark when the read began). */
  readonly to: bigint;
  /**
   * Set when the requested start lies below the log start (retention or deleted records): the
   * offsets [gapFrom, from) are gone. The read itself starts at the log start; the caller decides
   * whether that loss is acceptable.
   */
  readonly gapFrom?: bigint;
}

/** Ranges from `start` offsets (missing = log start) up to each partition's current end. */
export const rangesToEnd = async (
  config: Config,
  topics: readonly string[],
  start: (topic: string, partition: number) => bigint | undefined,
): Promise<PartitionRange[]> =>
  withAdmin(config, async (admin) => {
    const out: PartitionRange[] = [];
    for (const topic of topics) {
      for (const o of await retryRetriable(() => admin.fetchTopicOffsets(topic))) {
        const low = BigInt(o.low);
        const from = start(topic, o.partition) ?? low;
        out.push({
          topic,
          partition: o.partition,
          from: from < low ? low : from,
          to: BigInt(o.high),
          ...(from < low ? { gapFrom: from } : {}),
        });
      }
    }
    return out;
  });

/**
 * Read exactly the given offset ranges once, then stop: the bounded, offset-driven read that a batch
 * ingest needs (Kafka's group offsets are not used; the caller keeps its own). Positions are set with
 * seek when the group assignment arrives; records outside a range are skipped.
 */
export const readRanges = async (
  config: Config,
  groupId: string,
  ranges: readonly PartitionRange[],
  onBatch: (records: ConsumedRecord[], range: PartitionRange) => Promise<void>,
  signal?: AbortSignal,
): Promise<{ records: number; stopped: boolean }> => {
  const pending = ranges.filter((r) => r.to > r.from);
  if (pending.length === 0 || signal?.aborted) return { records: 0, stopped: signal?.aborted === true };
  const byTp = new Map(pending.map((r) => [`${r.topic}|${r.partition}`, r]));
  const next = new Map(pending.map((r) => [`${r.topic}|${r.partition}`, r.from]));
  const remaining = new Set(byTp.keys());
  let records = 0;
  const consumer: Consumer = createKafka(config, { clientIdSuffix: 'reader' }).consumer({
    groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    maxBytesPerPartition: 8 * 1024 * 1024,
  });
  let finish!: () => void;
  let fail!: (e: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    finish = res;
    fail = rej;
  });
  // A stop request ends the read at a batch boundary: the batch in hand completes (disconnect waits
  // for it), no further batch is handed over, and the caller publishes what it got.
  const onAbort = () => finish();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [...new Set(pending.map((r) => r.topic))], fromBeginning: true });
  } catch (err) {
    await consumer.disconnect().catch(() => undefined);
    throw toBrokerError(err, config);
  }
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    for (const [topic, parts] of Object.entries(e.payload.memberAssignment)) {
      for (const p of parts) {
        const n = next.get(`${topic}|${p}`);
        if (n !== undefined) consumer.seek({ topic, partition: p, offset: n.toString() });
      }
    }
  });
  // A retriable crash (e.g. a leader that moved right after topic creation) is restarted by kafkajs
  // and re-joins the group, where GROUP_JOIN seeks again; only a final crash fails the read.
  consumer.on(consumer.events.CRASH, (e) => {
    if (!e.payload.restart) fail(e.payload.error);
  });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, heartbeat }) => {
      if (signal?.aborted) return;
      const key = `${batch.topic}|${batch.partition}`;
      const range = byTp.get(key);
      if (!range || !remaining.has(key)) return;
      const expected = next.get(key)!;
      const out: ConsumedRecord[] = [];
      for (const m of batch.messages) {
        const off = BigInt(m.offset);
        if (off < expected || off >= range.to) continue;
        out.push(fetchedRecord(batch.topic, batch.partition, m));
      }
      if (out.length > 0) {
        if (BigInt(out[0]!.offset) > expected && expected >= range.from) {
          // Fetched past where we must start (seek not yet applied): rewind and drop this batch.
          consumer.seek({ topic: batch.topic, partition: batch.partition, offset: expected.toString() });
          return;
        }
        await onBatch(out, range);
        records += out.length;
        next.set(key, BigInt(out[out.length - 1]!.offset) + 1n);
      }
      // Transaction markers and compacted gaps mean the last offset may be below `to`; the batch's
      // own last offset tells how far the log has been read.
      const lastInBatch = batch.messages.length ? BigInt(batch.lastOffset()) + 1n : expected;
      if ((next.get(key) ?? expected) >= range.to || lastInBatch >= range.to) {
        remaining.delete(key);
        if (remaining.size === 0) finish();
      }
      await heartbeat();
    },
  });
  try {
    await done;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => undefined);
  }
  return { records, stopped: remaining.size > 0 };
};
