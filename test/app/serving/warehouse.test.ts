import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Duck } from '../../../src/adapters/duckdb/db.js';
import { reconciliationFile, writeReconciliation } from '../../../src/adapters/lake/reconciliation-writer.js';
import { publish, type WarehouseFile, writeTableFile } from '../../../src/adapters/lake/warehouse-store.js';
import { getCorrelations, getTop } from '../../../src/app/serving/analytics.js';
import { openServing, type ServingContext } from '../../../src/app/serving/context.js';
import { getPortfolio } from '../../../src/app/serving/portfolio.js';
import { getRewards } from '../../../src/app/serving/rewards.js';
import { resolveConfig } from '../../../src/config/config.js';
import { CryptolambdaError } from '../../../src/core/errors.js';
import { portfolioToJson } from '../../../src/core/serving/views.js';
import { emptyUser, replayUser, userToJson } from '../../../src/core/speed/user-ledger.js';
import {
  columnsDdl,
  FACT_ASSET_CORRELATION,
  FACT_PRICE_DAILY,
  FACT_REWARD_DAILY,
  SNAPSHOT_USER_STATE,
  type TableDef,
} from '../../../src/core/warehouse/schema.js';
import { GOLDEN_D, goldenEvents } from '../../support/serving-golden.js';

/**
 * The warehouse side of serving without Kafka or Redis: builds written through warehouse-store (as
 * the batch publishes them) and read by the serving use cases with no speed layer (batch-only).
 */
const D0 = '2026-11-19';
const D = GOLDEN_D;

let lakeDir: string;
let ctx: ServingContext;

const build = async (duck: Duck, date: string, tables: [TableDef, string][]): Promise<void> => {
  const files: WarehouseFile[] = [];
  for (const [t, values] of tables) {
    await duck.run(`CREATE OR REPLACE TABLE t (${columnsDdl(t)})`);
    await duck.run(`INSERT INTO t VALUES ${values}`);
    files.push(await writeTableFile(duck, lakeDir, t.name, date, 'SELECT * FROM t', 'ALL'));
  }
  await publish(lakeDir, { build: { date, rawCommit: 1, builtAt: `${date}T23:59:59Z`, files, stats: {} } });
};

const reward = (date: string, user: string, spend: number, paid: number, staking: number) =>
  `('${date}', '${user}', ${spend}, 0, 0, ${paid}, ${staking}, 0, 'Bronze', ${spend}, 1, 0)`;

beforeAll(async () => {
  lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-serving-wh-'));
  const duck = await Duck.open();
  try {
    // Only D0 has snapshot files: a build without them falls back to the latest earlier one.
    const alice = JSON.stringify(userToJson(replayUser(emptyUser('alice'), goldenEvents('alice').dayD).state));
    await build(duck, D0, [
      [SNAPSHOT_USER_STATE, `('${D0}', 'alice', '${alice}')`],
      [FACT_REWARD_DAILY, [reward(D0, 'alice', 100, 1, 0), reward(D0, 'bob', 50, 0, 30)].join(', ')],
    ]);
    await build(duck, D, [
      [FACT_REWARD_DAILY, [reward(D, 'alice', 10, 2, 0), reward(D, 'bob', 60, 0, 1)].join(', ')],
      [FACT_PRICE_DAILY, `('${D}', 'BTCUSDT', 'BTC', 1, 1, 1, 41000, 1, 1)`],
      [
        FACT_ASSET_CORRELATION,
        `('${D}', 30, 'BTC', 'ETH', 29, 0.812345678901), ('${D}', 90, 'BTC', 'ETH', 89, NULL), ('${D}', 30, 'BTC', 'SOL', 29, -0.25)`,
      ],
    ]);
  } finally {
    duck.close();
  }
  ctx = await openServing(resolveConfig({ lakeDir }, {}), { redis: false });
});

afterAll(() => {
  ctx?.close();
  rmSync(lakeDir, { recursive: true, force: true });
});

const code = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e) => (e instanceof CryptolambdaError ? e.code : String(e)),
  );

describe('serving over the warehouse only', () => {
  it('portfolio without a speed layer: batch-only, carried snapshot, valued at the cutoff close', async () => {
    const v = portfolioToJson(await getPortfolio(ctx, 'alice'));
    expect(v.mode).toBe('batch-only');
    expect(v.freshness.batchAsOf).toBe(D);
    expect(v.positions.map((p) => [p.asset, p.quantity, p.priceSource, p.marketValue])).toEqual([
      ['BTC', '2.000000000000000000', 'batch-close', '82000.000000000000'],
      ['ETH', '9.991000000000000000', null, null],
    ]);
    expect(v.totals.unpriced).toEqual(['ETH']);
    expect(await code(getPortfolio(ctx, 'nobody'))).toBe('NOT_FOUND');
    expect(await code(getPortfolio(ctx, "nobody' OR 1=1 --"))).toBe('INVALID_ARGUMENT');
  });

  it('rewards: batch days in the range, totals exact', async () => {
    const r = await getRewards(ctx, 'alice', { days: 7 });
    expect([r.from, r.to]).toEqual(['2026-11-14', D]);
    expect(r.days.map((d) => [d.date, d.source, d.spend, d.cashbackPaid])).toEqual([
      [D0, 'batch', '100.000000000000', '1.000000000000'],
      [D, 'batch', '10.000000000000', '2.000000000000'],
    ]);
    expect(r.totals.spend).toBe('110.000000000000');
    expect(await code(getRewards(ctx, 'alice', { from: D, to: D0 }))).toBe('INVALID_ARGUMENT');
  });

  it('correlations of a built date, optionally one window; an unbuilt date is NOT_FOUND', async () => {
    const all = await getCorrelations(ctx, {});
    expect(all).toEqual({
      date: D,
      pairs: [
        { assetA: 'BTC', assetB: 'ETH', windowDays: 30, observations: 29, correlation: '0.812345678901' },
        { assetA: 'BTC', assetB: 'SOL', windowDays: 30, observations: 29, correlation: '-0.250000000000' },
        { assetA: 'BTC', assetB: 'ETH', windowDays: 90, observations: 89, correlation: null },
      ],
      // How many built days each window needs and has (this fixture builds two dates).
      windows: [
        { windowDays: 30, neededDays: 31, builtDays: 2 },
        { windowDays: 90, neededDays: 91, builtDays: 2 },
      ],
    });
    expect((await getCorrelations(ctx, { date: D, window: 90 })).pairs).toHaveLength(1);
    expect(await code(getCorrelations(ctx, { date: '2026-11-21' }))).toBe('NOT_FOUND');
    expect(await code(getCorrelations(ctx, { date: "2026-11-20' --" }))).toBe('INVALID_ARGUMENT');
  });

  it('top by spend / rewards sums the days ending at the date; ties and limits are deterministic', async () => {
    const spend1 = await getTop(ctx, { by: 'spend' });
    expect(spend1.users.map((u) => [u.rank, u.userId, u.value])).toEqual([
      [1, 'bob', '60.000000000000'],
      [2, 'alice', '10.000000000000'],
    ]);
    const spend2 = await getTop(ctx, { by: 'spend', days: 2, limit: 1 });
    expect(spend2.users.map((u) => [u.userId, u.value])).toEqual([['alice', '110.000000000000']]);
    const rewards2 = await getTop(ctx, { by: 'rewards', date: D, days: 2 });
    expect(rewards2.users.map((u) => [u.userId, u.value, u.detail.stakingIncome])).toEqual([
      ['bob', '31.000000000000', '31.000000000000'],
      ['alice', '3.000000000000', '0.000000000000'],
    ]);
  });

  it('fact_reconciliation: one file per date, replaced whole on a re-run', async () => {
    const row = {
      date: D,
      userId: 'alice',
      subject: 'BTC',
      field: 'quantity_held',
      status: 'mismatch' as const,
      batchValue: '1.0',
      speedValue: '2.0',
      difference: '1.0',
    };
    await writeReconciliation(lakeDir, D, [
      row,
      { ...row, field: '*', status: 'missing_in_speed', speedValue: null, difference: null },
    ]);
    const again = await writeReconciliation(lakeDir, D, [row]);
    expect(again.path).toBe(reconciliationFile(lakeDir, D));
    const duck = await Duck.open();
    try {
      const rows = await duck.rows(
        `SELECT CAST(date AS VARCHAR) AS date, user_id, subject, field, status, batch_value, speed_value, difference FROM read_parquet($1)`,
        [again.path],
      );
      expect(rows).toEqual([
        {
          date: D,
          user_id: 'alice',
          subject: 'BTC',
          field: 'quantity_held',
          status: 'mismatch',
          batch_value: '1.0',
          speed_value: '2.0',
          difference: '1.0',
        },
      ]);
    } finally {
      duck.close();
    }
  });
});
