import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ensureTopics, withAdmin } from '../../../src/adapters/kafka/client.js';
import { BatchingProducer } from '../../../src/adapters/kafka/producer.js';
import { newRegistry, serveMetrics } from '../../../src/adapters/metrics/prometheus.js';
import { connectRedis } from '../../../src/adapters/redis/client.js';
import { keyspaceFor } from '../../../src/adapters/redis/speed-keys.js';
import { startServer } from '../../../src/app/serve/serve.js';
import { deleteKeyspace, runStream } from '../../../src/app/stream/run-stream.js';
import { topicName } from '../../../src/core/topics.js';
import { trade, tx } from '../../core/build.js';
import { runCli } from '../../support/cli.js';
import { cleanupTopicsAfter, testConfig } from '../../support/int.js';
import { freePort, promQuery, promtoolCheck, startDaemon, waitFor } from '../../support/prometheus.js';
import { produceEvents } from '../batch/support.js';

const D = '2026-11-20';
const at = (iso: string): number => Date.parse(iso);

/** Metric names a PromQL expression mentions (ours all start with cryptolambda_). */
const namesIn = (expr: string): string[] => [...expr.matchAll(/\bcryptolambda_[a-z0-9_]+/g)].map((m) => m[0]);

describe('metrics scraped by a real Prometheus', () => {
  it('stream, serve and the short jobs export by the conventions; Prometheus scrapes them on loopback; every Grafana panel names an exported metric', async () => {
    const config = testConfig({ lakeDir: mkdtempSync(path.join(tmpdir(), 'cl-prom-')) });
    const work = mkdtempSync(path.join(tmpdir(), 'cl-prom-work-'));
    cleanupTopicsAfter(config);
    onTestFinished(async () => {
      rmSync(config.lakeDir, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
      const r = await connectRedis(config);
      await deleteKeyspace(r, keyspaceFor(config.topicPrefix));
      r.disconnect();
    });
    await withAdmin(config, (admin) => ensureTopics(admin, config.topicPrefix));
    await produceEvents(config, [
      trade({ eventId: 'p1', symbol: 'BTCUSDT', price: '40000', quantity: '0.1', eventTime: at(`${D}T10:00:00Z`) }),
      trade({ eventId: 'p2', symbol: 'BTCUSDT', price: '40100', quantity: '0.1', eventTime: at(`${D}T23:59:00Z`) }),
      trade({
        eventId: 'p3',
        symbol: 'BTCUSDT',
        price: '40200',
        quantity: '0.1',
        eventTime: at('2026-11-21T01:00:00Z'),
      }),
      tx('buy', {
        eventId: 'u1',
        userId: 'alice',
        asset: 'BTC',
        quantity: '1',
        price: '40000',
        eventTime: at(`${D}T11:00:00Z`),
      }),
    ]);
    // One undecodable record: a dead letter with a reason category, never the raw text as a label.
    const p = await BatchingProducer.connect(config);
    await p.push(topicName(config.topicPrefix, 'prices'), [{ key: 'x', value: Buffer.from('not avro') }]);
    await p.flush();
    await p.disconnect();

    const streamReg = newRegistry();
    const streamEndpoint = await serveMetrics(streamReg, '127.0.0.1', 0);
    const stop = new AbortController();
    const worker = runStream(config, {
      metrics: streamReg,
      checkpointIntervalMs: 100,
      metricsEveryMs: 60_000,
      speed: { userIdleMs: 200 },
      signal: stop.signal,
    });
    const server = await startServer(config, { host: '127.0.0.1', port: 0, rateLimitPerMinute: 0, maxSubscribers: 10 });
    const gwPort = await freePort();
    const gw = startDaemon('prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${gwPort}`]);
    let prom: ReturnType<typeof startDaemon> | undefined;
    try {
      // Let the worker process everything, then drive the jobs and the API.
      await waitFor(
        async () =>
          (await (await fetch(`http://127.0.0.1:${streamEndpoint.port}/metrics`)).text()).includes(
            'cryptolambda_stream_records_consumed_total 5',
          )
            ? true
            : undefined,
        30_000,
        'the worker to consume 5 records',
      );
      const env = { CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix, CRYPTOLAMBDA_LAKE_DIR: config.lakeDir };
      await waitFor(
        async () => ((await fetch(`http://127.0.0.1:${gwPort}/-/ready`)).ok ? true : undefined),
        10_000,
        'pushgateway',
      );
      const ingest = await runCli(['ingest', '--metrics-pushgateway', `http://127.0.0.1:${gwPort}`], env);
      expect(ingest.code, ingest.stderr).toBe(0);
      const batchFile = path.join(work, 'batch.prom');
      const batch = await runCli(
        ['batch', '--date', D, '--metrics-textfile', batchFile, '--metrics-pushgateway', `http://127.0.0.1:${gwPort}`],
        env,
      );
      expect(batch.code, batch.stderr).toBe(0);
      const pipe = await runCli(
        ['pipeline', 'run', '--date', D, '--metrics-pushgateway', `http://127.0.0.1:${gwPort}`],
        env,
        120_000,
      );
      expect(pipe.code, pipe.stderr).toBe(0);
      expect((await fetch(`${server.url}/v1/portfolio/alice`)).status).toBe(200);
      expect((await fetch(`${server.url}/v1/portfolio/bad%20id`)).status).toBe(400);

      // Every exposition passes promtool.
      const textfile = readFileSync(batchFile, 'utf8');
      const streamText = await (await fetch(`http://127.0.0.1:${streamEndpoint.port}/metrics`)).text();
      const serveText = await (await fetch(`${server.url}/metrics`)).text();
      for (const [what, text] of [
        ['textfile', textfile],
        ['stream', streamText],
        ['serve', serveText],
      ] as const) {
        expect(await promtoolCheck(text), what).toEqual({ code: 0, out: '' });
      }
      expect(textfile).toContain('cryptolambda_job_last_run_outcome{job="batch",outcome="succeeded"} 1');
      expect(streamText).toMatch(/cryptolambda_stream_dead_letters_total\{topic="[^"]+",reason="bad_header"\} 1/);
      for (const text of [streamText, serveText]) expect(text).not.toContain('"alice"');

      const promPort = await freePort();
      const cfg = path.join(work, 'prometheus.yml');
      writeFileSync(
        cfg,
        [
          'global: { scrape_interval: 1s, evaluation_interval: 1s }',
          'scrape_configs:',
          `  - { job_name: stream, static_configs: [{ targets: ['127.0.0.1:${streamEndpoint.port}'] }] }`,
          `  - { job_name: serve, static_configs: [{ targets: ['${new URL(server.url).host}'] }] }`,
          `  - { job_name: pushgateway, honor_labels: true, static_configs: [{ targets: ['127.0.0.1:${gwPort}'] }] }`,
          '',
        ].join('\n'),
      );
      prom = startDaemon('prometheus', [
        `--config.file=${cfg}`,
        `--storage.tsdb.path=${path.join(work, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ]);
      const base = `http://127.0.0.1:${promPort}`;
      const up = await waitFor(
        async () => {
          const r = await promQuery(base, 'up');
          return r.length === 3 && r.every((s) => s.value[1] === '1') ? r : undefined;
        },
        30_000,
        'three targets up',
      ).catch((err) => {
        throw new Error(`${String(err)}\n${prom?.log()}`);
      });
      expect(up.map((s) => s.metric.job).sort()).toEqual(['pushgateway', 'serve', 'stream']);
      const one = async (q: string): Promise<number> => {
        const r = await waitFor(
          async () => ((await promQuery(base, q)).length > 0 ? promQuery(base, q) : undefined),
          10_000,
          q,
        );
        return Number(r[0]!.value[1]);
      };
      expect(await one('cryptolambda_stream_records_consumed_total')).toBe(5);
      expect(await one('sum(cryptolambda_stream_trades_total{timeliness="on_time"})')).toBe(3);
      expect(await one('sum(cryptolambda_stream_user_events_total{outcome="applied"})')).toBe(1);
      expect(
        await one(
          'sum(cryptolambda_http_request_duration_seconds_count{route="/v1/portfolio/:user",status_code="400"})',
        ),
      ).toBe(1);
      expect(await one('cryptolambda_job_last_run_outcome{job="ingest",outcome="succeeded"}')).toBe(1);
      expect(await one('cryptolambda_job_last_run_outcome{job="pipeline",outcome="succeeded"}')).toBe(1);
      expect(await one('sum(cryptolambda_reconcile_mismatches)')).toBe(0);
      expect(await one('count(cryptolambda_pipeline_step_duration_seconds)')).toBeGreaterThan(3);

      // Grafana (not installable here): the dashboard parses and names only metrics Prometheus holds.
      const names = new Set(
        ((await (await fetch(`${base}/api/v1/label/__name__/values`)).json()) as { data: string[] }).data,
      );
      const dash = JSON.parse(readFileSync(path.resolve('deploy/grafana/dashboards/cryptolambda.json'), 'utf8')) as {
        panels: { title: string; targets: { expr: string }[] }[];
      };
      expect(dash.panels.length).toBeGreaterThanOrEqual(10);
      for (const panel of dash.panels) {
        expect(panel.targets.length, panel.title).toBeGreaterThan(0);
        for (const t of panel.targets) {
          const used = namesIn(t.expr);
          expect(used.length, `${panel.title}: ${t.expr}`).toBeGreaterThan(0);
          for (const n of used) expect(names.has(n), `${panel.title}: ${n} is not exported`).toBe(true);
          // The expression is valid PromQL: Prometheus evaluates it without an error.
          await promQuery(base, t.expr);
        }
      }
    } finally {
      await prom?.stop();
      await gw.stop();
      stop.abort();
      await worker.catch(() => undefined);
      await server.close();
      await streamEndpoint.close();
    }
  }, 240_000);
});
