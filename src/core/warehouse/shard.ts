import { CryptolambdaError } from '../errors.js';

/**
 * Batch shards by user, with the hash that picks the user's Kafka partition (issue 16): the
 * Java-compatible murmur2 of the user id (kafkajs' DefaultPartitioner, the Java client's
 * Utils.murmur2), so a batch shard is a set of partitions of the user topics and both layers
 * partition users the same way: partition = toPositive(murmur2(userId)) % partitions, shard =
 * partition % shards. Every raw row carries its `_partition`, so a shard's reader filters on it.
 */
const M = 0x5bd1e995;
const SEED = 0x9747b28c;
const encoder = new TextEncoder();

/** murmur2 of the UTF-8 bytes, as a signed 32-bit int (equal to Kafka's Utils.murmur2). */
export const murmur2 = (key: string): number => {
  const data = encoder.encode(key);
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & ~3;
  // The tail bytes fold in as the Java switch's fall-through does.
  const rest = length % 4;
  if (rest >= 3) h ^= data[tail + 2]! << 16;
  if (rest >= 2) h ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    h ^= data[tail]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
};

/** The partition the producer sends a user's events to. */
export const partitionOf = (userId: string, partitions: number): number => (murmur2(userId) & 0x7fffffff) % partitions;

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
