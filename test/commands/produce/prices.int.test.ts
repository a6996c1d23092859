import { spawn } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { decodeRecord } from '../../../src/adapters/avro/codec.js';
import { withAdmin } from '../../../src/adapters/kafka/client.js';
import type { Config } from '../../../src/config/config.js';
import { SyntheticPrices } from '../../../src/core/sources/synthetic.js';
import { topicName } from '../../../src/core/topics.js';
import { readTopics } from '../../app/produce/read-topic.js';
import { BIN, runCli } from '../../support/cli.js';
import { cleanupTopicsAfter, testConfig } from '../../support/int.js';

const START = '2025-01-01T00:00:00Z';

/** The first `n` events the generator makes for these options (what the CLI must have written). */
const expected = (seed: bigint, symbols: string[], n: number) => {
  const g = new SyntheticPrices({ seed, symbols, startTime: Date.parse(START) });
  return Array.from({ length: n }, () => g.next());
};

const decodedPrices = async (config: Config) => {
  const records = await readTopics(config, [topicName(config.topicPrefix, 'prices')]);
  return records.map((r) => {
    const d = decodeRecord('prices', r.value!);
    if (!d.ok) throw new Error(d.reason);
    return { key: r.key, partition: r.partition, offset: BigInt(r.offset), event: d.event };
  });
};

const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

describe('cryptolambda produce prices (built CLI, real Kafka)', () => {
  it('--source synthetic --count: decodable events keyed by symbol, exactly the seeded sequence', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
    const r = await runCli([
      'produce',
      'prices',
      '--source',
      'synthetic',
      '--symbols',
      'btcusdt, ETHUSDT,SOLUSDT',
      '--count',
      '300',
      '--rate',
      '0',
      '--seed',
      '5',
      '--start',
      START,
      '--topic-prefix',
      config.topicPrefix,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toEqual({
      source: 'synthetic',
      topic: `${config.topicPrefix}raw.prices`,
      deadLetterTopic: `${config.topicPrefix}dlq`,
      symbols,
      produced: 300,
      acked: 300,
      deadLettered: 0,
      ignored: 0,
      duplicates: 0,
      dropped: 0,
      reconnects: 0,
      backpressureWaits: 0,
      firstEventTime: Date.parse(START),
      lastEventTime: Date.parse(START) + 99 * 100,
      durationMs: expect.any(Number),
      eventsPerSec: expect.any(Number),
      stoppedBy: 'count',
      rejections: [],
      files: [],
    });

    const got = await decodedPrices(config);
    expect(got).toHaveLength(300);
    for (const g of got) expect(g.key).toBe(g.event.symbol);
    // One symbol → one partition (Java-compatible murmur2 on the key), in generation order there.
    for (const s of symbols) {
      const mine = got.filter((g) => g.event.symbol === s).sort((a, b) => Number(a.offset - b.offset));
      expect(new Set(mine.map((g) => g.partition)).size).toBe(1);
      expect(mine.map((g) => plain(g.event))).toEqual(plain(expected(5n, symbols, 300).filter((e) => e.symbol === s)));
    }
  });

  it('SIGTERM mid-run: exits 0 and every event reported as accepted is in Kafka', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    const symbols = ['BTCUSDT', 'ETHUSDT'];
    const child = spawn(
      process.execPath,
      [
        BIN,
        'produce',
        'prices',
        '--source',
        'synthetic',
        '--symbols',
        symbols.join(','),
        '--rate',
        '3000',
        '--seed',
        '9',
        '--start',
        START,
        '--topic-prefix',
        config.topicPrefix,
        '--json',
      ],
      { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    // Wait until records are landing, then a little more so batches are in flight at the signal.
    const topic = topicName(config.topicPrefix, 'prices');
    const t0 = Date.now();
    for (;;) {
      // The CLI creates the topic; right after creation the admin may briefly see no leader.
      const n = await withAdmin(config, async (a) =>
        (await a.listTopics()).includes(topic)
          ? (await a.fetchTopicOffsets(topic)).reduce((s, o) => s + Number(o.high), 0)
          : 0,
      ).catch(() => 0);
      if (n > 0) break;
      if (Date.now() - t0 > 30_000) throw new Error(`no records after 30 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 700));
    child.kill('SIGTERM');
    const code = await exited;

    expect(stderr).toBe('');
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.stoppedBy).toBe('signal');
    expect(out.produced).toBeGreaterThan(100);
    expect(out.acked).toBe(out.produced);

    const got = await decodedPrices(config);
    expect(got).toHaveLength(out.produced);
    const want = expected(9n, symbols, out.produced).map((e) => e.eventId);
    expect(got.map((g) => g.event.eventId).sort()).toEqual(want.sort());
  });

  it('rejects bad flags with exit code 2 and one line', async () => {
    const r = await runCli(['produce', 'prices', '--source', 'synthetic', '--symbols', 'BTC-USDT']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('Error: --symbols: "BTC-USDT" is not an exchange symbol\nHint: e.g. BTCUSDT,ETHUSDT\n');
    const d = await runCli(['produce', 'prices', '--source', 'synthetic', '--duration', 'soon']);
    expect(d.code).toBe(2);
    expect(d.stderr.split('\n')[0]).toBe(
      'Error: Parsing --duration: "soon" is not a duration (e.g. 500ms, 30s, 5m, 2h, 2d)',
    );
  });

  it('--source replay: all rows bad exits 9 with the summary by reason; klines and a bad checksum exit 2', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    const { mkdtempSync, writeFileSync, copyFileSync } = await import('node:fs');
    const dir = mkdtempSync(`${(await import('node:os')).tmpdir()}/replay-cli-`);
    const bad = `${dir}/BTCUSDT-trades-2025-01-01.csv`;
    writeFileSync(bad, '1,abc,1,1,1735689600000,true,true\n2,x,1,1,1735689600001,true,true\n3,1\n');
    const env = { CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix };
    const r = await runCli(['produce', 'prices', '--source', 'replay', '--speed', '0', '--file', bad], env);
    expect(r.code).toBe(9);
    expect(r.stdout).toContain('dead-lettered by reason:');
    expect(r.stdout).toContain('         2  price: not a decimal number: …');
    expect(r.stdout).toContain('         1  expected 7 columns (trades), got 2');
    expect(r.stderr).toMatch(/produced nothing: no valid trade in .*: 3 line\(s\) dead-lettered \(first: /);
    const k = await runCli(
      ['produce', 'prices', '--source', 'replay', '--file', 'fixtures/binance-archives/ETHUSDT-1m-2025-01-01.zip'],
      env,
    );
    expect(k.code).toBe(2);
    expect(k.stderr).toContain('klines are candles, not trades');
    const zip = `${dir}/BTCUSDT-trades-2025-01-01.zip`;
    copyFileSync('fixtures/binance-archives/BTCUSDT-trades-2025-01-01.zip', zip);
    writeFileSync(`${zip}.CHECKSUM`, `${'a'.repeat(64)}  BTCUSDT-trades-2025-01-01.zip\n`);
    const c = await runCli(['produce', 'prices', '--source', 'replay', '--file', zip], env);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('does not match its .CHECKSUM');
  });
});
