import { access } from 'node:fs/promises';
import path from 'node:path';
import { encodeReward, encodeTransaction } from '../../adapters/avro/codec.js';
import { readLines } from '../../adapters/files/lines.js';
import { ensureTopics, withAdmin } from '../../adapters/kafka/client.js';
import { BatchingProducer, type BatchingProducerOptions } from '../../adapters/kafka/producer.js';
import type { Config } from '../../config/config.js';
import { CryptolambdaError } from '../../core/errors.js';
import type { RewardEvent, TransactionEvent } from '../../core/events/types.js';
import { userPartition } from '../../core/partitioning.js';
import { reasonClass } from '../../core/sources/binance-csv.js';
import {
  csvHeader,
  detectFormat,
  type ImportFormat,
  type ImportRow,
  type ImportTable,
  parseCsvLine,
  parseJsonLine,
} from '../../core/sources/import-rows.js';
import { HighWaterMarks, isTooLate } from '../../core/time/lateness.js';
import { TOPICS, topicName } from '../../core/topics.js';
import { DeadLetterSink } from './dead-letter.js';

export interface ProduceImportOptions {
  readonly table: ImportTable;
  readonly file: string;
  readonly signal?: AbortSignal;
  readonly producer?: BatchingProducerOptions;
  /** Records accepted but not acknowledged beyond which the reader waits for Kafka (bounded memory). */
  readonly maxUnacked?: number;
}

export interface ProduceImportResult {
  readonly table: ImportTable;
  readonly file: string;
  readonly format: ImportFormat;
  readonly topic: string;
  readonly deadLetterTopic: string;
  readonly rows: number;
  readonly produced: number;
  readonly deadLettered: number;
  readonly users: number;
  readonly firstEventTime: number | null;
  readonly lastEventTime: number | null;
  /**
   * Produced rows more than `speed.userLateness` before an earlier row of the same partition in this
   * file: both layers will reject them as TOO_LATE (core/time/lateness.ts); a file sorted by user
   * instead of by time does this.
   */
  readonly tooLate: number;
  /** Dead-lettered rows grouped by what was wrong, most frequent first. */
  readonly rejections: { readonly reason: string; readonly count: number }[];
  readonly durationMs: number;
  readonly stoppedBy: 'end-of-input' | 'signal';
}

/**
 * `produce transactions|rewards --file F`: an export of the platform's own events, streamed row by
 * row into raw.transactions / raw.rewards keyed by user id (so each user's events keep their order
 * in one partition) through the same idempotent BatchingProducer as every other producer. Invalid
 * rows go to the dlq with the reason and `file:line`; nothing is dropped silently.
 */
export const runProduceImport = async (config: Config, o: ProduceImportOptions): Promise<ProduceImportResult> => {
  await access(o.file).catch(() => {
    throw new CryptolambdaError('NOT_FOUND', `cannot read ${o.file}`);
  });
  const topicKey = o.table === 'transactions' ? 'transactions' : 'rewards';
  const topic = topicName(config.topicPrefix, topicKey);
  await withAdmin(config, (a) => ensureTopics(a, config.topicPrefix, [TOPICS[topicKey], TOPICS.deadLetter]));
  const producer = await BatchingProducer.connect(config, o.producer);
  const dlq = new DeadLetterSink(producer, config);
  const base = path.basename(o.file);
  const t0 = performance.now();
  const maxUnacked = o.maxUnacked ?? 100_000;
  const rejected = new Map<string, number>();
  const users = new Set<string>();
  let format: ImportFormat | undefined;
  let header: string[] | undefined;
  let rows = 0;
  let produced = 0;
  let first: number | null = null;
  let last: number | null = null;
  let lineNo = 0;
  let stoppedBy: ProduceImportResult['stoppedBy'] = 'end-of-input';
  // The lateness rule's marks per partition, as the stream and ingest will compute them (this file's rows only).
  const marks = new HighWaterMarks();
  let tooLate = 0;
  const reject = async (reason: string, line: string): Promise<void> => {
    const why = reasonClass(reason);
    rejected.set(why, (rejected.get(why) ?? 0) + 1);
    await dlq.send({ source: `import:${o.table}`, reason, payload: line, key: `${base}:${lineNo}` });
  };
  let failure: unknown;
  try {
    for await (const line of readLines(o.file)) {
      if (o.signal?.aborted) {
        stoppedBy = 'signal';
        break;
      }
      lineNo++;
      if (format === undefined) {
        if (line.trim() === '') continue;
        format = detectFormat(o.file, line);
        if (format === 'csv') {
          const h = csvHeader(o.table, line.replace(/^\uFEFF/, ''));
          // Without a usable header no row can be read: refuse the file instead of dead-lettering it all.
          if (typeof h === 'string') throw new CryptolambdaError('INVALID_ARGUMENT', `${base}:${lineNo}: ${h}`);
          header = h;
          continue;
        }
      }
      const row: ImportRow<ImportTable> =
        format === 'csv' ? parseCsvLine(o.table, header!, line) : parseJsonLine(o.table, line);
      if (row.kind === 'skip') continue;
      rows++;
      if (row.kind === 'bad') {
        await reject(row.reason, line);
        continue;
      }
      const e = row.event;
      const value =
        e.kind === 'transaction' ? encodeTransaction(e as TransactionEvent) : encodeReward(e as RewardEvent);
      await producer.push(topic, [{ key: e.userId, value }]);
      produced++;
      const p = String(userPartition(e.userId));
      if (isTooLate(e.eventTime, marks.next(p, e.eventTime), config.speed.userLateness)) tooLate++;
      users.add(e.userId);
      first = first === null ? e.eventTime : Math.min(first, e.eventTime);
      last = last === null ? e.eventTime : Math.max(last, e.eventTime);
      if (producer.stats.accepted - producer.stats.acked >= maxUnacked) await producer.flush();
    }
  } catch (err) {
    failure = err;
  }
  try {
    await producer.disconnect();
  } catch (err) {
    failure ??= err;
  }
  if (failure) throw failure;
  return {
    table: o.table,
    file: o.file,
    format: format ?? 'jsonl',
    topic,
    deadLetterTopic: dlq.topic,
    rows,
    produced,
    deadLettered: dlq.stats.total,
    users: users.size,
    firstEventTime: first,
    lastEventTime: last,
    tooLate,
    rejections: [...rejected].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count),
    durationMs: Math.round(performance.now() - t0),
    stoppedBy,
  };
};

const n = (x: number): string => x.toLocaleString('en-US');

export const formatImportSummary = (r: ProduceImportResult): string[] => [
  `${n(r.produced)} of ${n(r.rows)} ${r.table} rows from ${path.basename(r.file)} (${r.format}) → ${r.topic}, ${n(r.users)} users`,
  `${n(r.deadLettered)} dead-lettered → ${r.deadLetterTopic}; ${(r.durationMs / 1000).toFixed(1)} s, stopped by ${r.stoppedBy}`,
  ...(r.tooLate > 0
    ? [
        `warning: ${n(r.tooLate)} rows are more than speed.userLateness behind an earlier row of their partition in this file: ` +
          'both layers will reject them as TOO_LATE (docs/core.md §5b); produce the file sorted by event time',
      ]
    : []),
  ...(r.rejections.length ? ['dead-lettered by reason:'] : []),
  ...r.rejections.map((x) => `${n(x.count).padStart(10)}  ${x.reason}`),
];
