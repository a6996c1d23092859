import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionFor, userPartition } from '../../src/core/partitioning.js';
import { prng } from '../support/events.js';

// kafkajs's own murmur2: the function its DefaultPartitioner (our producers') places keys with.
const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (
  key: string,
) => number;

describe('murmur2 partitioning (readers find the partition the producer chose)', () => {
  it('equals kafkajs DefaultPartitioner hashing on random keys of every length', () => {
    const rnd = prng(5);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-é';
    for (let i = 0; i < 5000; i++) {
      const len = rnd() % 70;
      let key = '';
      for (let j = 0; j < len; j++) key += alphabet[rnd() % alphabet.length];
      expect(murmur2(key), key).toBe(kafkajsMurmur2(key));
    }
  });

  it('matches the Java client on known keys', () => {
    // org.apache.kafka.common.utils.Utils.murmur2 test vectors (toPositive(h) % 6 as well).
    expect(murmur2('21')).toBe(-973932308);
    expect(murmur2('foobar')).toBe(-790332482);
    expect(murmur2('a-little-bit-long-string')).toBe(-985981536);
    expect(partitionFor('user-1', 6)).toBe(userPartition('user-1'));
  });
});
