import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { cleanupTopicsAfter, testConfig } from '../support/int.js';

// Truthful outcomes through the built CLI against the real Kafka: a command that did nothing says
// why and exits non-zero; dead letters are readable with their reasons; a missing topic is named.
const dir = mkdtempSync(path.join(tmpdir(), 'cl-outcomes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('truthful outcomes (built CLI, real Kafka)', () => {
  it('a replay of an unsupported file produces nothing: exit 9 with the cause; topics tail dlq shows each reason', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    const file = path.join(dir, 'BTCUSDT-trades-2025-01-01.csv');
    // The first line is taken for a header; the other two are not trades.
    writeFileSync(file, 'this,is,not\na,binance,file\nb,c\n');
    const r = await runCli(
      ['produce', 'prices', '--source', 'replay', '--file', file, '--speed', '0', '--topic-prefix', config.topicPrefix],
      { CRYPTOLAMBDA_LAKE_DIR: path.join(dir, 'lake') },
    );
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(
      /Error: produced nothing: no valid trade in .*BTCUSDT-trades-2025-01-01\.csv: 2 line\(s\) dead-lettered \(first: /,
    );
    const tail = await runCli(['topics', 'tail', 'dlq', '--from-beginning', '--topic-prefix', config.topicPrefix]);
    expect(tail.code).toBe(0);
    const lines = tail.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) {
      expect(l.length).toBeLessThanOrEqual(80);
      expect(l).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z p0@\d+ BTCUSDT-trades-2025-01-01\.csv:\d {2}replay: /);
    }
    const json = await runCli([
      'topics',
      'tail',
      'dlq',
      '--from-beginning',
      '--limit',
      '1',
      '--json',
      '--topic-prefix',
      config.topicPrefix,
    ]);
    const rec = JSON.parse(json.stdout).records[0];
    expect(rec).toMatchObject({ topic: 'dlq', partition: 0, key: 'replay' });
    expect(rec.value).toMatchObject({
      source: 'replay',
      key: 'BTCUSDT-trades-2025-01-01.csv:2',
      payload: 'a,binance,file',
    });
    expect(typeof rec.value.reason).toBe('string');
    const list = await runCli(['topics', 'list', '--json', '--topic-prefix', config.topicPrefix]);
    const dlq = JSON.parse(list.stdout).topics.find((t: { topic: string }) => t.topic === 'dlq');
    expect(dlq).toMatchObject({ present: true, partitions: 1, records: 2 });
  });

  it('an unreachable Binance feed produces nothing: exit 9 naming each connect error', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    const r = await runCli([
      'produce',
      'prices',
      '--source',
      'binance',
      '--endpoint',
      'ws://127.0.0.1:1/stream',
      '--duration',
      '3s',
      '--topic-prefix',
      config.topicPrefix,
    ]);
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(
      /Error: produced nothing: could not connect to ws:\/\/127\.0\.0\.1:1\/stream \(\d+ failed attempt\(s\): attempt 1: .*ECONNREFUSED/,
    );
    // Each attempt was also a timestamped progress line.
    expect(r.stderr).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z binance: connection \d+: .*ECONNREFUSED/m);
  });

  it('a missing topic says which and how to create it (exit 5)', async () => {
    const config = testConfig();
    const r = await runCli(['topics', 'tail', 'tier.changes', '--topic-prefix', config.topicPrefix]);
    expect(r.code).toBe(5);
    expect(r.stderr).toBe(
      `Error: topic ${config.topicPrefix}tier.changes does not exist (prefix "${config.topicPrefix}")\n` +
        'Hint: create it with `cryptolambda stack up` (creates every topic under the prefix), or check --topic-prefix; `cryptolambda topics list` shows what exists\n',
    );
  });

  it('an empty speed keyspace for the prefix is a warning, not a silent empty table', async () => {
    const config = testConfig();
    const r = await runCli(['stream', 'status', '--topic-prefix', config.topicPrefix.slice(0, -1)]);
    expect(r.stderr).toMatch(/^warning: no speed-layer state under keyspace .*is the prefix right/);
  });
});

describe('unknown user and symbol (built CLI, real Redis, empty lake)', () => {
  it('exit 5 with what is known, as one line and as JSON', async () => {
    const config = testConfig();
    const env = { CRYPTOLAMBDA_LAKE_DIR: path.join(dir, `empty-${Date.now()}`) };
    const flags = ['--topic-prefix', config.topicPrefix];
    const u = await runCli(['portfolio', 'nobody', ...flags], env);
    expect(u.code).toBe(5);
    expect(u.stderr.split('\n').slice(0, 2)).toEqual([
      'Error: no data for user nobody',
      'Hint: neither the batch (as of no build) nor the speed layer knows this user',
    ]);
    const s = await runCli(['ohlcv', 'NOPEUSDT', ...flags], env);
    expect(s.code).toBe(5);
    expect(s.stderr).toBe(
      'Error: no data for symbol NOPEUSDT\nHint: neither the batch nor the speed layer holds any symbol yet (is the topic prefix right?)\n',
    );
    const j = await runCli(['ohlcv', 'NOPEUSDT', '--json', ...flags], env);
    expect(j.code).toBe(5);
    expect(JSON.parse(j.stdout)).toEqual({
      error: {
        code: 'NOT_FOUND',
        message: 'no data for symbol NOPEUSDT',
        hint: 'neither the batch nor the speed layer holds any symbol yet (is the topic prefix right?)',
      },
    });
  });
});
