import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ALERT_WEBHOOK_ALLOW_HTTP_ENV,
  ALERT_WEBHOOK_ENV,
  redact,
  WebhookAlerter,
  webhookAlerterFromEnv,
} from '../../../src/adapters/alerts/webhook.js';
import { RunLedger } from '../../../src/app/pipeline/ledger.js';
import { type PipelineEvent, PipelineRunner } from '../../../src/app/pipeline/runner.js';
import { type Alert, alertPayload } from '../../../src/core/pipeline/alerts.js';
import type { StepDef } from '../../../src/core/pipeline/dag.js';
import { DqViolationError } from '../../../src/core/pipeline/dq.js';

const SECRET_PATH = '/services/T000/B000/s3cr3tT0ken';

/** A local receiver on a random port that records every POST and answers with `status()`. */
const receiver = async (status: () => number = () => 200) => {
  const bodies: unknown[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString('utf8');
    });
    req.on('end', () => {
      bodies.push({ method: req.method, path: req.url, type: req.headers['content-type'], body: JSON.parse(raw) });
      res.statusCode = status();
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${SECRET_PATH}`;
  return { url, bodies, close: () => new Promise<void>((r) => server.close(() => r())) };
};

const failing = (name: string, dependsOn: string[], err: () => Error): StepDef => ({
  name,
  dependsOn,
  retries: 1,
  backoffMs: 1,
  run: async () => {
    throw err();
  },
});
const ok = (name: string, dependsOn: string[] = []): StepDef => ({
  name,
  dependsOn,
  retries: 0,
  backoffMs: 0,
  run: async () => ({ rows: 1 }),
});

describe('webhook alerts', () => {
  let stateDir: string;
  let rx: Awaited<ReturnType<typeof receiver>>;
  beforeEach(async () => {
    stateDir = await mkdtemp(path.join(tmpdir(), 'cl-alerts-'));
  });
  afterEach(async () => {
    await rx?.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('sends exactly one Slack-compatible alert for a failing run, never exposing the URL', async () => {
    rx = await receiver();
    const events: PipelineEvent[] = [];
    let broken = true;
    const alerter = webhookAlerterFromEnv(
      { [ALERT_WEBHOOK_ENV]: rx.url, [ALERT_WEBHOOK_ALLOW_HTTP_ENV]: '1' },
      { retryDelayMs: 1 },
    )!;
    const runner = new PipelineRunner({
      stateDir,
      steps: [
        ok('ingest'),
        {
          ...failing('batch', ['ingest'], () => new Error('duckdb: out of memory')),
          run: async () => {
            if (broken) throw new Error('duckdb: out of memory');
            return {};
          },
        },
        ok('reconcile', ['batch']),
      ],
      alerts: alerter,
      sleep: async () => {},
      onEvent: (e) => events.push(e),
    });
    const run = await runner.runDate('2024-03-01');
    expect(run.status).toBe('failed');
    expect(rx.bodies).toEqual([
      {
        method: 'POST',
        path: SECRET_PATH,
        type: 'application/json',
        body: {
          text: 'Pipeline 2024-03-01 failed: batch',
          blocks: [
            { type: 'header', text: { type: 'plain_text', text: 'Pipeline 2024-03-01 failed: batch' } },
            {
              type: 'section',
              text: { type: 'mrkdwn', text: '*batch* failed after 2 attempts: duckdb: out of memory' },
            },
            { type: 'section', text: { type: 'mrkdwn', text: 'Blocked (not run): reconcile' } },
            {
              type: 'context',
              elements: [{ type: 'mrkdwn', text: `cryptolambda pipeline · date 2024-03-01 · run ${run.runId}` }],
            },
          ],
        },
      },
    ]);
    expect(events.filter((e) => e.type === 'alert_sent')).toEqual([
      { type: 'alert_sent', date: '2024-03-01', kind: 'step_failure' },
    ]);
    // Nothing the run produced (events, ledger) contains the URL or its secret path.
    const everything = JSON.stringify(events) + JSON.stringify(await new RunLedger(stateDir).history());
    expect(everything).not.toContain(SECRET_PATH);
    expect(everything).not.toContain(rx.url);

    // A green rerun sends nothing more.
    broken = false;
    expect((await runner.runDate('2024-03-01')).status).toBe('succeeded');
    expect(rx.bodies).toHaveLength(1);
  });

  it('names the failed checks and their sample rows in a DQ alert', async () => {
    rx = await receiver();
    const report = {
      date: '2024-03-01',
      passed: false,
      results: [
        {
          id: 'fact_portfolio_daily.keys.not_null',
          kind: 'not_null' as const,
          table: 'fact_portfolio_daily',
          severity: 'error' as const,
          passed: false,
          violationCount: 1,
          sample: [{ user_id: null, asset: 'BTC' }],
        },
        {
          id: 'ok.check',
          kind: 'unique' as const,
          table: 'dim_user',
          severity: 'error' as const,
          passed: true,
          violationCount: 0,
          sample: [],
        },
      ],
    };
    const runner = new PipelineRunner({
      stateDir,
      steps: [ok('batch'), failing('dq', ['batch'], () => new DqViolationError(report)), ok('reconcile', ['dq'])],
      alerts: new WebhookAlerter({ url: rx.url }),
      sleep: async () => {},
    });
    const run = await runner.runDate('2024-03-01');
    // Not retried: DQ failures are deterministic.
    expect(run.steps.find((s) => s.name === 'dq')!.attempts).toBe(1);
    expect(rx.bodies).toHaveLength(1);
    const body = (rx.bodies[0] as { body: { text: string; blocks: { text?: { text: string } }[] } }).body;
    expect(body.text).toBe('Pipeline 2024-03-01: data-quality checks failed: fact_portfolio_daily.keys.not_null');
    expect(body.blocks[1]!.text!.text).toBe(
      '*fact_portfolio_daily.keys.not_null* on `fact_portfolio_daily`: 1 violating row\n```\n{"user_id":null,"asset":"BTC"}\n```',
    );
    expect(body.blocks[2]!.text!.text).toBe('Blocked (not run): reconcile');
  });

  it('retries once on a 5xx, then reports a failure without the URL', async () => {
    let n = 0;
    rx = await receiver(() => (++n === 1 ? 503 : 200));
    const alert: Alert = {
      kind: 'missed_deadline',
      date: '2024-03-01',
      runId: 'r1',
      deadline: '2024-03-02T06:00:00.000Z',
      pending: ['batch'],
    };
    await new WebhookAlerter({ url: rx.url, retryDelayMs: 1 }).send(alert);
    expect(rx.bodies).toHaveLength(2);
    expect((rx.bodies[1] as { body: unknown }).body).toEqual(alertPayload(alert));

    const rx2 = await receiver(() => 500);
    const err = await new WebhookAlerter({ url: rx2.url, retryDelayMs: 1 }).send(alert).catch((e: Error) => e);
    await rx2.close();
    expect(rx2.bodies).toHaveLength(2);
    expect((err as Error).message).toBe('alert webhook delivery failed (missed_deadline for 2024-03-01): HTTP 500');
  });

  it('does not retry a 4xx and times out a hung receiver, with errors free of the URL', async () => {
    rx = await receiver(() => 404);
    const alert: Alert = { kind: 'missed_deadline', date: '2024-03-01', runId: 'r1', deadline: 'x', pending: [] };
    const e404 = await new WebhookAlerter({ url: rx.url, retryDelayMs: 1 }).send(alert).catch((e: Error) => e);
    expect(rx.bodies).toHaveLength(1);
    expect(String((e404 as Error).message)).toMatch(/HTTP 404$/);

    const hung = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}${SECRET_PATH}`;
    const eTimeout = await new WebhookAlerter({ url, timeoutMs: 100, retryDelayMs: 1 })
      .send(alert)
      .catch((e: Error) => e);
    hung.closeAllConnections();
    await new Promise<void>((r) => hung.close(() => r()));
    expect((eTimeout as Error).message).toBe(
      'alert webhook delivery failed (missed_deadline for 2024-03-01): timed out',
    );

    // A port that was just free: nothing listens there.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const eRefused = await new WebhookAlerter({ url: `http://127.0.0.1:${closedPort}${SECRET_PATH}`, retryDelayMs: 1 })
      .send(alert)
      .catch((e: Error) => e);
    expect((eRefused as Error).message).toBe(
      'alert webhook delivery failed (missed_deadline for 2024-03-01): network error ECONNREFUSED',
    );
    for (const e of [e404, eTimeout, eRefused]) {
      expect(JSON.stringify({ m: (e as Error).message, s: (e as Error).stack })).not.toContain(SECRET_PATH);
    }
  });

  it('is off when the variable is unset and rejects a malformed value without echoing it', () => {
    expect(webhookAlerterFromEnv({})).toBeUndefined();
    let msg = '';
    try {
      webhookAlerterFromEnv({ [ALERT_WEBHOOK_ENV]: 'ftp://secret-host/abc' });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toBe('CRYPTOLAMBDA_ALERT_WEBHOOK: not a valid http(s) URL (value not shown)');
  });

  it('refuses plain http:// unless explicitly allowed, without echoing the URL', () => {
    const url = `http://hooks.example${SECRET_PATH}`;
    let msg = '';
    try {
      webhookAlerterFromEnv({ [ALERT_WEBHOOK_ENV]: url });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/^CRYPTOLAMBDA_ALERT_WEBHOOK: plain http:\/\/ is refused \(value not shown\)/);
    expect(webhookAlerterFromEnv({ [ALERT_WEBHOOK_ENV]: url, [ALERT_WEBHOOK_ALLOW_HTTP_ENV]: '1' })).toBeDefined();
    expect(webhookAlerterFromEnv({ [ALERT_WEBHOOK_ENV]: `https://hooks.example${SECRET_PATH}` })).toBeDefined();
  });

  it('never follows a redirect: a 307 is reported, and the alert is not re-posted elsewhere', async () => {
    const elsewhere = await receiver();
    const redirecting = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = 307;
        res.setHeader('location', elsewhere.url);
        res.end();
      });
    });
    await new Promise<void>((r) => redirecting.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}${SECRET_PATH}`;
      const alerter = new WebhookAlerter({ url, retryDelayMs: 1 });
      await expect(
        alerter.send({ kind: 'step_failure', date: '2026-11-20', runId: 'r1', failed: [], blocked: [] }),
      ).rejects.toThrow(/HTTP 307 \(redirects are not followed/);
      expect(elsewhere.bodies).toEqual([]);
    } finally {
      await new Promise<void>((r) => redirecting.close(() => r()));
      await elsewhere.close();
    }
  });

  it('redact removes the URL and its path from arbitrary text', () => {
    const url = `https://hooks.slack.com${SECRET_PATH}`;
    expect(redact(`POST ${url} failed; path ${SECRET_PATH}`, url)).toBe('POST [webhook] failed; path [webhook]');
  });
});
