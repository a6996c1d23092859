import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { manifestPath, readManifest } from '../../../src/adapters/lake/manifest.js';
import { ledgerPath, readLedger } from '../../../src/adapters/lake/warehouse-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const lake = async (): Promise<string> => {
  const d = mkdtempSync(path.join(tmpdir(), 'cl-lakeschema-'));
  dirs.push(d);
  await mkdir(path.join(d, 'raw'), { recursive: true });
  await mkdir(path.join(d, 'warehouse'), { recursive: true });
  return d;
};
const file = (p: string) => ({
  table: 'prices',
  dt: '2026-11-20',
  path: p,
  rows: 1,
  bytes: 1,
  commit: 1,
  minEventTime: 0,
  maxEventTime: 0,
});
const manifest = (files: unknown[]) => ({ version: 1, commit: 1, offsets: {}, files, updatedAt: '' });

describe('lake commit files are schema-validated and every path stays inside the lake', () => {
  it('accepts a valid manifest', async () => {
    const d = await lake();
    writeFileSync(manifestPath(d), JSON.stringify(manifest([file('raw/prices/dt=2026-11-20/part-000001-a.parquet')])));
    expect((await readManifest(d)).files).toHaveLength(1);
  });

  it.each([
    ['../../../etc/hostname', /files\.0\.path must be a relative \.parquet path/],
    ['raw/../../../../etc/x.parquet', /files\.0\.path must resolve inside the lake's raw\/ directory/],
    ['/etc/x.parquet', /files\.0\.path must be a relative \.parquet path/],
    ['warehouse/fact/dt=2026-11-20/x.parquet', /must resolve inside the lake's raw\/ directory/],
  ])('refuses a manifest listing %s', async (p, msg) => {
    const d = await lake();
    writeFileSync(manifestPath(d), JSON.stringify(manifest([file(p)])));
    await expect(readManifest(d)).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringMatching(msg),
    });
  });

  it('accepts a file indexed by its Kafka partition only where its path says the same', async () => {
    const d = await lake();
    const tx = (p: string, partition: number) => ({ ...file(p), table: 'transactions', partition });
    const ok = tx('raw/transactions/dt=2026-11-20/part-000003-p7-ab12cd34.parquet', 7);
    writeFileSync(manifestPath(d), JSON.stringify(manifest([ok])));
    expect((await readManifest(d)).files[0]!.partition).toBe(7);
    for (const bad of [
      tx('raw/transactions/dt=2026-11-20/part-000003-p7-ab12cd34.parquet', 3), // index names another partition
      tx('raw/transactions/dt=2026-11-21/part-000003-p7-ab12cd34.parquet', 7), // another date's directory
      tx('raw/rewards/dt=2026-11-20/part-000003-p7-ab12cd34.parquet', 7), // another table's directory
      tx('raw/transactions/dt=2026-11-20/x/part-000003-p7-ab12cd34.parquet', 7), // below dt=
    ]) {
      writeFileSync(manifestPath(d), JSON.stringify(manifest([bad])));
      await expect(readManifest(d)).rejects.toMatchObject({
        code: 'INVALID_CONFIG',
        message: expect.stringMatching(/files\.0\.path a file indexed by partition must be/),
      });
    }
  });

  it('refuses a manifest with a non-numeric offset or missing fields', async () => {
    const d = await lake();
    writeFileSync(manifestPath(d), JSON.stringify({ ...manifest([]), offsets: { 'raw.prices': { '0': '1; DROP' } } }));
    await expect(readManifest(d)).rejects.toMatchObject({ message: expect.stringMatching(/expected a Kafka offset/) });
    writeFileSync(manifestPath(d), '{"version":1}');
    await expect(readManifest(d)).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
  });

  it('refuses a build ledger whose files point outside warehouse/', async () => {
    const d = await lake();
    const wf = { table: 'fact_price_daily', date: '2026-11-20', path: '../../etc/hostname.parquet', rows: 1, bytes: 1 };
    writeFileSync(
      ledgerPath(d),
      JSON.stringify({
        version: 1,
        builds: { '2026-11-20': { date: '2026-11-20', rawCommit: 1, builtAt: '', files: [wf], stats: {} } },
        dims: {},
      }),
    );
    await expect(readLedger(d)).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringMatching(/must resolve inside the lake's warehouse\/ directory/),
    });
  });

  it('reads whose rows a sharded build file holds, and refuses a partition outside its count', async () => {
    const d = await lake();
    const ledger = (users: unknown) => ({
      version: 1,
      builds: {
        '2026-11-20': {
          date: '2026-11-20',
          rawCommit: 1,
          builtAt: '',
          files: [
            {
              table: 'snapshot_user_state',
              date: '2026-11-20',
              path: 'warehouse/snapshot_user_state/dt=2026-11-20/part-0.parquet',
              rows: 1,
              bytes: 1,
              users,
            },
          ],
          stats: {},
        },
      },
      dims: {},
    });
    writeFileSync(ledgerPath(d), JSON.stringify(ledger({ of: 6, partitions: [0, 5] })));
    expect((await readLedger(d)).builds['2026-11-20']!.files[0]!.users).toEqual({ of: 6, partitions: [0, 5] });
    for (const [bad, msg] of [
      [{ of: 6, partitions: [6] }, /a partition must be below the partition count/],
      [{ of: 0, partitions: [] }, /users\.of/],
      [{ of: 6, partitions: [-1] }, /users\.partitions\.0/],
    ] as const) {
      writeFileSync(ledgerPath(d), JSON.stringify(ledger(bad)));
      await expect(readLedger(d)).rejects.toMatchObject({
        code: 'INVALID_CONFIG',
        message: expect.stringMatching(msg),
      });
    }
  });
});
