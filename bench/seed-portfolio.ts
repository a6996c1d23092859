/**
 * Seeds `users` portfolio users directly (no Kafka), shared by the portfolio benches (in-process and
 * over HTTP): a warehouse build of D with snapshot_user_state and fact_price_daily for every user,
 * published through warehouse-store like the batch does (sorted by user_id, small row groups), and
 * the speed layer's RedisConn state of D+1 for every user (two delta events per user, the book, the
 * tier, the users' watermark, live prices).
 */

import { Duck } from '../src/adapters/duckdb/db.js';
import { publish, type WarehouseFile, writeTableFile } from '../src/adapters/lake/warehouse-store.js';
import type { RedisConn } from '../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../src/adapters/redis/speed-keys.js';
import type { Config } from '../src/config/config.js';
import { eventToRaw } from '../src/core/events/json.js';
import { symbolPartition } from '../src/core/partitioning.js';
import { positionToJson } from '../src/core/portfolio/codec.js';
import { emptyUser, replayUser, userToJson } from '../src/core/speed/user-ledger.js';
import { columnsDdl, FACT_PRICE_DAILY, SNAPSHOT_USER_STATE } from '../src/core/warehouse/schema.js';
import { GOLDEN_D, GOLDEN_D1, goldenEvents } from '../test/support/serving-golden.js';

const TEMPLATE = 'uTEMPLATEu';
export const userId = (i: number): string => `u${String(i).padStart(7, '0')}`;

/**
 * Publish a warehouse build of `date` whose snapshot_user_state holds `rows` ([user id, state JSON],
 * in any order: written sorted by user id with the table's row groups, as the batch does), plus any
 * other files `more` writes with the same DuckDB connection.
 */
export const publishSnapshotBuild = async (
  lakeDir: string,
  date: string,
  rows: Iterable<readonly [string, string]>,
  more: (duck: Duck) => Promise<WarehouseFile[]> = async () => [],
): Promise<WarehouseFile[]> => {
  const duck = await Duck.open(':memory:', { threads: 2 });
  const files: WarehouseFile[] = [];
  try {
    await duck.run(`CREATE TABLE snap (${columnsDdl(SNAPSHOT_USER_STATE)})`);
    const a = await duck.conn.createAppender('snap');
    for (const [u, json] of rows) {
      a.appendVarchar(date);
      a.appendVarchar(u);
      a.appendVarchar(json);
      a.endRow();
    }
    a.closeSync();
    files.push(
      await writeTableFile(
        duck,
        lakeDir,
        SNAPSHOT_USER_STATE.name,
        date,
        'SELECT * FROM snap',
        'user_id',
        SNAPSHOT_USER_STATE.rowGroupSize,
      ),
    );
    files.push(...(await more(duck)));
  } finally {
    duck.close();
  }
  await publish(lakeDir, { build: { date, rawCommit: 0, builtAt: new Date().toISOString(), files, stats: {} } });
  return files;
};

export const seedPortfolioUsers = async (config: Config, redis: RedisConn, USERS: number): Promise<void> => {
  const lakeDir = config.lakeDir;
  const keys = speedKeys(keyspaceFor(config.topicPrefix));
  // One template user (the serving golden case), specialised per user by replacing its id.
  const g = goldenEvents(TEMPLATE);
  const stateD = JSON.stringify(userToJson(replayUser(emptyUser(TEMPLATE), g.dayD).state));
  const d1 = g.dayD1.slice(0, 2).map((e) => [e.eventId, JSON.stringify(eventToRaw(e))] as const);
  const book = replayUser(emptyUser(TEMPLATE), [...g.dayD, ...g.dayD1.slice(0, 2)]).state;
  const pos = [...book.positions.values()].map((p) => [p.asset, JSON.stringify(positionToJson(p))] as const);

  let t0 = performance.now();
  const files = await publishSnapshotBuild(
    lakeDir,
    GOLDEN_D,
    (function* () {
      for (let i = 0; i < USERS; i++) yield [userId(i), stateD.replaceAll(TEMPLATE, userId(i))] as const;
    })(),
    async (duck) => {
      await duck.run(`CREATE TABLE px (${columnsDdl(FACT_PRICE_DAILY)})`);
      await duck.run(
        `INSERT INTO px VALUES ($1::DATE, 'BTCUSDT', 'BTC', 40000, 42000, 39000, 41000, 10, 100), ($1::DATE, 'ETHUSDT', 'ETH', 2000, 2200, 1900, 2100, 10, 100)`,
        [GOLDEN_D],
      );
      return [await writeTableFile(duck, lakeDir, FACT_PRICE_DAILY.name, GOLDEN_D, 'SELECT * FROM px', 'symbol')];
    },
  );
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
};
