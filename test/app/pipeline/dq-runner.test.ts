import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Duck } from '../../../src/adapters/duckdb/db.js';
import { dqStep, runChecks } from '../../../src/app/pipeline/dq-runner.js';
import type { StepContext } from '../../../src/core/pipeline/dag.js';
import {
  type DqCheck,
  type DqResult,
  DqViolationError,
  defaultChecks,
  WAREHOUSE_SCHEMA,
} from '../../../src/core/pipeline/dq.js';

const DATE = '2024-03-02';
const PREV = '2024-03-01';

/** A clean star schema: 4 users × 2 assets on both days, rewards for 2 users on DATE. */
const seed = async (duck: Duck): Promise<void> => {
  await duck.run('CREATE TABLE dim_user (user_id VARCHAR, tier VARCHAR)');
  await duck.run('CREATE TABLE dim_asset (asset VARCHAR, name VARCHAR)');
  await duck.run(
    'CREATE TABLE fact_portfolio_daily (user_id VARCHAR, asset VARCHAR, date DATE, quantity_held DECIMAL(38,18), value_usd DECIMAL(38,8))',
  );
  await duck.run(
    'CREATE TABLE fact_reward_daily (user_id VARCHAR, date DATE, spend DECIMAL(38,12), cashback_owed DECIMAL(38,12), cashback_paid DECIMAL(38,12), staking_income DECIMAL(38,12))',
  );
  await duck.run("INSERT INTO dim_user VALUES ('u1','gold'),('u2','silver'),('u3','silver'),('u4','base')");
  await duck.run("INSERT INTO dim_asset VALUES ('BTC','Bitcoin'),('ETH','Ether')");
  for (const d of [PREV, DATE]) {
    for (const u of ['u1', 'u2', 'u3', 'u4']) {
      for (const a of ['BTC', 'ETH']) {
        await duck.run('INSERT INTO fact_portfolio_daily VALUES ($1, $2, CAST($3 AS DATE), 1.5, 100)', [u, a, d]);
      }
    }
  }
  await duck.run(
    `INSERT INTO fact_reward_daily VALUES ('u1', DATE '${DATE}', 10, 0.05, 0.05, 0),('u2', DATE '${DATE}', 0, 0, 0, 0.02)`,
  );
};

const byId = (results: readonly DqResult[]) => new Map(results.map((r) => [r.id, r]));

describe('runChecks against DuckDB', () => {
  let duck: Duck;
  beforeEach(async () => {
    duck = await Duck.open(':memory:', { threads: 1 });
    await seed(duck);
  });
  afterEach(() => duck.close());

  it('passes every default check on clean data', async () => {
    const report = await runChecks(duck, defaultChecks(), DATE);
    expect(report.results.filter((r) => !r.passed)).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.results).toHaveLength(defaultChecks().length);
  });

  it('catches exactly the planted violations, each in its own check', async () => {
    // Null key, duplicate key, negative holding, user missing from dim_user; all on DATE.
    await duck.run(`INSERT INTO fact_portfolio_daily VALUES (NULL, 'BTC', DATE '${DATE}', 2, 1)`);
    await duck.run(`INSERT INTO fact_portfolio_daily VALUES ('u2', 'ETH', DATE '${DATE}', 1.5, 100)`);
    await duck.run(
      `UPDATE fact_portfolio_daily SET quantity_held = -0.5 WHERE user_id = 'u3' AND asset = 'BTC' AND date = DATE '${DATE}'`,
    );
    await duck.run(`INSERT INTO fact_portfolio_daily VALUES ('ghost', 'ETH', DATE '${DATE}', 3, 1)`);
    // The previous day's violations are out of scope for DATE.
    await duck.run(`INSERT INTO fact_portfolio_daily VALUES (NULL, 'ETH', DATE '${PREV}', 1, 1)`);

    const report = await runChecks(duck, defaultChecks(), DATE);
    const r = byId(report.results);
    expect(report.passed).toBe(false);

    const nn = r.get('fact_portfolio_daily.keys.not_null')!;
    expect(nn.violationCount).toBe(1);
    expect(nn.sample).toEqual([
      { user_id: null, asset: 'BTC', date: DATE, quantity_held: '2.000000000000000000', value_usd: '1.00000000' },
    ]);

    const uq = r.get('fact_portfolio_daily.key.unique')!;
    expect(uq.violationCount).toBe(1);
    expect(uq.sample).toEqual([{ user_id: 'u2', asset: 'ETH', date: DATE, duplicate_rows: 2 }]);

    const neg = r.get('fact_portfolio_daily.quantity_held.non_negative')!;
    expect(neg.violationCount).toBe(1);
    expect(neg.sample[0]).toMatchObject({ user_id: 'u3', asset: 'BTC', quantity_held: '-0.500000000000000000' });

    const ref = r.get('fact_portfolio_daily.user_id.references.dim_user')!;
    expect(ref.violationCount).toBe(1);
    expect(ref.sample[0]).toMatchObject({ user_id: 'ghost', asset: 'ETH' });

    const failing = report.results.filter((x) => !x.passed).map((x) => x.id);
    expect(failing.sort()).toEqual(
      [
        'fact_portfolio_daily.keys.not_null',
        'fact_portfolio_daily.key.unique',
        'fact_portfolio_daily.quantity_held.non_negative',
        'fact_portfolio_daily.user_id.references.dim_user',
      ].sort(),
    );
  });

  it('flags a row-count drop against the previous date and reports both counts', async () => {
    await duck.run(`DELETE FROM fact_portfolio_daily WHERE date = DATE '${DATE}' AND user_id IN ('u1', 'u2')`);
    const report = await runChecks(duck, defaultChecks(), DATE);
    const rc = byId(report.results).get('fact_portfolio_daily.row_count')!;
    expect(rc.passed).toBe(false);
    expect(rc.violationCount).toBe(1);
    expect(rc.sample).toEqual([{ date: DATE, row_count: 4, previous_date: PREV, previous_row_count: 8, ratio: 0.5 }]);
    expect(report.results.filter((x) => !x.passed).map((x) => x.id)).toEqual(['fact_portfolio_daily.row_count']);
  });

  it('passes the row-count check on the first date ever, a growth day by default, and flags a jump above a configured maxRatio, stating value and bounds', async () => {
    const first = byId((await runChecks(duck, defaultChecks(), PREV)).results).get('fact_portfolio_daily.row_count')!;
    expect(first.passed).toBe(true);
    for (const u of ['u1', 'u2', 'u3', 'u4']) {
      await duck.run(
        `INSERT INTO fact_portfolio_daily VALUES ($1, 'SOL', DATE '${DATE}', 1, 1), ($1, 'ADA', DATE '${DATE}', 1, 1)`,
        [u],
      );
    }
    // The snapshot doubled (new users): no upper bound by default, so a growth day passes.
    const growth = byId((await runChecks(duck, defaultChecks(), DATE)).results).get('fact_portfolio_daily.row_count')!;
    expect(growth.passed).toBe(true);
    const strict = defaultChecks(WAREHOUSE_SCHEMA, {
      rowCountMinRatio: 0.9,
      rowCountMaxRatio: 1.5,
      freshnessMaxAgeHours: 24,
    });
    const jump = byId((await runChecks(duck, strict, DATE)).results).get('fact_portfolio_daily.row_count')!;
    expect(jump.sample).toEqual([{ date: DATE, row_count: 16, previous_date: PREV, previous_row_count: 8, ratio: 2 }]);
    expect(jump.measured).toBe(`16 rows vs 8 on ${PREV}: ratio 2.00, bounds [0.9, 1.5]`);
  });

  it('flags missing dimension rows for assets and stale data (freshness)', async () => {
    await duck.run("DELETE FROM dim_asset WHERE asset = 'ETH'");
    const report = await runChecks(duck, defaultChecks(), '2024-03-03');
    const r = byId(report.results);
    // Nothing on 2024-03-03 yet: the freshness check fails and names the newest date present.
    expect(r.get('fact_portfolio_daily.freshness')!.sample).toEqual([
      { newest: '2024-03-02 00:00:00', required_after: '2024-03-03 00:00:00' },
    ]);
    const asset = byId((await runChecks(duck, defaultChecks(), DATE)).results).get(
      'fact_portfolio_daily.asset.references.dim_asset',
    )!;
    expect(asset.violationCount).toBe(4);
    expect(asset.sample.map((s) => s.user_id)).toEqual(['u1', 'u2', 'u3', 'u4']);
  });

  it('limits the sample but counts every violation', async () => {
    await duck.run(`UPDATE fact_portfolio_daily SET quantity_held = -1 WHERE date = DATE '${DATE}'`);
    const check: DqCheck = {
      id: 'neg',
      kind: 'non_negative',
      table: 'fact_portfolio_daily',
      dateColumn: 'date',
      columns: ['quantity_held'],
    };
    const [res] = (await runChecks(duck, [check], DATE, { sampleSize: 3 })).results;
    expect(res!.violationCount).toBe(8);
    expect(res!.sample).toHaveLength(3);
  });

  it('reports a check whose table is missing as failed with the error, without throwing', async () => {
    const check: DqCheck = { id: 'missing', kind: 'not_null', table: 'no_such_table', columns: ['x'] };
    const [res] = (await runChecks(duck, [check], DATE)).results;
    expect(res!.passed).toBe(false);
    expect(res!.error).toMatch(/no_such_table/);
  });

  it('rejects a malformed date before any query runs', async () => {
    const check: DqCheck = {
      id: 'nn',
      kind: 'not_null',
      table: 'fact_portfolio_daily',
      dateColumn: 'date',
      columns: ['user_id'],
    };
    await expect(runChecks(duck, [check], "2024-03-02'; DROP TABLE dim_user; --")).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(await duck.rows('SELECT count(*) AS n FROM dim_user')).toEqual([{ n: 4n }]);
  });

  it('dqStep throws a non-retriable DqViolationError naming the failed checks', async () => {
    await duck.run(`INSERT INTO fact_portfolio_daily VALUES (NULL, 'BTC', DATE '${DATE}', 2, 1)`);
    const step = dqStep({ dependsOn: ['batch'], checks: defaultChecks(), connect: async () => duck });
    const ctx: StepContext = {
      date: DATE,
      attempt: 1,
      signal: new AbortController().signal,
      forced: false,
      log: () => {},
    };
    const err = await step.run(ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DqViolationError);
    expect((err as DqViolationError).retriable).toBe(false);
    expect((err as Error).message).toBe(
      `data-quality checks failed for ${DATE}: fact_portfolio_daily.keys.not_null: 1 row(s) with a null user_id or asset, allowed 0`,
    );
  });

  it('dqStep succeeds on clean data with a detail line', async () => {
    const step = dqStep({ dependsOn: [], checks: defaultChecks(), connect: async () => duck });
    const ctx: StepContext = {
      date: DATE,
      attempt: 1,
      signal: new AbortController().signal,
      forced: false,
      log: () => {},
    };
    expect(await step.run(ctx)).toEqual({
      rows: defaultChecks().length,
      detail: `${defaultChecks().length} checks passed`,
    });
  });
});
