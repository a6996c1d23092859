import fc from 'fast-check';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { assignPartitions, murmur2, parseShard, partitionOf, shardOfUser } from '../../../src/core/warehouse/shard.js';

// The producer's own partitioner (kafkajs DefaultPartitioner = Java client's murmur2).
const kafkaPartition = (key: string, partitions: number): number =>
  Partitioners.DefaultPartitioner()({
    topic: 't',
    partitionMetadata: Array.from({ length: partitions }, (_, i) => ({
      partitionId: i,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    })),
    message: { key, value: null },
  });

describe('user shards follow the producer partitioning', () => {
  it('partitionOf equals kafkajs DefaultPartitioner for any key and partition count', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 1, max: 64 }), (key, n) => {
        expect(partitionOf(key, n)).toBe(kafkaPartition(key, n));
      }),
      { numRuns: 400 },
    );
    for (const k of ['u0000001', 'alice', 'sim-1-u42', '', 'é€😀'])
      expect(partitionOf(k, 12)).toBe(kafkaPartition(k, 12));
  });

  it('matches Kafka Java Utils.murmur2 test vectors', () => {
    // From the Java client's UtilsTest.testMurmur2.
    expect(murmur2('21')).toBe(-973932308);
    expect(murmur2('foobar')).toBe(-790332482);
    expect(murmur2('a-little-bit-long-string')).toBe(-985981536);
    expect(murmur2('a-little-bit-longer-string')).toBe(-1486304829);
    expect(murmur2('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8')).toBe(-58897971);
    expect(murmur2('abc')).toBe(479470107);
  });

  it('assignPartitions balances the partitions on their loads, deterministically, every partition once', () => {
    // The bench's ten partitions (events of a 1M-user day): mod 2 put 58% in one shard.
    const loads = [656, 898, 881, 587, 1561, 553, 681, 800, 1202, 806];
    const plan = assignPartitions(loads, 2);
    const sums = [0, 1].map((s) => loads.reduce((a, l, p) => a + (plan[p] === s ? l : 0), 0));
    expect(Math.max(...sums) / (sums[0]! + sums[1]!)).toBeLessThan(0.52);
    expect(plan).toEqual(assignPartitions([...loads], 2));
    // Unknown loads (zero) or equal ones: partition mod shards.
    expect(assignPartitions(new Array(12).fill(0), 4)).toEqual([...Array(12).keys()].map((p) => p % 4));
    expect(assignPartitions(new Array(6).fill(7), 3)).toEqual([0, 1, 2, 0, 1, 2]);
    // Greedy's bound, on random loads: the largest shard at most the mean plus one partition.
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1e6 }), { minLength: 1, maxLength: 48 }),
        fc.integer({ min: 1, max: 8 }),
        (ls, n) => {
          const pl = assignPartitions(ls, n);
          expect(pl).toHaveLength(ls.length);
          expect(pl.every((s) => Number.isInteger(s) && s >= 0 && s < n)).toBe(true);
          const per = [...Array(n).keys()].map((s) => ls.reduce((a, l, p) => a + (pl[p] === s ? l : 0), 0));
          expect(Math.max(...per)).toBeLessThanOrEqual(ls.reduce((a, b) => a + b, 0) / n + Math.max(...ls) + 1e-9);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a shard is a set of partitions; parseShard checks i/N', () => {
    expect(shardOfUser('alice', 12, 4)).toBe(partitionOf('alice', 12) % 4);
    const plan = assignPartitions(
      [...Array(12).keys()].map((p) => (p === 3 ? 100 : 1)),
      4,
    );
    expect(shardOfUser('alice', 12, 4, plan)).toBe(plan[partitionOf('alice', 12)]);
    expect(parseShard('3/4')).toEqual({ index: 3, of: 4 });
    expect(() => parseShard('4/4')).toThrow(/0 <= i < N/);
    expect(() => parseShard('x')).toThrow(/expected i\/N/);
  });
});
