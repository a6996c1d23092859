import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { Gauge } from 'prom-client';
import { readReconciliationReport, reconciledDates } from '../../adapters/lake/reconciliation-writer.js';
import { newRegistry, type Registry } from '../../adapters/metrics/prometheus.js';
import { connectRedis } from '../../adapters/redis/client.js';
import { LiveFeedReader } from '../../adapters/redis/live-feed.js';
import { keyspaceFor } from '../../adapters/redis/speed-keys.js';
import type { Config } from '../../config/config.js';
import type { ReconSummary } from '../../core/serving/reconcile.js';
import { portfolioToJson } from '../../core/serving/views.js';
import { getPortfolio } from '../serving/portfolio.js';
import { LiveHub } from './live-hub.js';
import { buildServer, type ServeOptions } from './server.js';
import { ServingPool } from './serving-pool.js';

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly registry: Registry;
  close(): Promise<void>;
}

/** dist/web when running the built CLI; undefined when the dashboard was never built. */
export const defaultDashboardDir = (): string | undefined => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const d of [path.resolve(here, '../../web'), path.resolve(here, '../../../dist/web')]) {
    if (existsSync(path.join(d, 'index.html'))) return d;
  }
  return undefined;
};

/**
 * The reconcile outcome of the newest reconciled date, read from its stored report at scrape time:
 * the number the whole architecture promises stays 0.
 */
const reconcileGauges = (reg: Registry, lakeDir: string): void => {
  const latest = async (): Promise<ReconSummary | null> => {
    const d = (await reconciledDates(lakeDir)).at(-1);
    if (d === undefined) return null;
    return (await readReconciliationReport<{ summary: ReconSummary }>(lakeDir, d))?.summary ?? null;
  };
  new Gauge({
    name: 'cryptolambda_reconcile_mismatches',
    help: 'Findings of the newest reconcile report by kind (mismatched fields, rows missing on one side); must stay 0.',
    labelNames: ['kind'],
    registers: [reg],
    async collect() {
      const s = await latest().catch(() => null);
      this.set({ kind: 'mismatched_field' }, s?.fieldsMismatched ?? 0);
      this.set({ kind: 'missing_in_batch' }, s?.missingInBatch ?? 0);
      this.set({ kind: 'missing_in_speed' }, s?.missingInSpeed ?? 0);
    },
  });
  new Gauge({
    name: 'cryptolambda_reconcile_last_date_timestamp_seconds',
    help: 'Midnight UTC of the newest reconciled date (0: none yet).',
    registers: [reg],
    async collect() {
      const d = (await reconciledDates(lakeDir).catch(() => [] as string[])).at(-1);
      this.set(d === undefined ? 0 : Date.parse(`${d}T00:00:00Z`) / 1000);
    },
  });
};

/** Open the backends, build the server, listen. */
export const startServer = async (
  config: Config,
  opts: ServeOptions & { port: number; registry?: Registry },
): Promise<RunningServer> => {
  const registry = opts.registry ?? newRegistry();
  const redis = await connectRedis(config, { name: `${config.clientId}-serve`, retry: true });
  // A blocking XREAD holds its connection: the live tail gets one of its own.
  const tailRedis = await connectRedis(config, { name: `${config.clientId}-serve-live`, retry: true });
  const pool = await ServingPool.open(config, redis);
  const ks = keyspaceFor(config.topicPrefix);
  const hub = new LiveHub(
    new LiveFeedReader(tailRedis, ks),
    new LiveFeedReader(redis, ks),
    (user) => pool.use(async (ctx) => portfolioToJson(await getPortfolio(ctx, user))),
    { maxSubscribers: opts.maxSubscribers },
    registry,
  );
  reconcileGauges(registry, config.lakeDir);
  let app: FastifyInstance | undefined;
  try {
    await hub.start();
    app = await buildServer({ config, pool, redis, hub, registry }, opts);
    const url = await app.listen({ host: opts.host, port: opts.port });
    return {
      app,
      url,
      registry,
      close: async () => {
        await hub.stop();
        // Open SSE streams would hold close() forever: end them first.
        app?.server.closeAllConnections();
        await app?.close();
        pool.close();
        redis.disconnect();
        tailRedis.disconnect();
      },
    };
  } catch (err) {
    await hub.stop();
    await app?.close();
    pool.close();
    redis.disconnect();
    tailRedis.disconnect();
    throw err;
  }
};
