/**
 * `stream --bootstrap-from-batch` seconds for 1k, 10k and 100k users (each size 10x the previous;
 * the ratio of users/s says whether the cost per user stays flat), each with one heavy user (5,000
 * card spends and buys inside the dedup and spend windows: the largest state a seed writes). Prints
 * figures; asserts nothing.
 *
 *   npx tsc -p bench/tsconfig.json && node .cryptolambda/bench/bench/bootstrap.js [users,users,...] [conc,conc,...]
 *
 * Each size runs at every partition concurrency given (default 1 and BOOTSTRAP_CONCURRENCY): the
 * ratio says what seeding partitions in parallel buys on this machine. Point CRYPTOLAMBDA_REDIS_URL at
 * a Redis Cluster (scripts/redis-cluster.sh prints its URLs) to measure the partitions' slots on
 * several masters.
 *
 * The warehouse build is seeded directly (snapshot_user_state of D published through
 * warehouse-store, as the batch does; the template is the serving golden user), with an empty raw
 * zone: the figure is the seed (snapshot read, per-partition fenced commits through the engine and
 * the Redis store), not the raw-zone replay, which runs at the stream's own per-event rate.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureTopics, withAdmin } from '../src/adapters/kafka/client.js';
import { connectRedis } from '../src/adapters/redis/client.js';
import { keyspaceFor } from '../src/adapters/redis/speed-keys.js';
import { BOOTSTRAP_CONCURRENCY, bootstrapFromBatch } from '../src/app/stream/bootstrap.js';
import { deleteKeyspace } from '../src/app/stream/run-stream.js';
import { DEFAULT_SPEED_OPTIONS } from '../src/app/stream/speed-handler.js';
import { resolveConfig } from '../src/config/config.js';
import type { UserEvent } from '../src/core/events/types.js';
import { emptyUser, replayUser, userToJson } from '../src/core/speed/user-ledger.js';
import { tx } from '../test/core/build.js';
import { GOLDEN_D, goldenEvents } from '../test/support/serving-golden.js';
import { report } from './report.js';
import { publishSnapshotBuild, userId } from './seed-portfolio.js';

const SIZES = (process.argv[2] ?? '1000,10000,100000').split(',').map(Number);
const CONCURRENCY = (process.argv[3] ?? `1,${BOOTSTRAP_CONCURRENCY}`).split(',').map(Number);
const TEMPLATE = 'uTEMPLATEu';
const HEAVY = 'uheavy';

/** 5,000 events of the heavy user on D: buys and card spends every 15 s. */
const heavyState = (): string => {
  const t0 = Date.parse(`${GOLDEN_D}T01:00:00Z`);
  const events: UserEvent[] = [];
  for (let i = 0; i < 5000; i++) {
    const common = { userId: HEAVY, asset: 'BTC', price: '40000', eventTime: t0 + i * 15_000, eventId: `h-${i}` };
    events.push(
      i % 2 === 0 ? tx('buy', { ...common, quantity: '0.01' }) : tx('card_spend', { ...common, quantity: '0.001' }),
    );
  }
  return JSON.stringify(userToJson(replayUser(emptyUser(HEAVY), events).state));
};

const run = async (users: number, heavy: string, concurrency: number): Promise<number> => {
  const lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-bench-bootstrap-'));
  const config = resolveConfig(
    { topicPrefix: `bench${randomUUID().slice(0, 8)}.`, lakeDir },
    { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: '' },
  );
  const template = JSON.stringify(userToJson(replayUser(emptyUser(TEMPLATE), goldenEvents(TEMPLATE).dayD).state));
  await withAdmin(config, (admin) => ensureTopics(admin, config.topicPrefix));
  const redis = await connectRedis(config, { name: 'cl-bench-bootstrap' });
  try {
    await publishSnapshotBuild(
      lakeDir,
      GOLDEN_D,
      (function* () {
        for (let i = 0; i < users - 1; i++) yield [userId(i), template.replaceAll(TEMPLATE, userId(i))] as const;
        yield [HEAVY, heavy] as const;
      })(),
    );
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const r = await bootstrapFromBatch(config, {
      speed: { ...DEFAULT_SPEED_OPTIONS, costMethod: config.costBasis },
      concurrency,
    });
    const s = (performance.now() - t0) / 1000;
    const note = `${users.toLocaleString('en-US')} users incl. one with 5,000 events, ${concurrency} partition(s) at once`;
    console.log(
      `bootstrap ${note}: ${s.toFixed(2)} s, ${Math.round(r.users / s)} users/s, rss +${((process.memoryUsage().rss - rss0) / 1e6).toFixed(0)} MB`,
    );
    report('bootstrap', `seed ${users.toLocaleString('en-US')} users, concurrency ${concurrency}`, s, 's', note);
    report(
      'bootstrap',
      `seed rate at ${users.toLocaleString('en-US')} users, concurrency ${concurrency}`,
      r.users / s,
      'users/s',
      note,
    );
    return r.users / s;
  } finally {
    await deleteKeyspace(redis, keyspaceFor(config.topicPrefix));
    redis.disconnect();
    await withAdmin(config, async (admin) => {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(config.topicPrefix));
      if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    });
    rmSync(lakeDir, { recursive: true, force: true });
  }
};

const main = async (): Promise<void> => {
  const heavy = heavyState();
  const rates = new Map<number, number[]>(CONCURRENCY.map((c) => [c, []]));
  for (const n of SIZES)
    for (const c of CONCURRENCY) {
      const rate = await run(n, heavy, c);
      rates.get(c)!.push(rate);
    }
  for (const c of CONCURRENCY) {
    const rs = rates.get(c)!;
    if (SIZES.length > 1) {
      const ratio = rs.at(-1)! / rs[0]!;
      console.log(
        `concurrency ${c}: users/s at ${SIZES.at(-1)} / at ${SIZES[0]} users: ${ratio.toFixed(2)} (1.0 = cost per user flat)`,
      );
      report('bootstrap', `rate ratio largest/smallest, concurrency ${c}`, ratio, 'x', SIZES.join(' / '));
    }
  }
  if (CONCURRENCY.length > 1) {
    const [lo, hi] = [CONCURRENCY[0]!, CONCURRENCY.at(-1)!];
    for (const [i, n] of SIZES.entries()) {
      const ratio = rates.get(hi)![i]! / rates.get(lo)![i]!;
      console.log(`${n} users: concurrency ${hi} / ${lo} users/s = ${ratio.toFixed(2)}`);
      report('bootstrap', `speed-up concurrency ${hi}/${lo} at ${n} users`, ratio, 'x', 'users/s ratio');
    }
  }
};

await main();
