import { decodeRecord } from '../../adapters/avro/codec.js';
import { privateDirs } from '../../adapters/files/private.js';
import { BatchingProducer } from '../../adapters/kafka/producer.js';
import type { Config } from '../../config/config.js';
import { type CompactResult, compactRawZone, type IngestProgress, type IngestResult, runIngest } from '../ingest.js';
import { DeadLetterSink } from '../produce/dead-letter.js';
import { ingestLockPath, withLakeLock } from './lake-lock.js';

/**
 * `ingest`: the production raw-zone ingest. Records are decoded as Avro single-object events and
 * validated by core (codec.decodeRecord); anything that fails goes to the dead-letter topic with the
 * reason and its topic/partition/offset, never dropped. The dead letters are flushed (acks=all)
 * before the manifest commit that moves the offsets past them, so a crash can repeat a dead letter
 * but never lose one.
 */
export interface IngestRawOptions {
  readonly compact?: boolean;
  readonly onProgress?: (p: IngestProgress) => void;
  readonly rowsPerCommit?: number;
  /** Test hook, as in runIngest. */
  readonly beforePublish?: () => Promise<void>;
  /** Record offsets gone from Kafka as a gap in the manifest instead of failing (DATA_GAP). */
  readonly acceptGap?: boolean;
  /** SIGINT/SIGTERM: commit what was read, then stop (StoppedError); see IngestOptions.signal. */
  readonly signal?: AbortSignal;
  /** Drain topics whose partition count breaks the contract (repartitioning, step 2). */
  readonly anyPartitionCount?: boolean;
}

export interface IngestRawResult extends IngestResult {
  readonly deadLetters: number;
  readonly compaction?: CompactResult;
}

export const runIngestRaw = (config: Config, opts: IngestRawOptions = {}): Promise<IngestRawResult> =>
  withLakeLock(ingestLockPath(config.lakeDir), 'ingest', 'ingest', () => ingestLocked(config, opts));

const ingestLocked = async (config: Config, opts: IngestRawOptions): Promise<IngestRawResult> => {
  await privateDirs([config.lakeDir]);
  const producer = await BatchingProducer.connect(config);
  try {
    const dlq = new DeadLetterSink(producer, config);
    const r = await runIngest(config, {
      decode: (table, value) => decodeRecord(table, value),
      onReject: (rec, reason) =>
        dlq.send({
          source: `ingest:${rec.topic}`,
          reason,
          payload: rec.value ?? Buffer.alloc(0),
          key: `${rec.topic}[${rec.partition}]@${rec.offset}`,
        }),
      beforePublish: async () => {
        await producer.flush();
        await opts.beforePublish?.();
      },
      ...(opts.onProgress === undefined ? {} : { progress: opts.onProgress }),
      ...(opts.rowsPerCommit === undefined ? {} : { rowsPerCommit: opts.rowsPerCommit }),
      ...(opts.acceptGap ? { acceptGap: true } : {}),
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      ...(opts.anyPartitionCount ? { anyPartitionCount: true } : {}),
    });
    await producer.flush();
    const compaction = opts.compact ? await compactRawZone(config) : undefined;
    return { ...r, deadLetters: dlq.stats.total, ...(compaction === undefined ? {} : { compaction }) };
  } finally {
    await producer.disconnect();
  }
};
