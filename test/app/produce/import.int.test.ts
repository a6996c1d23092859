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

    // The same export again: same event ids, so every event is a duplicate the batch skips.
    await runProduceImport(config, { table: 'transactions', file: TX });
    await runProduceImport(config, { table: 'rewards', file: RW });
    await runIngestRaw(config);
    await runBatch(config, { date: DATE, allowEmpty: true });
    const after = await facts(config.lakeDir);
    expect(after.portfolio).toEqual(before.portfolio);
    expect(after.rewards).toEqual(before.rewards);
    const dup = (r: typeof after.rejects) => r.find((x) => x.code === 'DUPLICATE')?.n ?? '0';
    expect(Number(dup(after.rejects)) - Number(dup(before.rejects))).toBe(6);
    expect(after.rejects.filter((x) => x.code !== 'DUPLICATE')).toEqual(
      before.rejects.filter((x) => x.code !== 'DUPLICATE'),
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
});
