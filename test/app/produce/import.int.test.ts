import { describe, expect, it } from 'vitest';
import { decodeDeadLetter, decodeRecord } from '../../../src/adapters/avro/codec.js';
import { runIngestRaw } from '../../../src/app/batch/ingest-raw.js';
import { runBatch } from '../../../src/app/batch/run-batch.js';
import { runProduceImport } from '../../../src/app/produce/import.js';
import { runCli } from '../../support/cli.js';
import { batchSetup, dumpTable, withWarehouse } from '../batch/support.js';
import { readTopics } from './read-topic.js';

const TX = 'fixtures/import/transactions.jsonl';
const RW = 'fixtures/import/rewards.csv';
const DATE = '2026-01-10';

const facts = (lakeDir: string) =>
  withWarehouse(lakeDir, async (duck) => ({
    portfolio: await dumpTable(duck, 'fact_portfolio_daily'),
    rewards: await dumpTable(duck, 'fact_reward_daily'),
    rejects: await duck.rows<{ code: string; n: string }>(
      `SELECT code, CAST(count(*) AS VARCHAR) AS n FROM batch_rejects GROUP BY code ORDER BY code`,
    ),
  }));

describe('produce transactions / rewards --file (real Kafka, ingest and batch)', () => {
  it('validates every row, dead-letters the bad ones with file:line, and a re-import changes no fact', async () => {
    const config = await batchSetup();
    const tx = await runProduceImport(config, { table: 'transactions', file: TX });
    expect(tx).toMatchObject({ format: 'jsonl', rows: 7, produced: 4, deadLettered: 3, users: 2 });
    expect(tx.rejections.map((r) => r.count)).toEqual([1, 1, 1]);
    const rw = await runProduceImport(config, { table: 'rewards', file: RW });
    expect(rw).toMatchObject({ format: 'csv', rows: 4, produced: 2, deadLettered: 2 });

    const recs = await readTopics(config, [tx.topic]);
    expect(
      recs
        .map((r) => [r.key, (decodeRecord('transactions', r.value!) as { event: { eventId: string } }).event.eventId])
        .sort(),
    ).toEqual([
      ['u0001', 'exp:tx:1'],
      ['u0001', 'exp:tx:2'],
      ['u0001', 'exp:tx:5'],
      ['u0002', 'exp:tx:3'],
    ]);
    const dead = (await readTopics(config, [tx.deadLetterTopic])).map((r) => {
      const d = decodeDeadLetter(r.value!);
      if (!d.ok) throw new Error(d.reason);
      return [d.event.source, d.event.key, d.event.reason];
    });
    expect(dead).toContainEqual(['import:transactions', 'transactions.jsonl:4', 'quantity: expected a decimal string']);
    expect(dead).toContainEqual(['import:rewards', 'rewards.csv:4', 'eventTime: expected integer epoch milliseconds']);

    await runIngestRaw(config);
    await runBatch(config, { date: DATE, allowEmpty: true });
    const before = await facts(config.lakeDir);
    expect(before.portfolio.length).toBeGreaterThan(0);
    expect(before.rewards.length).toBeGreaterThan(0);

    // The same export again: same event ids, so every event is skipped: a duplicate, or TOO_LATE when
    // it is more than the user lateness behind its partition's latest event (docs/core.md §5b rule 4).
    await runProduceImport(config, { table: 'transactions', file: TX });
    await runProduceImport(config, { table: 'rewards', file: RW });
    await runIngestRaw(config);
    await runBatch(config, { date: DATE, allowEmpty: true });
    const after = await facts(config.lakeDir);
    expect(after.portfolio).toEqual(before.portfolio);
    expect(after.rewards).toEqual(before.rewards);
    const skipped = (r: typeof after.rejects) =>
      r.filter((x) => x.code === 'DUPLICATE' || x.code === 'TOO_LATE').reduce((n, x) => n + Number(x.n), 0);
    expect(skipped(after.rejects) - skipped(before.rejects)).toBe(6);
    expect(after.rejects.filter((x) => x.code !== 'DUPLICATE' && x.code !== 'TOO_LATE')).toEqual(
      before.rejects.filter((x) => x.code !== 'DUPLICATE' && x.code !== 'TOO_LATE'),
    );
  });

  it('the CLI prints a summary by reason; a file with no valid row exits 9, a bad header exits 2', async () => {
    const config = await batchSetup();
    const env = { CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix };
    const ok = await runCli(['produce', 'rewards', '--file', RW], env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('2 of 4 rewards rows from rewards.csv (csv)');
    expect(ok.stdout).toContain('dead-lettered by reason:');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const dir = mkdtempSync(`${(await import('node:os')).tmpdir()}/import-`);
    writeFileSync(`${dir}/bad.jsonl`, '{"eventId":"x"}\n');
    const none = await runCli(['produce', 'transactions', '--file', `${dir}/bad.jsonl`], env);
    expect(none.code).toBe(9);
    expect(none.stderr).toContain('no transactions produced');
    writeFileSync(`${dir}/bad.csv`, 'id,user\n1,2\n');
    const head = await runCli(['produce', 'transactions', '--file', `${dir}/bad.csv`], env);
    expect(head.code).toBe(2);
    expect(head.stderr).toContain('bad.csv:1: header: unknown field "id"');
  });

  it('warns when rows are more than the user lateness behind an earlier row of their partition (a file sorted by user)', async () => {
    const config = await batchSetup();
    const env = { CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix };
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { userPartition } = await import('../../../src/core/partitioning.js');
    // Two users on one partition, each with a day of history, listed user by user.
    const ids = Array.from({ length: 40 }, (_, i) => `srt-${i}`);
    const a = ids[0]!;
    const b = ids.find((u) => u !== a && userPartition(u) === userPartition(a))!;
    const t0 = Date.UTC(2026, 0, 10, 8);
    const row = (id: string, user: string, h: number) =>
      JSON.stringify({
        eventId: id,
        userId: user,
        type: 'deposit',
        asset: 'BTC',
        quantity: '1',
        price: '90000',
        fee: '0',
        feeAsset: 'USD',
        eventTime: t0 + h * 3_600_000,
      });
    const dir = mkdtempSync(`${(await import('node:os')).tmpdir()}/import-`);
    const rows = [row('s1', a, 0), row('s2', a, 10), row('s3', b, 1), row('s4', b, 9.5), row('s5', b, 11)];
    writeFileSync(`${dir}/by-user.jsonl`, `${rows.join('\n')}\n`);
    const r = await runCli(['produce', 'transactions', '--file', `${dir}/by-user.jsonl`], env);
    expect(r.code).toBe(0);
    // s3 (9 h behind s2) is TOO_LATE; s4 (30 min behind) is within the lateness; s5 is ahead.
    expect(r.stdout).toContain(
      'warning: 1 rows are more than speed.userLateness behind an earlier row of their partition',
    );
  });
});
