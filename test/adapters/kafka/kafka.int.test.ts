import { describe, expect, it } from 'vitest';
import { ensureTopics, withAdmin } from '../../../src/adapters/kafka/client.js';
import { type ConsumedRecord, runConsumer } from '../../../src/adapters/kafka/consumer.js';
import { BatchingProducer } from '../../../src/adapters/kafka/producer.js';
import { CryptolambdaError } from '../../../src/core/errors.js';
import { ALL_TOPICS, TOPICS, topicName } from '../../../src/core/topics.js';
import { cleanupTopicsAfter, randomId, testConfig } from '../../support/int.js';

const consumeUntil = async (
  config: ReturnType<typeof testConfig>,
  topic: string,
  n: number,
): Promise<ConsumedRecord[]> => {
  const got: ConsumedRecord[] = [];
  let done!: () => void;
  const all = new Promise<void>((r) => {
    done = r;
  });
  const consumer = await runConsumer(config, {
    groupId: `test-${randomId()}`,
    topics: [topic],
    fromBeginning: true,
    onBatch: async (records) => {
      got.push(...records);
      if (got.length >= n) done();
    },
  });
  try {
    await all;
  } finally {
    await consumer.disconnect();
  }
  return got;
};

describe('kafka adapters on the real broker', () => {
  it('creates the topics with their explicit partition counts, idempotently', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    const first = await withAdmin(config, (a) => ensureTopics(a, config.topicPrefix));
    expect(first.created.sort()).toEqual(ALL_TOPICS.map((t) => `${config.topicPrefix}${t.name}`).sort());
    const second = await withAdmin(config, (a) => ensureTopics(a, config.topicPrefix));
    expect(second.created).toEqual([]);
    expect(second.existing).toHaveLength(ALL_TOPICS.length);
    const meta = await withAdmin(config, (a) =>
      a.fetchTopicMetadata({ topics: [topicName(config.topicPrefix, 'prices')] }),
    );
    expect(meta.topics[0]!.partitions).toHaveLength(TOPICS.prices.partitions);
  });

  it('round-trips keyed records: nothing lost, one partition per key, order kept per key', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    await withAdmin(config, (a) => ensureTopics(a, config.topicPrefix, [TOPICS.transactions]));
    const topic = topicName(config.topicPrefix, 'transactions');
    const producer = await BatchingProducer.connect(config, { maxBatch: 100, lingerMs: 2 });
    const users = ['u1', 'u2', 'u3', 'u4', 'u5'];
    const n = 2500;
    for (let i = 0; i < n; i++) {
      await producer.push(topic, [
        { key: users[i % users.length]!, value: Buffer.from(`${i}`), headers: { seq: `${i}` } },
      ]);
    }
    await producer.flush();
    expect(producer.stats.accepted).toBe(n);
    expect(producer.stats.acked).toBe(n);
    expect(producer.stats.batches).toBeGreaterThanOrEqual(n / 100);
    await producer.disconnect();

    const got = await consumeUntil(config, topic, n);
    expect(got).toHaveLength(n);
    const partitionOf = new Map<string, number>();
    const last = new Map<string, number>();
    for (const r of got) {
      const key = r.key!;
      expect(partitionOf.get(key) ?? r.partition).toBe(r.partition);
      partitionOf.set(key, r.partition);
      const v = Number(r.value!.toString());
      expect(v).toBeGreaterThan(last.get(key) ?? -1);
      expect(r.headers.seq).toBe(String(v));
      last.set(key, v);
    }
    expect(new Set(got.map((r) => Number(r.value!.toString()))).size).toBe(n);
  });

  it('fails fast with BROKER_UNREACHABLE when no broker listens', async () => {
    const config = testConfig({ kafkaBrokers: '127.0.0.1:1' });
    const err = await withAdmin(config, (a) => a.listTopics()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CryptolambdaError);
    expect((err as CryptolambdaError).code).toBe('BROKER_UNREACHABLE');
    expect((err as CryptolambdaError).message).toBe('cannot reach Kafka at 127.0.0.1:1');
  });
  it('splits a large buffer into requests under the broker message size', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    await withAdmin(config, (a) => ensureTopics(a, config.topicPrefix, [TOPICS.deadLetter]));
    const topic = topicName(config.topicPrefix, 'deadLetter');
    // 3,000 records of 1 KiB in one partition: 3 MiB, three times the broker's message.max.bytes.
    const producer = await BatchingProducer.connect(config, { maxBatch: 20_000, maxBuffered: 1000, lingerMs: 1000 });
    const value = Buffer.alloc(1024, 7);
    let maxUnacked = 0;
    for (let i = 0; i < 3000; i++) {
      await producer.push(topic, [{ key: 'k', value }]);
      maxUnacked = Math.max(maxUnacked, producer.stats.accepted - producer.stats.acked);
    }
    await producer.disconnect();
    expect(producer.stats.acked).toBe(3000);
    expect(producer.stats.batches).toBeGreaterThanOrEqual(4); // split by bytes, not by the 20,000-record cap
    expect(maxUnacked).toBeLessThanOrEqual(3000);
    const got = await consumeUntil(config, topic, 3000);
    expect(got).toHaveLength(3000);
  });

  it('back-pressure holds unacknowledged records near the bound when the source outruns the broker', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    await withAdmin(config, (a) => ensureTopics(a, config.topicPrefix, [TOPICS.deadLetter]));
    const topic = topicName(config.topicPrefix, 'deadLetter');
    const producer = await BatchingProducer.connect(config, { maxBatch: 500, maxBuffered: 2000 });
    let maxUnacked = 0;
    for (let i = 0; i < 20_000; i++) {
      await producer.push(topic, [{ key: `k${i % 7}`, value: Buffer.from(`v${i}`) }]);
      maxUnacked = Math.max(maxUnacked, producer.stats.accepted - producer.stats.acked);
    }
    await producer.disconnect();
    expect(producer.stats.acked).toBe(20_000);
    expect(producer.stats.backpressureWaits).toBeGreaterThan(0);
    expect(maxUnacked).toBeLessThan(2000 + 500);
  });
});
