import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Duck, literal } from '../../../src/adapters/duckdb/db.js';
import { readManifest } from '../../../src/adapters/lake/manifest.js';
import { WarehouseReader } from '../../../src/adapters/lake/warehouse-reader.js';
import { readLedger } from '../../../src/adapters/lake/warehouse-store.js';
import { runIngestRaw } from '../../../src/app/batch/ingest-raw.js';
import { pendingBatchDates, runBackfill, runBatch } from '../../../src/app/batch/run-batch.js';
import { type Decoder, runIngest } from '../../../src/app/ingest.js';
import { CryptolambdaError } from '../../../src/core/errors.js';
import type { DomainEvent, TransactionEvent, UserEvent } from '../../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../../../src/core/money/decimal.js';
import { positionToJson } from '../../../src/core/portfolio/codec.js';
import { compareEvents } from '../../../src/core/portfolio/position.js';
import { dayOf, dayToJson, emptyUser, replayUser, userToJson } from '../../../src/core/speed/user-ledger.js';
import { dayEnd } from '../../../src/core/warehouse/day-build.js';
import { WAREHOUSE_TABLES } from '../../../src/core/warehouse/schema.js';
import { type Dataset, makeDataset, produceDataset, userEvents } from '../../support/events.js';
import { batchSetup, dumpTable, produceEvents, withWarehouse } from './support.js';

const D1 = '2026-01-10';
const D2 = '2026-01-11';
const D3 = '2026-01-12';

/** The whole warehouse as text, per table (what an analyst's queries see). */
const dumpAll = (lakeDir: string) =>
  withWarehouse(lakeDir, async (duck) => {
    const out: Record<string, unknown[]> = {};
    for (const t of WAREHOUSE_TABLES) out[t.name] = await dumpTable(duck, t.name).catch(() => []);
    return out;
  });

/** The core replay of every user's events up to the end of `date`: what the batch facts must equal. */
const coreReplay = (d: Dataset, date: string) => {
  const byUser = new Map<string, UserEvent[]>();
  for (const e of userEvents(d)) {
    if (e.eventTime > dayEnd(date)) continue;
    byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), e]);
  }
  const positions: Record<string, unknown>[] = [];
  const rewards: Record<string, unknown>[] = [];
  const states: Record<string, string>[] = [];
  const full: { userId: string; state: string }[] = [];
  for (const [userId, evs] of [...byUser].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const before = replayUser(
      emptyUser(userId),
      evs.filter((e) => dayOf(e.eventTime) < date),
    ).state;
    const r = replayUser(emptyUser(userId), evs);
    // Stored with the open lots apart (as fact_lot_daily rows); `full` is the state with them inline.
    states.push({ user_id: userId, state_json: JSON.stringify(userToJson(r.state, true, 'large')) });
    full.push({ userId, state: JSON.stringify(userToJson(r.state)) });
    for (const p of [...r.state.positions.values()].sort((a, b) => (a.asset < b.asset ? -1 : 1))) {
      const eventsDay = p.eventCount - (before.positions.get(p.asset)?.eventCount ?? 0);
      if (p.quantity.isZero() && p.costBasis.isZero() && eventsDay === 0) continue;
      positions.push({ ...positionToJson(p), eventsDay: String(eventsDay) });
    }
    const day = r.days.get(date);
    if (day) rewards.push({ userId, ...dayToJson(day) });
  }
  return { positions, rewards, states, full };
};

const lastClose = (d: Dataset, symbol: string, date: string): string => {
  const last = d.prices
    .filter((p) => p.symbol === symbol && p.eventTime <= dayEnd(date))
    .sort(compareEvents)
    .at(-1)!;
  return last.price.toString();
};

const warehousePositions = (lakeDir: string, date: string) =>
  withWarehouse(lakeDir, (duck) =>
    duck.rows<Record<string, string>>(
      `SELECT user_id AS "userId", asset, CAST(quantity_held AS VARCHAR) AS quantity, CAST(staked AS VARCHAR) AS staked,
              CAST(cost_basis AS VARCHAR) AS "costBasis", CAST(realized_pnl AS VARCHAR) AS "realizedPnl",
              CAST(fees_paid AS VARCHAR) AS "feesPaid", CAST(reward_income AS VARCHAR) AS "rewardIncome",
              event_count::INTEGER AS "eventCount", last_event_time_ms::DOUBLE AS "lastEventTime", last_event_id AS "lastEventId",
              CAST(events_day AS VARCHAR) AS "eventsDay"
       FROM fact_portfolio_daily WHERE date = $1::DATE ORDER BY user_id, asset`,
      [date],
    ),
  );

describe('batch: a simulated day through Kafka, ingest and batch equals the core replay', () => {
  it('builds two dates (the second from the first snapshot), survives a crash before publish, rebuilds identically, and picks up late data', async () => {
    const config = await batchSetup();
    const data = makeDataset({ seed: 11, start: Date.UTC(2026, 0, 10, 23, 30), minutes: 60, users: 40 });
    await produceDataset(config, data);
    const ingest = await runIngestRaw(config);
    expect(ingest.deadLetters).toBe(0);
    expect(ingest.dates).toEqual([D1, D2]);

    // reconcile's table lives outside the build ledger: the batch's orphan cleanup must leave it alone.
    const recon = path.join(config.lakeDir, 'warehouse', 'fact_reconciliation', `dt=${D1}`, 'reconciliation.parquet');
    mkdirSync(path.dirname(recon), { recursive: true });
    await withWarehouse(config.lakeDir, (duck) =>
      duck.run(`COPY (SELECT DATE '2026-01-10' AS date, 'u0001' AS user_id) TO ${literal(recon)} (FORMAT parquet)`),
    );
    const b1 = await runBatch(config, { date: D1 });
    expect(b1.fromHistory).toBe(true);
    expect(b1.rejects).toBe(b1.rejectsByCode.INSUFFICIENT_HOLDINGS ?? 0);

    // Crash after every file of D2 is written, before the ledger publish: nothing of D2 is visible.
    await expect(
      runBatch(config, {
        date: D2,
        beforePublish: async () => {
          throw new Error('injected crash');
        },
      }),
    ).rejects.toThrow('injected crash');
    expect((await readLedger(config.lakeDir)).builds[D2]).toBeUndefined();
    const afterCrash = await dumpAll(config.lakeDir);
    expect(afterCrash.fact_portfolio_daily!.every((r) => (r as { date: string }).date === D1)).toBe(true);

    const b2 = await runBatch(config, { date: D2 });
    expect(b2.fromHistory).toBe(false);
    expect(b2.orphansRemoved).toBe(13); // the crashed run's 7 shard files + its tier file + 2 global date files + 3 dims
    const first = await dumpAll(config.lakeDir);
    // One batch at a time per lake: a second one started while D2 is being rebuilt is refused.
    let concurrent: unknown;
    const again = await runBatch(config, {
      date: D2,
      beforePublish: async () => {
        concurrent = await runBatch(config, { date: D1 }).catch((e) => e);
      },
    });
    expect(concurrent).toBeInstanceOf(CryptolambdaError);
    expect((concurrent as CryptolambdaError).code).toBe('CONFLICT');
    expect((concurrent as CryptolambdaError).message).toMatch(
      /^another batch is running on this lake \(pid \d+ on .*, batch 2026-01-11, since /,
    );
    expect(again.rows).toEqual(b2.rows);
    expect(await dumpAll(config.lakeDir)).toEqual(first);

    for (const date of [D1, D2]) {
      const want = coreReplay(data, date);
      expect(await warehousePositions(config.lakeDir, date)).toEqual(want.positions);
      const rewards = await withWarehouse(config.lakeDir, (duck) =>
        duck.rows<Record<string, unknown>>(
          `SELECT user_id AS "userId", CAST(spend AS VARCHAR) AS spend, CAST(cashback_owed AS VARCHAR) AS "cashbackOwed",
                  CAST(cashback_capped AS VARCHAR) AS "cashbackCapped", CAST(cashback_paid AS VARCHAR) AS "cashbackPaid",
                  CAST(staking_income AS VARCHAR) AS "stakingIncome", CAST(realized_pnl AS VARCHAR) AS "realizedPnl",
                  tier_at_time AS tier, CAST(rolling_30d_spend AS VARCHAR) AS "spend30d", events::INTEGER AS events,
                  rejected::INTEGER AS rejected
           FROM fact_reward_daily WHERE date = $1::DATE ORDER BY user_id`,
          [date],
        ),
      );
      expect(rewards).toEqual(want.rewards);
      const states = await withWarehouse(config.lakeDir, (duck) =>
        duck.rows(`SELECT user_id, state_json FROM snapshot_user_state WHERE date = $1::DATE ORDER BY user_id`, [date]),
      );
      expect(states).toEqual(want.states);
      // The snapshot with its lots read back from fact_lot_daily is the whole core state, lot by lot.
      const reader = await WarehouseReader.open(config.lakeDir);
      try {
        const back: { userId: string; state: string }[] = [];
        for await (const s of reader.snapshotStates(date))
          back.push({ userId: s.userId, state: JSON.stringify(s.state) });
        expect(back).toEqual(want.full);
        const one = want.full.at(-1)!;
        expect(JSON.stringify(await reader.snapshot(one.userId, date))).toBe(one.state);
      } finally {
        reader.close();
      }
      const closes = await withWarehouse(config.lakeDir, (duck) =>
        duck.rows<{ asset: string; close: string }>(
          `SELECT DISTINCT asset, CAST(close_price AS VARCHAR) AS close FROM fact_portfolio_daily WHERE date = $1::DATE ORDER BY asset`,
          [date],
        ),
      );
      expect(closes).toEqual(
        ['BTC', 'ETH', 'SOL'].map((a) => ({ asset: a, close: lastClose(data, `${a}USDT`, date) })),
      );
    }
    // Every published file is listed in the ledger; the crashed run's files are not visible to readers.
    expect(Object.keys(first)).toHaveLength(WAREHOUSE_TABLES.length);

    // A late event dated D1 (a buy) arrives after D1 and D2 were built.
    const late: TransactionEvent = {
      kind: 'transaction',
      eventId: 'late-1',
      userId: 'u0001',
      type: 'buy',
      asset: 'BTC',
      quantity: Decimal.parse('2', QTY_SCALE),
      price: Decimal.parse('43000', PRICE_SCALE),
      fee: Decimal.zero(USD_SCALE),
      feeAsset: 'USD',
      eventTime: Date.UTC(2026, 0, 10, 23, 59, 0),
    };
    await produceEvents(config, [late]);
    const li = await runIngestRaw(config);
    expect(li.lateDates).toEqual([D1]);
    expect(Object.keys((await readManifest(config.lakeDir)).late ?? {})).toEqual([D1]);
    expect(await pendingBatchDates(config.lakeDir)).toEqual({ unbuilt: [], stale: [D1, D2], rebuild: [D1, D2] });
    // D2's carry-forward (D1's snapshot) is stale now: D2 replays all history and includes the late buy.
    const late2 = await runBatch(config, { date: D2 });
    expect(late2.fromHistory).toBe(true);
    const withLate: Dataset = { ...data, transactions: [...data.transactions, late] };
    expect(await warehousePositions(config.lakeDir, D2)).toEqual(coreReplay(withLate, D2).positions);
    await runBatch(config, { date: D1 });
    expect((await pendingBatchDates(config.lakeDir)).rebuild).toEqual([]);
    expect(await warehousePositions(config.lakeDir, D1)).toEqual(coreReplay(withLate, D1).positions);

    // A date without raw data fails clearly, unless --allow-empty (positions carry forward).
    const err = await runBatch(config, { date: D3 }).catch((e) => e);
    expect(err).toBeInstanceOf(CryptolambdaError);
    expect(err.code).toBe('NO_DATA');
    expect(err.message).toMatch(/^no raw data for 2026-01-12 in /);
    const empty = await runBatch(config, { date: D3, allowEmpty: true });
    expect(empty).toMatchObject({ empty: true, fromHistory: false, events: 0, activeUsers: 0 });
    expect(empty.rows.fact_reward_daily).toBe(0);
    const carried = await warehousePositions(config.lakeDir, D3);
    expect(carried.map(({ eventsDay: _e, ...p }) => p)).toEqual(
      (await warehousePositions(config.lakeDir, D2))
        .filter((p) => p.quantity !== '0.000000000000000000' || p.costBasis !== '0.000000000000')
        .map(({ eventsDay: _e, ...p }) => p),
    );
    expect(carried.every((p) => p.eventsDay === '0')).toBe(true);

    // Backfill walks dates in order, each from the one before.
    const bf = await runBackfill(config, { from: D1, to: D3, allowEmpty: true });
    expect(bf.map((r) => [r.date, r.fromHistory])).toEqual([
      [D1, true],
      [D2, false],
      [D3, false],
    ]);
    const dims = await withWarehouse(config.lakeDir, async (duck) => ({
      dates: await dumpTable(duck, 'dim_date'),
      assets: await dumpTable(duck, 'dim_asset'),
      users: (await dumpTable(duck, 'dim_user')).length,
    }));
    expect(dims.dates.map((d) => d.date)).toEqual([D1, D2, D3]);
    expect(dims.dates[0]).toMatchObject({ iso_week: '2', day_of_week: '6', is_weekend: 'true' });
    expect(dims.assets.map((a) => [a.asset, a.symbol, a.first_seen])).toEqual([
      ['BTC', 'BTCUSDT', D1],
      ['ETH', 'ETHUSDT', D1],
      ['SOL', 'SOLUSDT', D1],
    ]);
    expect(dims.users).toBe(empty.users);
    expect(existsSync(recon)).toBe(true);
    // The analysts' catalog has a view per table over the published files (and reconcile's).
    expect(readdirSync(config.lakeDir)).toContain('warehouse.duckdb');
    const catalog = await Duck.open(path.join(config.lakeDir, 'warehouse.duckdb'));
    try {
      // As `cd lake && duckdb warehouse.duckdb` resolves them: paths are relative to the lake.
      await catalog.run(`SET file_search_path = '${config.lakeDir}'`);
      const views = await catalog.rows<{ n: string }>(
        `SELECT view_name AS n FROM duckdb_views() WHERE NOT internal ORDER BY 1`,
      );
      expect(views.map((v) => v.n)).toEqual([...WAREHOUSE_TABLES.map((t) => t.name), 'fact_reconciliation'].sort());
      const [n] = await catalog.rows<{ n: bigint }>(
        `SELECT count(*) AS n FROM fact_portfolio_daily WHERE date = DATE '2026-01-12'`,
      );
      expect(Number(n!.n)).toBe(carried.length);
    } finally {
      catalog.close();
    }
    // A moved lake keeps a working catalog: the views name files relative to the lake.
    const moved = path.join(path.dirname(config.lakeDir), `moved-${path.basename(config.lakeDir)}`);
    cpSync(config.lakeDir, moved, { recursive: true });
    const elsewhere = await Duck.open(path.join(moved, 'warehouse.duckdb'));
    try {
      const [sql] = await elsewhere.rows<{ s: string }>(
        `SELECT sql AS s FROM duckdb_views() WHERE view_name = 'fact_portfolio_daily'`,
      );
      expect(sql!.s).not.toContain(config.lakeDir);
      await elsewhere.run(`SET file_search_path = '${moved}'`);
      const [n] = await elsewhere.rows<{ n: bigint }>(
        `SELECT count(*) AS n FROM fact_portfolio_daily WHERE date = DATE '2026-01-12'`,
      );
      expect(Number(n!.n)).toBe(carried.length);
      // Event times are also a UTC TIMESTAMP in µs (never ns): what Spark and Hive read as TIMESTAMP.
      const [t] = await elsewhere.rows<{ ok: boolean; lt: string }>(
        `SELECT bool_and(last_event_time = make_timestamptz(last_event_time_ms * 1000)) AS ok,
                any_value(typeof(last_event_time)) AS lt FROM fact_portfolio_daily`,
      );
      expect(t).toEqual({ ok: true, lt: 'TIMESTAMP WITH TIME ZONE' });
    } finally {
      elsewhere.close();
      rmSync(moved, { recursive: true, force: true });
    }
    expect(
      readdirSync(path.join(config.lakeDir, 'warehouse', '_staging'), { recursive: true }).filter((f) =>
        String(f).endsWith('.parquet'),
      ),
    ).toEqual([]);
  });
});

describe('batch: row-level problems go to batch_rejects with the reason', () => {
  it('records invalid raw rows, accounting rejects and duplicates, and counts them in the facts', async () => {
    const config = await batchSetup();
    const t = Date.UTC(2026, 0, 10, 12);
    const tx = (id: string, type: TransactionEvent['type'], qty: string, dt = 0): TransactionEvent => ({
      kind: 'transaction',
      eventId: id,
      userId: 'alice',
      type,
      asset: 'BTC',
      quantity: Decimal.parse(qty, QTY_SCALE),
      price: Decimal.parse('40000', PRICE_SCALE),
      fee: Decimal.zero(USD_SCALE),
      feeAsset: 'USD',
      eventTime: t + dt,
    });
    const events: DomainEvent[] = [
      tx('r-1', 'buy', '1'),
      tx('r-2', 'sell', '5', 1000), // beyond holdings
      tx('r-1', 'buy', '1'), // the same event again
      tx('r-3', 'sell', '-1', 2000), // negative: only a lenient decoder lets this into the raw zone
    ];
    await produceEvents(config, events.slice(0, 3));
    // One ingest at a time per lake (two would publish the same offsets twice).
    const both = await Promise.allSettled([runIngestRaw(config), runIngestRaw(config)]);
    expect(both.map((b) => b.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = both.find((b) => b.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason.message).toMatch(/^another ingest is running on this lake/);
    expect(
      (both.find((b) => b.status === 'fulfilled') as PromiseFulfilledResult<{ records: number }>).value.records,
    ).toBe(3);
    // A decoder that accepts anything (as a buggy or older ingest might): the batch re-validates.
    const lenient: Decoder = () => ({ ok: true, event: events[3]! });
    const { produceRaw } = await import('./support.js');
    await produceRaw(config, [
      {
        kind: 'transaction',
        eventId: 'r-3',
        userId: 'alice',
        type: 'sell',
        asset: 'BTC',
        quantity: '-1',
        price: '40000',
        fee: '0',
        feeAsset: 'USD',
        eventTime: t + 2000,
      },
    ]);
    await runIngest(config, { decode: lenient, onReject: async () => undefined });

    const r = await runBatch(config, { date: D1 });
    expect(r.rejectsByCode).toEqual({ INSUFFICIENT_HOLDINGS: 1, DUPLICATE: 1, INVALID: 1 });
    const rows = await withWarehouse(config.lakeDir, (duck) => dumpTable(duck, 'batch_rejects'));
    expect(rows.map((x) => [x.event_id, x.code, x.source_table, x.user_id])).toEqual([
      ['r-1', 'DUPLICATE', 'transactions', 'alice'],
      ['r-2', 'INSUFFICIENT_HOLDINGS', 'transactions', 'alice'],
      ['r-3', 'INVALID', 'transactions', 'alice'],
    ]);
    expect(rows[1]!.reason).toBe('sell of 5 BTC exceeds available 1 (held 1, staked 0)');
    expect(rows[2]!.reason).toBe('quantity: must be > 0, got -1.000000000000000000');
    expect(JSON.parse(rows[1]!.event_json!)).toMatchObject({ eventId: 'r-2', quantity: '5.000000000000000000' });
    const rw = await withWarehouse(config.lakeDir, (duck) => dumpTable(duck, 'fact_reward_daily'));
    expect(rw.map((x) => [x.user_id, x.events, x.rejected])).toEqual([['alice', '2', '1']]);
    expect(path.basename(config.lakeDir)).toMatch(/^cl-batch-/);
  });
});

describe('batch: prices and correlations', () => {
  it('daily OHLCV per symbol, and 30/90-day correlations from the daily closes (golden case 27)', async () => {
    const config = await batchSetup();
    const closes = { BTC: ['100', '110', '121', '108.9'], ETH: ['10', '12', '14.4', '11.52'] };
    const dates = ['2026-02-01', '2026-02-02', '2026-02-03', '2026-02-04'];
    const prices: DomainEvent[] = [];
    for (const [asset, cs] of Object.entries(closes))
      cs.forEach((close, i) => {
        const day = Date.parse(`${dates[i]}T00:00:00Z`);
        // An earlier, higher trade and the closing trade of the day (plus a duplicate of it).
        for (const [k, p, t] of [
          ['open', '1000', day + 1000],
          ['close', close, day + 86_000_000],
          ['close', close, day + 86_000_000],
        ] as const)
          prices.push({
            kind: 'price',
            eventId: `synthetic:${asset}USDT:${i}-${k}`,
            symbol: `${asset}USDT`,
            price: Decimal.parse(p, PRICE_SCALE),
            quantity: Decimal.parse('0.5', QTY_SCALE),
            eventTime: t,
            tradeId: `${i}-${k}`,
            source: 'synthetic',
          });
      });
    await produceEvents(config, prices);
    await runIngestRaw(config);
    // The last date alone (earlier closes from the raw zone), then every date in order (earlier
    // closes from the published fact_price_daily): the same correlations.
    const corr = () =>
      withWarehouse(config.lakeDir, (duck) => dumpTable(duck, 'fact_asset_correlation', `date = DATE '2026-02-04'`));
    await runBatch(config, { date: '2026-02-04' });
    const alone = await corr();
    expect(alone.map((r) => [r.window_days, r.asset_a, r.asset_b, r.observations, r.correlation])).toEqual([
      ['30', 'BTC', 'ETH', '3', '1.000000000000'],
      ['90', 'BTC', 'ETH', '3', '1.000000000000'],
    ]);
    await runBackfill(config, { from: dates[0]!, to: dates[3]! });
    expect(await corr()).toEqual(alone);
    const daily = await withWarehouse(config.lakeDir, (duck) =>
      dumpTable(duck, 'fact_price_daily', `date = DATE '2026-02-03'`),
    );
    expect(daily).toEqual([
      {
        date: '2026-02-03',
        symbol: 'BTCUSDT',
        asset: 'BTC',
        open: '1000.000000000000',
        high: '1000.000000000000',
        low: '121.000000000000',
        close: '121.000000000000',
        volume: '1.000000000000000000',
        trades: '2',
      },
      {
        date: '2026-02-03',
        symbol: 'ETHUSDT',
        asset: 'ETH',
        open: '1000.000000000000',
        high: '1000.000000000000',
        low: '14.400000000000',
        close: '14.400000000000',
        volume: '1.000000000000000000',
        trades: '2',
      },
    ]);
  });
});
