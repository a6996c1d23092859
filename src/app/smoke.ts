import { randomUUID } from 'node:crypto';
import { withAdmin } from '../adapters/kafka/client.js';
import { runConsumer } from '../adapters/kafka/consumer.js';
import { BatchingProducer } from '../adapters/kafka/producer.js';
import { connectRedis } from '../adapters/redis/client.js';
import type { Config } from '../config/config.js';
import { CryptolambdaError } from '../core/errors.js';

export interface SmokeResult {
  readonly ok: boolean;
  readonly kafka: { topic: string; produced: number; consumed: number; inOrder: boolean; millis: number };
  readonly redis: { roundTrip: boolean; millis: number };
}

/**
 * End-to-end check of the stack through the project's own adapters: an idempotent produce of
 * `count` keyed records to a throw-away topic, a consumer-group read of all of them back (order
 * per key checked), and a Redis write/read. The topic and keys are removed afterwards.
 */
export const runSmoke = async (config: Config, count = 1000): Promise<SmokeResult> => {
  const id = randomUUID().slice(0, 8);
  const topic = `${config.topicPrefix}_cryptolambda.smoke.${id}`;
  const t0 = performance.now();
  await withAdmin(config, (a) => a.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true }));
  try {
    const producer = await BatchingProducer.connect(config, { lingerMs: 5 });
    const keys = ['a', 'b', 'c', 'd'];
    for (let i = 0; i < count; i++) {
      await producer.push(topic, [{ key: keys[i % keys.length]!, value: Buffer.from(String(i)) }]);
    }
    await producer.disconnect();

    const lastSeen = new Map<string, number>();
    let consumed = 0;
    let inOrder = true;
    let done!: () => void;
    const all = new Promise<void>((r) => {
      done = r;
    });
    const consumer = await runConsumer(config, {
      groupId: `${config.clientId}-smoke-${id}`,
      topics: [topic],
      fromBeginning: true,
      onBatch: async (records) => {
        for (const r of records) {
          const v = Number(r.value?.toString());
          if ((lastSeen.get(r.key ?? '') ?? -1) >= v) inOrder = false;
          lastSeen.set(r.key ?? '', v);
          consumed++;
        }
        if (consumed >= count) done();
      },
    });
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref());
    const outcome = await Promise.race([all, timeout]);
    await consumer.disconnect();
    if (outcome === 'timeout') {
      throw new CryptolambdaError('INTERNAL', `smoke: consumed ${consumed} of ${count} records within 30 s`);
    }
    const kafkaMillis = Math.round(performance.now() - t0);

    const r0 = performance.now();
    const redis = await connectRedis(config);
    const key = `cl:smoke:${id}`;
    let roundTrip = false;
    try {
      await redis.set(key, id, 'EX', 60);
      roundTrip = (await redis.get(key)) === id;
      await redis.del(key);
    } finally {
      redis.disconnect();
    }
    const redisMillis = Math.round(performance.now() - r0);
    return {
      ok: consumed === count && inOrder && roundTrip,
      kafka: { topic, produced: count, consumed, inOrder, millis: kafkaMillis },
      redis: { roundTrip, millis: redisMillis },
    };
  } finally {
    await withAdmin(config, (a) => a.deleteTopics({ topics: [topic] })).catch(() => undefined);
  }
};
