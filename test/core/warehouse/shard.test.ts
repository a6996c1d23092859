import fc from 'fast-check';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { murmur2, parseShard, partitionOf, shardOfUser } from '../../../src/core/warehouse/shard.js';

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

  it('a shard is a set of partitions; parseShard checks i/N', () => {
    expect(shardOfUser('alice', 12, 4)).toBe(partitionOf('alice', 12) % 4);
    expect(parseShard('3/4')).toEqual({ index: 3, of: 4 });
    expect(() => parseShard('4/4')).toThrow(/0 <= i < N/);
    expect(() => parseShard('x')).toThrow(/expected i\/N/);
  });
});
