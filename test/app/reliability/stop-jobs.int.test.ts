import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Duck, literal } from '../../../src/adapters/duckdb/db.js';
import { ensureTopics, withAdmin } from '../../../src/adapters/kafka/client.js';
import { readManifest } from '../../../src/adapters/lake/manifest.js';
import { readLedger } from '../../../src/adapters/lake/warehouse-store.js';
import { readRecord } from '../../../src/adapters/stack/process.js';
import type { Config } from '../../../src/config/config.js';
import { topicName } from '../../../src/core/topics.js';
import { runCli, spawnCli } from '../../support/cli.js';
import { datasetSize, makeDataset, produceDataset } from '../../support/events.js';
import { testConfig } from '../../support/int.js';

/**
 * `ingest` and `batch` on SIGTERM mid-run (issue 15 item 2): they stop within a bounded time, exit
 * 143 and say in one line what they committed and what they left (ingest: what it did not read and
 * the offsets the next run starts at; batch: the shards of D not published). A re-run then completes
 * with nothing lost or doubled. The input is large enough (about 200k records, 10 hours of one
 * day) that the signal lands mid-run; the test checks that it did.
 */
const GRACE_MS = 10_000;
const DAY = '2026-11-23';
let config: Config;
let total = 0;
let env: Record<string, string> = {};

const start = (args: string[]) => spawnCli(args, env, GRACE_MS);

const until = async (cond: () => boolean, ms: number): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** Rows of the raw zone, and distinct Kafka coordinates among them (a doubled record shows here). */
const rawZone = async (lakeDir: string): Promise<{ rows: number; distinct: number }> => {
  const m = await readManifest(lakeDir);
  if (m.files.length === 0) return { rows: 0, distinct: 0 };
  const duck = await Duck.open();
  try {
    const files = m.files.map((f) => literal(path.join(lakeDir, f.path))).join(', ');
    const [r] = await duck.rows<{ rows: bigint; distinct: bigint }>(
      `SELECT count(*) AS rows, count(DISTINCT (_topic, _partition, _offset)) AS distinct FROM read_parquet([${files}], union_by_name = true)`,
    );
    return { rows: Number(r!.rows), distinct: Number(r!.distinct) };
  } finally {
    duck.close();
  }
};

const committedOffsets = async (lakeDir: string): Promise<number> => {
  const m = await readManifest(lakeDir);
  let n = 0;
  for (const t of ['prices', 'transactions', 'rewards'] as const)
    for (const o of Object.values(m.offsets[topicName(config.topicPrefix, t)] ?? {})) n += Number(o);
  return n;
};

beforeAll(async () => {
  config = testConfig({ lakeDir: mkdtempSync(path.join(tmpdir(), 'cl-stop-jobs-')) });
  env = { CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix, CRYPTOLAMBDA_LAKE_DIR: config.lakeDir };
  await withAdmin(config, (a) => ensureTopics(a, config.topicPrefix));
  const d = makeDataset({ seed: 77, start: Date.UTC(2026, 10, 23, 8, 0), minutes: 600, users: 400 });
  total = datasetSize(d);
  await produceDataset(config, d);
  return async () => {
    rmSync(config.lakeDir, { recursive: true, force: true });
    await withAdmin(config, async (a) => {
      const mine = (await a.listTopics()).filter((t) => t.startsWith(config.topicPrefix));
      if (mine.length > 0) await a.deleteTopics({ topics: mine });
    });
  };
}, 180_000);

describe('ingest and batch stop on SIGTERM mid-run and say what they left', () => {
  it('ingest with the broker frozen: past the grace period it exits 143 naming, per topic, the records read but not in a manifest commit and the offsets the next run re-reads them from', async () => {
    const kafka = await readRecord(config.stateDir, 'kafka');
    if (!kafka) throw new Error('the test stack must be started by cryptolambda (stack up) to freeze its broker');
    const FORCED_GRACE_MS = 3000;
    const run = spawnCli(['ingest'], env, FORCED_GRACE_MS);
    await until(() => /ingest [\d,]+\/[\d,]+ records/.test(run.stderr()) || run.child.exitCode !== null, 60_000);
    // The broker stops answering: the clean stop cannot leave the group, so nothing gets committed.
    process.kill(kafka.pid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      run.child.kill('SIGTERM');
      const r = await run.exited;
      expect(r.at - t0).toBeLessThan(FORCED_GRACE_MS + 3000);
      expect(r.code, run.stderr()).toBe(143);
      const raw = `${config.topicPrefix.replaceAll('.', '\\.')}raw\\.\\w+`;
      expect(run.stderr()).toMatch(
        new RegExp(
          `stopped by SIGTERM without a clean shutdown \\(after 3 s\\); left unacknowledged: ingest: \\d+ record\\(s\\) read but not in a manifest commit \\(.*${raw} \\d+.*\\); the next run re-reads them from the manifest's offsets .*${raw}\\[\\d\\]@0`,
        ),
      );
    } finally {
      process.kill(kafka.pid, 'SIGCONT');
    }
    await withAdmin(config, (a) => a.listTopics());
    // Nothing reached the manifest: the next run starts where this one started.
    expect(await committedOffsets(config.lakeDir)).toBe(0);
  }, 120_000);

  it('ingest: commits what it read, exits 143 within the grace period with one line naming what it did not read and where the next run starts; the re-run lands the rest exactly once', async () => {
    const run = start(['ingest']);
    // The first progress line: records are being read.
    await until(() => /ingest [\d,]+\/[\d,]+ records/.test(run.stderr()) || run.child.exitCode !== null, 60_000);
    const t0 = Date.now();
    run.child.kill('SIGTERM');
    const r = await run.exited;
    expect(r.at - t0).toBeLessThan(GRACE_MS);
    expect(r.code, run.stderr()).toBe(143);
    const m =
      /stopped by SIGTERM: ingest committed the (\d+) record\(s\) it had read \(manifest commit (\d+)\); nothing was left unacknowledged; not read yet: (.*)/.exec(
        run.stderr(),
      );
    expect(m, run.stderr()).not.toBeNull();
    const committed = Number(m![1]);
    // It stopped mid-run: some records were committed, some were not read.
    expect(committed).toBeGreaterThan(0);
    expect(committed).toBeLessThan(total);
    expect(m![3]).toMatch(
      new RegExp(`${topicName(config.topicPrefix, 'prices').replaceAll('.', '\\.')} \\d+ from \\[\\d\\]@\\d+`),
    );
    expect(run.stderr()).toMatch(/Hint: run ingest again: it reads on from the manifest's offsets/);
    // What the line says is what the lake holds: the committed records, once each.
    expect(await committedOffsets(config.lakeDir)).toBe(committed);
    expect(await rawZone(config.lakeDir)).toEqual({ rows: committed, distinct: committed });
    const unread = [...(m![3] ?? '').matchAll(/ (\d+) from /g)].reduce((a, x) => a + Number(x[1]), 0);
    expect(committed + unread).toBe(total);

    const again = await runCli(['ingest', '--json'], env, 120_000);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { records: number }).records).toBe(total - committed);
    expect(await rawZone(config.lakeDir)).toEqual({ rows: total, distinct: total });
    expect(await committedOffsets(config.lakeDir)).toBe(total);
  }, 180_000);

  it('batch: stops its shards, publishes nothing, exits 143 with one line naming the unpublished shards; the re-run builds the date whole', async () => {
    const run = start(['batch', '--date', DAY, '--shards', '2']);
    // The shards are child processes: stop while they run.
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    run.child.kill('SIGTERM');
    const r = await run.exited;
    expect(r.at - t0).toBeLessThan(GRACE_MS);
    expect(r.code, run.stderr()).toBe(143);
    expect(run.stderr()).toMatch(
      new RegExp(
        `Error: stopped by SIGTERM: batch ${DAY} not published: [01] of 2 shard\\(s\\) built, [12] interrupted or not started; readers see no build of ${DAY}`,
      ),
    );
    expect(run.stderr()).toMatch(new RegExp(`Hint: run batch --date ${DAY} again: it rebuilds every shard`));
    expect((await readLedger(config.lakeDir)).builds[DAY]).toBeUndefined();

    const again = await runCli(['batch', '--date', DAY, '--shards', '2', '--json'], env, 180_000);
    expect(again.code, again.stderr).toBe(0);
    const built = (JSON.parse(again.stdout) as { dates: { users: number; events: number; rejects: number }[] })
      .dates[0]!;
    // The whole date, once: every user, every user event applied or rejected exactly once.
    const ledger = await readLedger(config.lakeDir);
    expect(ledger.builds[DAY]).toBeDefined();
    expect(built.users).toBe(400);
    const rc = await runCli(['batch', '--date', DAY, '--shards', '1', '--json'], env, 180_000);
    expect(rc.code, rc.stderr).toBe(0);
    const reference = (JSON.parse(rc.stdout) as { dates: { users: number; events: number; rejects: number }[] })
      .dates[0]!;
    expect({ users: built.users, events: built.events, rejects: built.rejects }).toEqual({
      users: reference.users,
      events: reference.events,
      rejects: reference.rejects,
    });
  }, 300_000);
});
