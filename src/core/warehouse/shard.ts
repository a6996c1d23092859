import { CryptolambdaError } from '../errors.js';
import { murmur2, partitionFor } from '../partitioning.js';

/**
 * Batch shards by user, with the hash that picks the user's Kafka partition (issue 16): the
 * Java-compatible murmur2 of the user id (kafkajs' DefaultPartitioner, the Java client's
 * Utils.murmur2), so a batch shard is a set of partitions of the user topics and both layers
 * partition users the same way: partition = toPositive(murmur2(userId)) % partitions, and each
 * partition goes to one shard by a plan balanced on the partitions' events (`assignPartitions`;
 * partition % shards when nothing says how many events a partition holds). Every raw row carries
 * its `_partition`, so a shard's reader filters on it.
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

/**
 * Shard of each partition of the user topics (index = partition): partitions of a plan by load.
 * Every shard process derives the same plan from the same raw-zone commit and starting point,
 * which `batch publish` checks are the same for every shard.
 */
export type PartitionPlan = readonly number[];

/**
 * The partitions over `shards` shards balanced on their load (the events each holds): heaviest
 * first, each to the shard with the least load so far, then the fewest partitions, then the lowest
 * index (LPT scheduling: the largest shard is within 4/3 of the best possible). A user cannot be
 * split, so a platform's heaviest users weigh on their partitions: on the bench's day (1M users,
 * a heavy user with 10% of the events, ten partitions), partition mod 2 put the two heaviest
 * partitions in one shard, 58% of the events, and the day waited for it; this plan gives 52%. All
 * loads equal (or unknown: zero) give partition mod shards.
 */
export const assignPartitions = (loads: readonly number[], shards: number): number[] => {
  const order = loads.map((_, p) => p).sort((a, b) => loads[b]! - loads[a]! || a - b);
  const load = new Array<number>(shards).fill(0);
  const count = new Array<number>(shards).fill(0);
  const plan = new Array<number>(loads.length).fill(0);
  for (const p of order) {
    let best = 0;
    for (let s = 1; s < shards; s++)
      if (load[s]! < load[best]! || (load[s] === load[best] && count[s]! < count[best]!)) best = s;
    plan[p] = best;
    load[best] = load[best]! + loads[p]!;
    count[best] = count[best]! + 1;
  }
  return plan;
};

/** Shard of a Kafka partition of the user topics: by the plan, or partition % shards without one. */
export const shardOfPartition = (partition: number, shards: number, plan?: PartitionPlan): number =>
  plan?.[partition] ?? partition % shards;

export const shardOfUser = (userId: string, partitions: number, shards: number, plan?: PartitionPlan): number =>
  shardOfPartition(partitionOf(userId, partitions), shards, plan);

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
