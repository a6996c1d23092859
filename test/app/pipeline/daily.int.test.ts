import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connectRedis } from '../../../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../../src/adapters/redis/speed-keys.js';
import { pipelineStateDir, runPipelineDate } from '../../../src/app/pipeline/pipeline.js';
import type { Config } from '../../../src/config/config.js';
import type { TransactionEvent } from '../../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE } from '../../../src/core/money/decimal.js';
import { SPEED_PARTITIONS } from '../../../src/core/partitioning.js';
import type { Alert, AlertSink } from '../../../src/core/pipeline/alerts.js';
import type { RunRecord } from '../../../src/core/pipeline/run.js';
import { BIN, runCli } from '../../support/cli.js';
import { type Dataset, makeDataset, produceDataset } from '../../support/events.js';
import { runStreamToIdle, streamTestConfig } from '../../support/stream.js';

/** Ten minutes of 2026-11-20 and ten of the next day: day 1 closes while the stream is fed. */
const DAY = '2026-11-20';
const START = Date.UTC(2026, 10, 20, 23, 50);

const setup = async (d: Dataset): Promise<Config> => {
  const lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-pipe-'));
  onTestFinished(() => rmSync(lakeDir, { recursive: true, force: true }));
  const config = await streamTestConfig({ lakeDir });
  await produceDataset(config, d);
  const s = await runStreamToIdle(config);
  expect(s.stoppedBy).toBe('idle');
  return config;
};

const cliEnv = (config: Config, extra: Record<string, string> = {}) => ({
  CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix,
  CRYPTOLAMBDA_LAKE_DIR: config.lakeDir,
  ...extra,
});

const ledger = (config: Config): { runs: RunRecord[] } => {
  try {
    return JSON.parse(readFileSync(path.join(pipelineStateDir(config), 'pipeline', 'runs', `${DAY}.json`), 'utf8'));
  } catch {
    return { runs: [] };
  }
};

/** An in-memory alert sink: what the runner would have posted. */
const collectingAlerts = (): AlertSink & { sent: Alert[] } => {
  const sent: Alert[] = [];
  return { sent, send: async (a) => void sent.push(a) };
};

/** A local Slack-compatible receiver: every POST body, parsed. */
const receiver = async () => {
  const bodies: unknown[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      bodies.push(JSON.parse(body));
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T0/B0/secret`, bodies };
};

describe('pipeline run: the daily DAG on the real stack', () => {
  it('runs a full day green: sensor, ingest, batch, data-quality gate and a clean reconcile', async () => {
    const config = await setup(makeDataset({ seed: 21, start: START, minutes: 20, users: 25 }));
    const alerts = collectingAlerts();
    const run = await runPipelineDate(config, DAY, {
      allowedLatenessMs: 30_000,
      sensorTimeoutMs: 10_000,
      alerts,
      backoffMs: 100,
    });
    expect(run.steps.map((s) => [s.name, s.status])).toEqual([
      ['sensor', 'succeeded'],
      ['ingest', 'succeeded'],
      ['batch', 'succeeded'],
      ['dq', 'succeeded'],
      ['reconcile', 'succeeded'],
      ['retire', 'succeeded'],
    ]);
    expect(run.status).toBe('succeeded');
    expect(run.steps.find((s) => s.name === 'reconcile')!.detail).toMatch(
      / 0 mismatched, 0 missing in batch, 0 missing in speed$/,
    );
    expect(run.steps.find((s) => s.name === 'reconcile')!.rows).toBeGreaterThan(0);
    expect(alerts.sent).toEqual([]);
    // The batch covers DAY now: its speed-layer day keys expire within 2 days, the next day's keep 8.
    const redis = await connectRedis(config);
    onTestFinished(() => redis.disconnect());
    const k = speedKeys(keyspaceFor(config.topicPrefix));
    const withUsers = [];
    for (const p of SPEED_PARTITIONS) if ((await redis.scard(k.dayUsers(DAY, p))) > 0) withUsers.push(p);
    const part = withUsers[0] ?? 0;
    const [user] = await redis.smembers(k.dayUsers(DAY, part));
    expect(user).toBeDefined();
    for (const key of [k.dayRewards(user!, DAY), k.delta(user!, DAY), k.endOfDay(user!, DAY), k.dayUsers(DAY, part)]) {
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(2 * 86_400);
    }
    const [next] = (await Promise.all(SPEED_PARTITIONS.map((p) => redis.smembers(k.dayUsers('2026-11-21', p))))).flat();
    expect(await redis.ttl(k.dayRewards(next!, '2026-11-21'))).toBeGreaterThan(7 * 86_400);

    // A second run skips everything that succeeded; cron sees exit 0 from the CLI.
    const again = await runCli(['pipeline', 'run', '--date', DAY, '--json'], cliEnv(config));
    expect(again.code).toBe(0);
    const out = JSON.parse(again.stdout);
    expect(out.status).toBe('succeeded');
    expect(out.runs[0].steps.map((s: { status: string }) => s.status)).toEqual(Array(6).fill('skipped'));
  });

  it('a DQ violation planted in the input blocks reconcile, exits 7 with one line and sends exactly one alert', async () => {
    const d = makeDataset({ seed: 22, start: START, minutes: 20, users: 10 });
    // A deposit of an asset no price feed quotes: its position cannot be valued (close_price NULL).
    const planted: TransactionEvent = {
      kind: 'transaction',
      eventId: 'planted-unpriced-deposit',
      userId: 'u-planted',
      type: 'deposit',
      asset: 'XYZ',
      quantity: Decimal.parse('5', QTY_SCALE),
      price: Decimal.parse('1', PRICE_SCALE),
      fee: Decimal.zero(QTY_SCALE),
      feeAsset: 'USD',
      eventTime: START + 60_000,
    };
    const config = await setup({ ...d, transactions: [...d.transactions, planted] });
    const hook = await receiver();
    const r = await runCli(
      ['pipeline', 'run', '--date', DAY, '--sensor-timeout', '10s', '--retries', '0'],
      cliEnv(config, { CRYPTOLAMBDA_ALERT_WEBHOOK: hook.url, CRYPTOLAMBDA_ALERT_WEBHOOK_ALLOW_HTTP: '1' }),
      120_000,
    );
    expect(r.code).toBe(7);
    const errorLines = r.stderr.split('\n').filter((l) => l.startsWith('Error: '));
    expect(errorLines).toEqual([
      expect.stringMatching(/^Error: pipeline 2026-11-20 failed: dq \(.*close_price.*\); blocked: reconcile, retire$/),
    ]);
    expect(r.stderr).not.toContain('secret'); // the webhook URL is a credential
    const last = ledger(config).runs.at(-1)!;
    expect(last.steps.map((s) => [s.name, s.status])).toEqual([
      ['sensor', 'succeeded'],
      ['ingest', 'succeeded'],
      ['batch', 'succeeded'],
      ['dq', 'failed'],
      ['reconcile', 'blocked'],
      ['retire', 'blocked'],
    ]);
    expect(hook.bodies).toHaveLength(1);
    expect(JSON.stringify(hook.bodies[0])).toContain('fact_portfolio_daily.close_price.not_null');
    expect(JSON.stringify(hook.bodies[0])).toContain('u-planted');
  });

  it('a run killed with SIGKILL mid-way resumes without redoing its finished steps', async () => {
    const config = await setup(makeDataset({ seed: 23, start: START, minutes: 20, users: 25 }));
    const child = spawn(process.execPath, [BIN, 'pipeline', 'run', '--date', DAY, '--sensor-timeout', '10s'], {
      env: { ...process.env, NO_COLOR: '1', ...cliEnv(config) },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // Kill as soon as the ledger records the batch step running (after sensor and ingest succeeded).
    const deadline = Date.now() + 60_000;
    for (;;) {
      const run = ledger(config).runs.at(-1);
      if (run?.steps.find((s) => s.name === 'batch')?.status === 'running') break;
      if (Date.now() > deadline) throw new Error('the batch step never started');
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    expect(await exited).toBeNull();
    const killed = ledger(config).runs.at(-1)!;
    expect(killed.status).toBe('running'); // what a crash leaves behind

    const alerts = collectingAlerts();
    const resumed = await runPipelineDate(config, DAY, { allowedLatenessMs: 30_000, sensorTimeoutMs: 10_000, alerts });
    expect(resumed.status).toBe('succeeded');
    expect(resumed.steps.map((s) => [s.name, s.status])).toEqual([
      ['sensor', 'skipped'],
      ['ingest', 'skipped'],
      ['batch', 'succeeded'],
      ['dq', 'succeeded'],
      ['reconcile', 'succeeded'],
      ['retire', 'succeeded'],
    ]);
    const runs = ledger(config).runs;
    expect(runs).toHaveLength(2);
    expect(runs[0]!.status).toBe('interrupted');
    expect(alerts.sent).toEqual([]);
  });

  it('SIGTERM while the sensor waits: exits 143 within seconds, one line naming the step it cut', async () => {
    const config = await setup(makeDataset({ seed: 25, start: START, minutes: 5, users: 5 }));
    // The data ends at 23:55 of DAY, so the sensor waits (up to a minute) for a watermark that never comes.
    const child = spawn(process.execPath, [BIN, 'pipeline', 'run', '--date', DAY, '--sensor-timeout', '60s'], {
      env: { ...process.env, NO_COLOR: '1', ...cliEnv(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const deadline = Date.now() + 60_000;
    while (
      ledger(config)
        .runs.at(-1)
        ?.steps.find((s) => s.name === 'sensor')?.status !== 'running'
    ) {
      if (Date.now() > deadline) throw new Error('the sensor step never started');
      await new Promise((r) => setTimeout(r, 20));
    }
    const t0 = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(stderr.split('\n').filter((l) => l.startsWith('Error: '))).toEqual([
      expect.stringMatching(/^Error: stopped by SIGTERM: pipeline 2026-11-20 .*sensor/),
    ]);
    expect(ledger(config).runs.at(-1)!.status).toBe('interrupted');
  });

  it('exits non-zero with a one-line reason when the date never completes', async () => {
    const config = await setup(makeDataset({ seed: 24, start: START, minutes: 5, users: 5 }));
    // The data ends at 23:55 of DAY: the watermark can never pass the end of DAY.
    const r = await runCli(['pipeline', 'run', '--date', DAY, '--sensor-timeout', '2s'], cliEnv(config));
    expect(r.code).toBe(7);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('Error: '))).toEqual([
      expect.stringMatching(
        /^Error: pipeline 2026-11-20 failed: sensor \(2026-11-20 is not complete: .*\); blocked: ingest, batch, dq, reconcile, retire$/,
      ),
    ]);
  });
});
