// Counts for one chaos scenario, printed as one JSON line: events in Kafka (raw topics, log
// start to end, and the sum of the log ends), rows in the raw zone (manifest), offsets covered by
// the speed layer (Redis stream:offsets:{pNN} of every partition, committed with the state), dead
// letters, recorded gaps. Reads the built dist/.
import { withAdmin } from '../../dist/adapters/kafka/client.js';
import { readManifest } from '../../dist/adapters/lake/manifest.js';
import { connectRedis } from '../../dist/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../dist/adapters/redis/speed-keys.js';
import { resolveConfig } from '../../dist/config/config.js';
import { SPEED_PARTITIONS } from '../../dist/core/partitioning.js';
import { topicName } from '../../dist/core/topics.js';

const config = resolveConfig();
const raw = ['prices', 'transactions', 'rewards'].map((k) => topicName(config.topicPrefix, k));
const dlq = topicName(config.topicPrefix, 'deadLetter');
const kafka = await withAdmin(config, async (admin) => {
  const out = { ends: 0 };
  for (const t of [...raw, dlq]) {
    let n = 0;
    for (const o of await admin.fetchTopicOffsets(t)) {
      n += Number(o.high) - Number(o.low);
      if (t !== dlq) out.ends += Number(o.high);
    }
    out[t] = n;
  }
  return out;
});
const m = await readManifest(config.lakeDir);
const rawZone = { prices: 0, transactions: 0, rewards: 0 };
for (const f of m.files) rawZone[f.table] += f.rows;
const ingested = Object.entries(m.offsets)
  .filter(([t]) => raw.includes(t))
  .reduce((n, [, parts]) => n + Object.values(parts).reduce((a, o) => a + Number(o), 0), 0);
const redis = await connectRedis(config);
const keys = speedKeys(keyspaceFor(config.topicPrefix));
const offsets = {};
// One hash per partition (hash tag {pNN}): the offsets live with each partition's state.
for (const n of SPEED_PARTITIONS) Object.assign(offsets, await redis.hgetall(keys.offsets(n)));
const gaps = await redis.hlen(keys.gaps());
redis.disconnect();
const speed = Object.entries(offsets)
  .filter(([f]) => raw.includes(f.split('|')[0]))
  .reduce((n, [, v]) => n + Number(v), 0);
const inKafka = raw.reduce((n, t) => n + kafka[t], 0);
console.log(
  JSON.stringify({
    inKafka,
    kafkaByTopic: Object.fromEntries(raw.map((t) => [t.slice(config.topicPrefix.length), kafka[t]])),
    kafkaEnds: kafka.ends,
    ingestedOffsets: ingested,
    rawZoneRows: rawZone.prices + rawZone.transactions + rawZone.rewards,
    rawZone,
    speedOffsets: speed,
    deadLetters: kafka[dlq],
    rawZoneGaps: (m.gaps ?? []).length,
    speedGaps: gaps,
  }),
);
