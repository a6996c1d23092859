import { TOPICS } from './topics.js';

/**
 * Kafka's default key partitioning (Java client and kafkajs DefaultPartitioner): the 32-bit murmur2
 * of the key's UTF-8 bytes, made positive with `& 0x7fffffff`, modulo the partition count. Readers
 * use it to find which partition (and so which Redis Cluster hash tag) holds a user or a symbol,
 * without asking Kafka.
 */
export const murmur2 = (key: string): number => {
  const data = Buffer.from(key, 'utf8');
  const m = 0x5bd1e995;
  const len = data.length;
  let h = (0x9747b28c ^ len) | 0;
  const len4 = len & ~3;
  for (let i = 0; i < len4; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = len & 3;
  if (rest === 3) h ^= data[len4 + 2]! << 16;
  if (rest >= 2) h ^= data[len4 + 1]! << 8;
  if (rest >= 1) {
    h ^= data[len4]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
};

export const partitionFor = (key: string, partitions: number): number => (murmur2(key) & 0x7fffffff) % partitions;

/** The partition of raw.transactions / raw.rewards (keyed by user id) that holds a user. */
export const userPartition = (userId: string): number => partitionFor(userId, TOPICS.transactions.partitions);

/** The partition of raw.prices (keyed by symbol) that holds a symbol. */
export const symbolPartition = (symbol: string): number => partitionFor(symbol, TOPICS.prices.partitions);

/** Every partition number of the speed layer's sharding (the three input topics share the count). */
export const SPEED_PARTITIONS: readonly number[] = Array.from({ length: TOPICS.prices.partitions }, (_, i) => i);
