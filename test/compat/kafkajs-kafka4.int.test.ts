import { describe, expect, it } from 'vitest';
import { createKafka, withAdmin } from '../../src/adapters/kafka/client.js';
import { BatchingProducer } from '../../src/adapters/kafka/producer.js';
import { cleanupTopicsAfter, randomId, testConfig } from '../support/int.js';

/**
 * Why Kafka 4.x: kafkajs 2.2.4 (last release 2023) negotiates API versions, and Kafka 4.0 removed
 * only protocol versions older than the ones kafkajs picks (KIP-896). This proves the calls the
 * project relies on against the pinned broker: admin, the idempotent producer, and the classic
 * consumer-group protocol with two members sharing the partitions and committed offsets.
 */
describe('kafkajs 2.2.4 against the pinned Kafka 4.x broker', () => {
  it('admin, idempotent produce, a two-member consumer group and offset commits all work', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    const topic = `${config.topicPrefix}compat`;
    await withAdmin(config, (a) => a.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true }));

    const producer = await BatchingProducer.connect(config, { lingerMs: 1 });
    await producer.push(
      topic,
      Array.from({ length: 400 }, (_, i) => ({ key: `k${i % 16}`, value: Buffer.from(String(i)) })),
    );
    await producer.disconnect();

    const groupId = `compat-${randomId()}`;
    const kafka = createKafka(config);
    const seen = new Map<string, Set<number>>();
    let total = 0;
    const members = [
      kafka.consumer({ groupId, sessionTimeout: 10_000 }),
      kafka.consumer({ groupId, sessionTimeout: 10_000 }),
    ];
    let done!: () => void;
    const all = new Promise<void>((r) => {
      done = r;
    });
    for (const [i, c] of members.entries()) {
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      await c.run({
        eachBatch: async ({ batch }) => {
          const parts = seen.get(`m${i}`) ?? new Set<number>();
          parts.add(batch.partition);
          seen.set(`m${i}`, parts);
          total += batch.messages.length;
          if (total >= 400) done();
        },
      });
    }
    await all;
    // Let the group settle so both members hold an assignment before describing it.
    const description = await withAdmin(config, async (a) => {
      for (let attempt = 0; attempt < 40; attempt++) {
        const g = (await a.describeGroups([groupId])).groups[0]!;
        if (g.state === 'Stable' && g.members.length === 2) return g;
        await new Promise((r) => setTimeout(r, 250));
      }
      return (await a.describeGroups([groupId])).groups[0]!;
    });
    expect(description.state).toBe('Stable');
    expect(description.members).toHaveLength(2);
    expect(description.protocolType).toBe('consumer');
    expect(total).toBe(400);

    for (const c of members) await c.disconnect();
    const offsets = await withAdmin(config, (a) => a.fetchOffsets({ groupId, topics: [topic] }));
    const committed = offsets[0]!.partitions.reduce((n, p) => n + Number(p.offset), 0);
    expect(committed).toBe(400);
  });
});
