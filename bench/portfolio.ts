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
import { Duck } from '../src/adapters/duckdb/db.js';
import { publish, type WarehouseFile, writeTableFile } from '../src/adapters/lake/warehouse-store.js';
import { connectRedis } from '../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../src/adapters/redis/speed-keys.js';
import { openServing } from '../src/app/serving/context.js';
import { getPortfolio } from '../src/app/serving/portfolio.js';
import { deleteKeyspace } from '../src/app/stream/run-stream.js';
import { resolveConfig } from '../src/config/config.js';
import { eventToRaw } from '../src/core/events/json.js';
import { symbolPartition } from '../src/core/partitioning.js';
import { positionToJson } from '../src/core/portfolio/codec.js';
import { emptyUser, replayUser, userToJson } from '../src/core/speed/user-ledger.js';
import { columnsDdl, FACT_PRICE_DAILY, SNAPSHOT_USER_STATE } from '../src/core/warehouse/schema.js';
import { GOLDEN_D, GOLDEN_D1, goldenEvents } from '../test/support/serving-golden.js';
import { report } from './report.js';

const USERS = Number(process.argv[2] ?? 100_000);
const LOOKUPS = Number(process.argv[3] ?? 2_000);
const TEMPLATE = 'uTEMPLATEu';
const userId = (i: number): string => `u${String(i).padStart(7, '0')}`;

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const main = async (): Promise<void> => {
  const lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-bench-portfolio-'));
  const config = resolveConfig(
    { topicPrefix: `bench${randomUUID().slice(0, 8)}.`, lakeDir },
    { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: '' },
  );
  const keyspace = keyspaceFor(config.topicPrefix);
  const keys = speedKeys(keyspace);
  const redis = await connectRedis(config, { name: 'cl-bench-portfolio' });
  try {
    // One template user (the serving golden case), specialised per user by replacing its id.
    const g = goldenEvents(TEMPLATE);
    const stateD = JSON.stringify(userToJson(replayUser(emptyUser(TEMPLATE), g.dayD).state));
    const d1 = g.dayD1.slice(0, 2).map((e) => [e.eventId, JSON.stringify(eventToRaw(e))] as const);
    const book = replayUser(emptyUser(TEMPLATE), [...g.dayD, ...g.dayD1.slice(0, 2)]).state;
    const pos = [...book.positions.values()].map((p) => [p.asset, JSON.stringify(positionToJson(p))] as const);

    let t0 = performance.now();
    const duck = await Duck.open(':memory:', { threads: 2 });
    const files: WarehouseFile[] = [];
    try {
      await duck.run(`CREATE TABLE snap (${columnsDdl(SNAPSHOT_USER_STATE)})`);
      const a = await duck.conn.createAppender('snap');
      for (let i = 0; i < USERS; i++) {
        const u = userId(i);
        a.appendVarchar(GOLDEN_D);
        a.appendVarchar(u);
        a.appendVarchar(stateD.replaceAll(TEMPLATE, u));
        a.endRow();
      }
      a.closeSync();
      files.push(
        await writeTableFile(
          duck,
          lakeDir,
          SNAPSHOT_USER_STATE.name,
          GOLDEN_D,
          'SELECT * FROM snap',
          'user_id',
          SNAPSHOT_USER_STATE.rowGroupSize,
        ),
      );
      await duck.run(`CREATE TABLE px (${columnsDdl(FACT_PRICE_DAILY)})`);
      await duck.run(
        `INSERT INTO px VALUES ($1::DATE, 'BTCUSDT', 'BTC', 40000, 42000, 39000, 41000, 10, 100), ($1::DATE, 'ETHUSDT', 'ETH', 2000, 2200, 1900, 2100, 10, 100)`,
        [GOLDEN_D],
      );
      files.push(await writeTableFile(duck, lakeDir, FACT_PRICE_DAILY.name, GOLDEN_D, 'SELECT * FROM px', 'symbol'));
    } finally {
      duck.close();
    }
    await publish(lakeDir, {
      build: { date: GOLDEN_D, rawCommit: 0, builtAt: new Date().toISOString(), files, stats: {} },
    });
    const snapBytes = files[0]!.bytes;
    console.log(
      `warehouse: ${USERS.toLocaleString('en-US')} snapshots in ${(snapBytes / 1e6).toFixed(1)} MB Parquet, written in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    t0 = performance.now();
    for (let i = 0; i < USERS; i += 1000) {
      const p = redis.pipeline();
      for (let j = i; j < Math.min(USERS, i + 1000); j++) {
        const u = userId(j);
        const r = (s: string) => s.replaceAll(TEMPLATE, u);
        p.hset(keys.delta(u, GOLDEN_D1), Object.fromEntries(d1.map(([id, v]) => [r(id), r(v)])));
        p.hset(keys.positions(u), Object.fromEntries(pos.map(([a, v]) => [a, r(v)])));
        p.set(keys.tier(u), JSON.stringify({ tier: 'Bronze', spend30d: '500.000000000000', since: 0 }));
      }
      await p.exec();
    }
    const live = Date.parse(`${GOLDEN_D1}T13:00:00Z`);
    await redis.hset(keys.watermarks(0), { users: String(live), price: String(live) });
    for (const [s, price] of [
      ['BTCUSDT', '50000.000000000000'],
      ['ETHUSDT', '2500.000000000000'],
    ] as const) {
      await redis.hset(keys.lastPrice(symbolPartition(s)), s, JSON.stringify({ price, eventTime: live }));
    }
    console.log(
      `redis: speed state of ${USERS.toLocaleString('en-US')} users in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

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
