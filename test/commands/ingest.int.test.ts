import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ensureTopics, withAdmin } from '../../src/adapters/kafka/client.js';
import { readManifest } from '../../src/adapters/lake/manifest.js';
import { TOPICS } from '../../src/core/topics.js';
import { produceRaw } from '../app/batch/support.js';
import { runCli } from '../support/cli.js';
import { cleanupTopicsAfter, testConfig } from '../support/int.js';

describe('cryptolambda ingest / batch (built CLI, real Kafka)', { timeout: 120_000 }, () => {
  it('lands the topics in the raw zone, dead-letters a bad record, then batch builds the date', async () => {
    const lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-ingest-cli-'));
    onTestFinished(() => rmSync(lakeDir, { recursive: true, force: true }));
    const config = testConfig({ lakeDir });
    cleanupTopicsAfter(config);
    await withAdmin(config, (a) =>
      ensureTopics(a, config.topicPrefix, [TOPICS.prices, TOPICS.transactions, TOPICS.rewards, TOPICS.deadLetter]),
    );
    const t = Date.UTC(2026, 0, 10, 12);
    const buy = {
      kind: 'transaction',
      userId: 'alice',
      type: 'buy',
      asset: 'BTC',
      price: '40000',
      fee: '0',
      feeAsset: 'USD',
    };
    await produceRaw(config, [
      { ...buy, eventId: 'c-1', quantity: '1', eventTime: t },
      { ...buy, eventId: 'c-2', quantity: '-1', eventTime: t + 1 },
      {
        kind: 'price',
        eventId: 'synthetic:BTCUSDT:1',
        symbol: 'BTCUSDT',
        price: '41000',
        quantity: '1',
        eventTime: t,
        tradeId: '1',
        source: 'synthetic',
      },
    ]);
    const env = { CRYPTOLAMBDA_LAKE_DIR: lakeDir };
    const flags = ['--topic-prefix', config.topicPrefix];
    const r = await runCli(['ingest', '--json', ...flags], env);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ records: 3, rejected: 1, deadLetters: 1, dates: ['2026-01-10'], lateDates: [] });
    expect((await readManifest(lakeDir)).files.map((f) => [f.table, f.dt, f.rows])).toEqual(
      expect.arrayContaining([
        ['transactions', '2026-01-10', 1],
        ['prices', '2026-01-10', 1],
      ]),
    );
    const again = await runCli(['ingest', ...flags], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(
      'ingested 0 records: 0 rows in 0 files, 0 to the dead-letter topic (manifest commit 1)\n',
    );
    const b = await runCli(['batch', '--date', '2026-01-10', '--json', ...flags], env);
    expect(b.code).toBe(0);
    expect(JSON.parse(b.stdout).dates[0]).toMatchObject({
      users: 1,
      events: 1,
      rejects: 0,
      rows: { fact_portfolio_daily: 1 },
    });
  });
  it('two deployments (topic prefixes) on one broker ingest at the same time: each lands all of its own', async () => {
    const deployments = [0, 1].map(() => {
      const lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-ingest-two-'));
      onTestFinished(() => rmSync(lakeDir, { recursive: true, force: true }));
      const config = testConfig({ lakeDir });
      cleanupTopicsAfter(config);
      return config;
    });
    const t = Date.UTC(2026, 0, 11, 12);
    for (const [i, config] of deployments.entries()) {
      await withAdmin(config, (a) =>
        ensureTopics(a, config.topicPrefix, [TOPICS.prices, TOPICS.transactions, TOPICS.rewards, TOPICS.deadLetter]),
      );
      await produceRaw(
        config,
        Array.from({ length: 40 + i }, (_, j) => ({
          kind: 'transaction',
          eventId: `d${i}-${j}`,
          userId: `user${j}`,
          type: 'buy',
          asset: 'BTC',
          quantity: '1',
          price: '40000',
          fee: '0',
          feeAsset: 'USD',
          eventTime: t + j,
        })),
      );
    }
    // Same client id, different prefixes: each run's group is its own deployment's.
    const runs = await Promise.all(
      deployments.map((c) =>
        runCli(['ingest', '--json', '--topic-prefix', c.topicPrefix], { CRYPTOLAMBDA_LAKE_DIR: c.lakeDir }, 60_000),
      ),
    );
    for (const [i, r] of runs.entries()) {
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ records: 40 + i, rejected: 0 });
    }
  });
});
