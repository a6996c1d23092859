import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { runCli } from '../support/cli.js';

// The built CLI, no stack needed: flag errors, the no-data contract and the --json shape.
const emptyLake = (): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cl-batch-cli-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

describe('cryptolambda batch (built CLI)', { timeout: 60_000 }, () => {
  it('rejects a date that is not a calendar date with exit 2', async () => {
    const r = await runCli(['batch', '--date', '2025-02-29']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('Error: --date: expected a date YYYY-MM-DD, got "2025-02-29"\n');
  });

  it('needs --date or --from/--to, not both', async () => {
    expect(await runCli(['batch'])).toMatchObject({
      code: 2,
      stderr: 'Error: pass --date D, or --from A --to B\nHint: see --help\n',
    });
    const both = await runCli(['batch', '--date', '2025-01-01', '--from', '2025-01-01', '--to', '2025-01-02']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--from=2025-01-01 cannot also be provided when using --date');
    const reversed = await runCli(['batch', '--from', '2025-01-03', '--to', '2025-01-01'], {
      CRYPTOLAMBDA_LAKE_DIR: emptyLake(),
    });
    expect(reversed).toMatchObject({ code: 2, stderr: 'Error: --from 2025-01-03 is after --to 2025-01-01\n' });
  });

  it('a date without raw data exits 9 with a hint, as text and as JSON', async () => {
    const lake = emptyLake();
    const r = await runCli(['batch', '--date', '2025-01-01'], { CRYPTOLAMBDA_LAKE_DIR: lake });
    expect(r.code).toBe(9);
    expect(r.stderr).toBe(
      `Error: no raw data for 2025-01-01 in ${path.join(lake, 'raw')} (manifest commit 0)\n` +
        'Hint: run `cryptolambda ingest` first, or pass --allow-empty to carry positions forward without new events\n',
    );
    const j = await runCli(['batch', '--date', '2025-01-01', '--json'], { CRYPTOLAMBDA_LAKE_DIR: lake });
    expect(j.code).toBe(9);
    expect(JSON.parse(j.stdout).error.code).toBe('NO_DATA');
  });

  it('batch publish without shards exits 9 and says what to run; --shard is checked', async () => {
    const lake = emptyLake();
    const r = await runCli(['batch', 'publish', '--date', '2025-01-01'], { CRYPTOLAMBDA_LAKE_DIR: lake });
    expect(r).toMatchObject({
      code: 9,
      stderr:
        'Error: no shard of 2025-01-01 has been built\nHint: run `cryptolambda batch --date 2025-01-01 --shard i/N` for every i, then publish\n',
    });
    const bad = await runCli(['batch', '--date', '2025-01-01', '--shard', '2/2'], { CRYPTOLAMBDA_LAKE_DIR: lake });
    expect(bad).toMatchObject({
      code: 2,
      stderr: 'Error: --shard: expected i/N with 0 <= i < N (e.g. 0/4), got "2/2"\n',
    });
  });

  it('--allow-empty builds the date; --json returns { dates: [BatchResult] }', async () => {
    const lake = emptyLake();
    const r = await runCli(['batch', '--date', '2025-01-01', '--allow-empty', '--json'], {
      CRYPTOLAMBDA_LAKE_DIR: lake,
    });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { dates: Record<string, unknown>[] };
    expect(out.dates).toHaveLength(1);
    expect(Object.keys(out.dates[0]!).sort()).toEqual(
      [
        'activeUsers',
        'catalog',
        'date',
        'dimsRewritten',
        'empty',
        'events',
        'fromHistory',
        'orphansRemoved',
        'phases',
        'rawCommit',
        'rejects',
        'rejectsByCode',
        'rows',
        'seconds',
        'shards',
        'users',
      ].sort(),
    );
    expect(out.dates[0]).toMatchObject({
      date: '2025-01-01',
      users: 0,
      empty: true,
      rawCommit: 0,
      catalog: path.join(lake, 'warehouse.duckdb'),
      rows: {
        fact_portfolio_daily: 0,
        fact_reward_daily: 0,
        fact_price_daily: 0,
        fact_asset_correlation: 0,
        snapshot_user_state: 0,
        batch_rejects: 0,
        dim_user: 0,
        dim_asset: 0,
        dim_date: 1,
      },
    });
    const text = await runCli(['batch', '--from', '2025-01-01', '--to', '2025-01-02', '--allow-empty'], {
      CRYPTOLAMBDA_LAKE_DIR: lake,
    });
    expect(text.code).toBe(0);
    expect(
      text.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace(/; [0-9.]+ s$/, '')),
    ).toEqual([
      '2025-01-01: 0 users (0 active), 0 events, 0 rejects; fact_portfolio_daily 0, fact_reward_daily 0, fact_price_daily 0, fact_asset_correlation 0; from history, no raw data (--allow-empty); raw commit 0; 1 shard',
      '2025-01-02: 0 users (0 active), 0 events, 0 rejects; fact_portfolio_daily 0, fact_reward_daily 0, fact_price_daily 0, fact_asset_correlation 0; from the previous snapshot, no raw data (--allow-empty); raw commit 0; 1 shard',
    ]);
    // Progress lines on a pipe: one per step, each with its UTC time.
    const progress = text.stderr.trimEnd().split('\n');
    for (const l of progress) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    expect(progress.map((l) => l.slice(25))).toEqual([
      'batch 0/2 dates (2025-01-01)',
      'batch 1/2 dates',
      'batch 1/2 dates (2025-01-02)',
      'batch 2/2 dates',
    ]);
  });
});
