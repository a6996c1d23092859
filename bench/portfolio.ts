/**
 * `portfolio` latency for 100k users through the app function (getPortfolio on one ServingContext,
 * as a long-running server would hold it), not process spawn. Prints figures; asserts nothing.
 *
 *   npx tsc -p bench/tsconfig.json && node .cryptolambda/bench/bench/portfolio.js [users] [lookups]
 *
 * Seeds directly (no Kafka): a warehouse build of D with snapshot_user_state and fact_price_daily for
 * every user, published through warehouse-store like the batch does (sorted by user_id, small row
 * groups), and the speed layer's Redis state of D+1 for every user (two delta events per user, the
 * book, the tier, the users' watermark, live prices) under a throw-away keyspace that is deleted
 * afterwards. A lookup = the watermark read, one pipelined Redis round trip for the user's keys, a
 * DuckDB point query on the snapshot (user_id = $1, pruned by row-group statistics), the core
 * replay and valuation.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectRedis } from '../src/adapters/redis/client.js';
import { keyspaceFor } from '../src/adapters/redis/speed-keys.js';
import { openServing } from '../src/app/serving/context.js';
import { getPortfolio } from '../src/app/serving/portfolio.js';
import { deleteKeyspace } from '../src/app/stream/run-stream.js';
import { resolveConfig } from '../src/config/config.js';
import { GOLDEN_D, GOLDEN_D1 } from '../test/support/serving-golden.js';
import { report } from './report.js';
import { seedPortfolioUsers, userId } from './seed-portfolio.js';

const USERS = Number(process.argv[2] ?? 100_000);
const LOOKUPS = Number(process.argv[3] ?? 2_000);

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const main = async (): Promise<void> => {
  const lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-bench-portfolio-'));
  const config = resolveConfig(
    { topicPrefix: `bench${randomUUID().slice(0, 8)}.`, lakeDir },
    { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: '' },
  );
  const keyspace = keyspaceFor(config.topicPrefix);
  const redis = await connectRedis(config, { name: 'cl-bench-portfolio' });
  try {
    await seedPortfolioUsers(config, redis, USERS);

    const ctx = await openServing(config, { redisClient: redis });
    try {
      // Warm-up: module JIT, DuckDB's first Parquet open, the close-price cache.
      for (let i = 0; i < 50; i++) await getPortfolio(ctx, userId(i));
      let seed = 12345;
      const rnd = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed;
      };
      const times: number[] = [];
      let merged = 0;
      const tAll = performance.now();
      for (let i = 0; i < LOOKUPS; i++) {
        const u = userId(rnd() % USERS);
        const s = performance.now();
        const v = await getPortfolio(ctx, u);
        times.push(performance.now() - s);
        if (v.mode === 'merged') merged++;
      }
      const wall = performance.now() - tAll;
      times.sort((a, b) => a - b);
      const mean = times.reduce((a, b) => a + b, 0) / times.length;
      console.log(
        `portfolio (merged ${merged}/${LOOKUPS}): p50 ${pct(times, 50).toFixed(2)} ms, p90 ${pct(times, 90).toFixed(2)} ms, p99 ${pct(times, 99).toFixed(2)} ms, max ${times.at(-1)!.toFixed(2)} ms, mean ${mean.toFixed(2)} ms, ${Math.round((LOOKUPS * 1000) / wall)} lookups/s sequential`,
      );
      const note = `${USERS.toLocaleString('en-US')} users, ${LOOKUPS} random lookups`;
      report('portfolio', 'p50 latency', pct(times, 50), 'ms', note);
      report('portfolio', 'p99 latency', pct(times, 99), 'ms', note);
      report('portfolio', 'throughput (sequential)', (LOOKUPS * 1000) / wall, 'lookups/s', note);

      // Where the time goes: the DuckDB point query alone vs the Redis round trips alone.
      const q: number[] = [];
      const rr: number[] = [];
      for (let i = 0; i < 500; i++) {
        const u = userId(rnd() % USERS);
        let s = performance.now();
        await ctx.warehouse.snapshot(u, GOLDEN_D);
        q.push(performance.now() - s);
        s = performance.now();
        await ctx.speed!.watermarks();
        await ctx.speed!.user(u, [GOLDEN_D1]);
        rr.push(performance.now() - s);
      }
      q.sort((a, b) => a - b);
      rr.sort((a, b) => a - b);
      console.log(`  snapshot point query: p50 ${pct(q, 50).toFixed(2)} ms, p99 ${pct(q, 99).toFixed(2)} ms`);
      console.log(`  redis reads (2 round trips): p50 ${pct(rr, 50).toFixed(2)} ms, p99 ${pct(rr, 99).toFixed(2)} ms`);
      report('portfolio', 'snapshot point query p50', pct(q, 50), 'ms', note);
    } finally {
      ctx.close();
    }
  } finally {
    await deleteKeyspace(redis, keyspace);
    redis.disconnect();
    rmSync(lakeDir, { recursive: true, force: true });
  }
};

await main();
