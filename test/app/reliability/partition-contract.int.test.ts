import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ensureTopics, withAdmin } from '../../../src/adapters/kafka/client.js';
import { TOPICS, topicName } from '../../../src/core/topics.js';
import { runCli } from '../../support/cli.js';
import { cleanupTopicsAfter, testConfig } from '../../support/int.js';

const partitionsOf = (config: ReturnType<typeof testConfig>, topic: string) =>
  withAdmin(config, async (a) => (await a.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.length);

describe('the partition contract is enforced, never grown silently', () => {
  it('stack up, stream and ingest refuse raw topics with the wrong partition count and name the fix; the procedure fixes it', async () => {
    const lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-parts-'));
    onTestFinished(() => rmSync(lakeDir, { recursive: true, force: true }));
    const config = testConfig({ lakeDir });
    cleanupTopicsAfter(config);
    const tx = topicName(config.topicPrefix, 'transactions');
    // What an operator (or another tool) did by hand: the user topic pre-created with 2 partitions.
    await withAdmin(config, (a) => a.createTopics({ waitForLeaders: true, topics: [{ topic: tx, numPartitions: 2 }] }));

    await expect(withAdmin(config, (a) => ensureTopics(a, config.topicPrefix))).rejects.toMatchObject({
      code: 'PARTITION_MISMATCH',
      message: `topic partition counts break the contract: ${tx} has 2, expected ${TOPICS.transactions.partitions}`,
    });
    // Before: grown to 6 silently, re-keying every user.
    expect(await partitionsOf(config, tx)).toBe(2);

    const env = { CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix, CRYPTOLAMBDA_LAKE_DIR: lakeDir };
    for (const args of [['stack', 'up'], ['stream', '--exit-when-idle', '1'], ['ingest']]) {
      const r = await runCli(args, env);
      expect({ args, code: r.code }).toEqual({ args, code: 11 });
      expect(r.stderr).toContain(`Error: topic partition counts break the contract: ${tx} has 2, expected 6`);
      expect(r.stderr).toContain('docs/runbook.md ("Repartitioning")');
    }
    expect(await partitionsOf(config, tx)).toBe(2);

    // The runbook's procedure (nothing to keep in these topics here): delete the wrong topics, let
    // `stack up` recreate them from the contract, then the commands run.
    await withAdmin(config, (a) => a.deleteTopics({ topics: [tx] }));
    for (let i = 0; i < 50; i++) {
      const up = await runCli(['stack', 'up'], env);
      if (up.code === 0) break;
      await new Promise((r) => setTimeout(r, 200)); // topic deletion is asynchronous in KRaft
    }
    expect(await partitionsOf(config, tx)).toBe(6);
    expect((await runCli(['ingest'], env)).code).toBe(0);
    // What the CLI writes is private to its user (umask 077, the lake root tightened to 0700).
    expect((statSync(lakeDir).mode & 0o777).toString(8)).toBe('700');
  });
});
