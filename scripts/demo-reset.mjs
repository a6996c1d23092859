// Removes what earlier `npm run demo` runs left behind: their topics (prefix `demo-<stamp>.`), their
// speed-layer Redis keyspaces and their lakes under .cryptolambda/demo/. The current run (from
// CRYPTOLAMBDA_TOPIC_PREFIX) is kept. Touches nothing outside the demo prefixes.
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { withAdmin } from '../dist/adapters/kafka/client.js';
import { connectRedis } from '../dist/adapters/redis/client.js';
import { resolveConfig } from '../dist/config/config.js';

const DEMO = /^demo-\d{14}\./;
const config = resolveConfig({});
const current = config.topicPrefix;
if (!DEMO.test(current)) throw new Error(`demo-reset: unexpected prefix ${JSON.stringify(current)}`);

const topics = await withAdmin(config, async (admin) => {
  const old = (await admin.listTopics()).filter((t) => DEMO.test(t) && !t.startsWith(current));
  if (old.length > 0) await admin.deleteTopics({ topics: old });
  return old.length;
});

const redis = await connectRedis(config, { name: 'demo-reset' });
let keys = 0;
let cursor = '0';
do {
  const [next, batch] = await redis.scan(cursor, 'MATCH', 'demo-*', 'COUNT', 1000);
  cursor = next;
  const old = batch.filter((k) => DEMO.test(k) && !k.startsWith(current));
  if (old.length > 0) keys += await redis.unlink(...old);
} while (cursor !== '0');
redis.disconnect();

const demoRoot = path.join(config.stateDir, 'demo');
const runs = await readdir(demoRoot).catch(() => []);
const currentDir = current.slice(0, -1);
for (const d of runs) if (d !== currentDir) await rm(path.join(demoRoot, d), { recursive: true, force: true });
console.log(
  `cleaned earlier demo runs: ${topics} topics, ${keys} Redis keys, ${runs.filter((d) => d !== currentDir).length} lakes`,
);
