// Fault injection helpers for the chaos suite (loopback broker only):
//   pill               one 1,048,400-byte record on raw.prices (just under the broker's limit)
//   bad N              N malformed records on raw.transactions (not Avro, truncated Avro, empty)
//   reset              wipe the prefix's speed layer (retried while the group still lists members)
//   delete-ahead K     delete records up to K offsets past what the raw zone and the speed layer
//                      stored, per raw.prices partition (what retention does to a lagging reader)
//   delete-covered     delete every record the raw zone covered, on the three raw topics (retention
//                      after the batch landed them: only the lake still has that history)
import { createKafka, withAdmin } from '../../dist/adapters/kafka/client.js';
import { readManifest } from '../../dist/adapters/lake/manifest.js';
import { connectRedis } from '../../dist/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../dist/adapters/redis/speed-keys.js';
import { resetSpeedLayer } from '../../dist/app/stream/run-stream.js';
import { resolveConfig } from '../../dist/config/config.js';
import { SPEED_PARTITIONS } from '../../dist/core/partitioning.js';
import { topicName } from '../../dist/core/topics.js';

const config = resolveConfig();
for (const b of config.kafkaBrokers) {
  if (!/^(127\.|localhost:)/.test(b)) throw new Error(`chaos runs on a loopback broker only, not ${b}`);
}
const [cmd, arg] = process.argv.slice(2);
const prices = topicName(config.topicPrefix, 'prices');
const txs = topicName(config.topicPrefix, 'transactions');
const producer = createKafka(config).producer({ allowAutoTopicCreation: false });
await producer.connect();
try {
  if (cmd === 'pill') {
    await producer.send({
      topic: prices,
      acks: -1,
      messages: [{ key: 'BTCUSDT', value: Buffer.alloc(1_048_400, 0x7b) }],
    });
    console.log(JSON.stringify({ injected: 1, bytes: 1_048_400 }));
  } else if (cmd === 'bad') {
    const n = Number(arg ?? 10);
    const messages = [];
    for (let i = 0; i < n; i++) {
      const value =
        i % 3 === 0
          ? Buffer.from(`{"not":"avro","i":${i}}`)
          : i % 3 === 1
            ? Buffer.from([0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9])
            : Buffer.alloc(0);
      messages.push({ key: `u-bad-${i}`, value });
    }
    await producer.send({ topic: txs, acks: -1, messages });
    console.log(JSON.stringify({ injected: n }));
  } else if (cmd === 'reset') {
    for (let i = 0; ; i++) {
      try {
        console.log(JSON.stringify({ keysRemoved: await resetSpeedLayer(config) }));
        break;
      } catch (err) {
        if (err.code !== 'CONFLICT' || i >= 60) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } else if (cmd === 'delete-ahead') {
    const k = BigInt(arg ?? 100);
    const m = await readManifest(config.lakeDir);
    const redis = await connectRedis(config);
    const stored = {};
    for (const n of SPEED_PARTITIONS)
      Object.assign(stored, await redis.hgetall(speedKeys(keyspaceFor(config.topicPrefix)).offsets(n)));
    redis.disconnect();
    const deleted = await withAdmin(config, async (admin) => {
      await admin.fetchTopicMetadata({ topics: [prices] });
      const parts = [];
      let n = 0n;
      for (const o of await admin.fetchTopicOffsets(prices)) {
        const a = BigInt(m.offsets[prices]?.[String(o.partition)] ?? o.low);
        const b = BigInt(stored[`${prices}|${o.partition}`] ?? o.low);
        const to = (a > b ? a : b) + k;
        const cut = to > BigInt(o.high) ? BigInt(o.high) : to;
        parts.push({ partition: o.partition, offset: cut.toString() });
        n += cut - (a < b ? a : b);
      }
      await admin.deleteTopicRecords({ topic: prices, partitions: parts });
      return n;
    });
    console.log(JSON.stringify({ deletedUpTo: Number(deleted) }));
  } else if (cmd === 'delete-covered') {
    const m = await readManifest(config.lakeDir);
    const deleted = await withAdmin(config, async (admin) => {
      let n = 0;
      for (const topic of ['prices', 'transactions', 'rewards'].map((k) => topicName(config.topicPrefix, k))) {
        await admin.fetchTopicMetadata({ topics: [topic] });
        const parts = [];
        for (const o of await admin.fetchTopicOffsets(topic)) {
          const to = BigInt(m.offsets[topic]?.[String(o.partition)] ?? o.low);
          if (to > BigInt(o.low)) {
            parts.push({ partition: o.partition, offset: to.toString() });
            n += Number(to - BigInt(o.low));
          }
        }
        if (parts.length > 0) await admin.deleteTopicRecords({ topic, partitions: parts });
      }
      return n;
    });
    console.log(JSON.stringify({ deleted }));
  } else {
    throw new Error(`unknown injection ${cmd}`);
  }
} finally {
  await producer.disconnect();
}
