import { CryptolambdaError } from '../errors.js';
import { murmur2, partitionFor } from '../partitioning.js';

/**
 * Batch shards by user, with the hash that picks the user's Kafka partition (issue 16): the
 * Java-compatible murmur2 of the user id (kafkajs' DefaultPartitioner, the Java client's
 * Utils.murmur2), so a batch shard is a set of partitions of the user topics and both layers
 * partition users the same way: partition = toPositive(murmur2(userId)) % partitions, shard =
 * partition % shards. Every raw row carries its `_partition`, so a shard's reader filters on it.
 */
// One murmur2 for both layers (core/partitioning.ts, the producer's DefaultPartitioner).
export { murmur2 };

/** The partition the producer sends a user's events to. */
export const partitionOf = (userId: string, partitions: number): number => partitionFor(userId, partitions);

export interface ShardSpec {
  /** 0-based. */
  readonly index: number;
  readonly of: number;
}

export const ONE_SHARD: ShardSpec = { index: 0, of: 1 };

/** Shard of a Kafka partition of the user topics. */
export const shardOfPartition = (partition: number, shards: number): number => partition % shards;

export const shardOfUser = (userId: string, partitions: number, shards: number): number =>
  shardOfPartition(partitionOf(userId, partitions), shards);

/** `i/N` (0-based i, as Kubernetes' JOB_COMPLETION_INDEX and Airflow's map_index). */
export const parseShard = (text: string): ShardSpec => {
  const m = /^(\d{1,4})\/(\d{1,4})$/.exec(text.trim());
  const index = m ? Number(m[1]) : Number.NaN;
  const of = m ? Number(m[2]) : Number.NaN;
  if (!m || of < 1 || index >= of)
    throw new CryptolambdaError(
      'INVALID_ARGUMENT',
      `--shard: expected i/N with 0 <= i < N (e.g. 0/4), got ${JSON.stringify(text)}`,
    );
  return { index, of };
};

export const shardLabel = (s: ShardSpec): string => `${s.index}/${s.of}`;
