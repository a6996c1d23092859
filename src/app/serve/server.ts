import { timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Histogram } from 'prom-client';
import { withAdmin } from '../../adapters/kafka/client.js';
import { readLedger } from '../../adapters/lake/warehouse-store.js';
import type { Registry } from '../../adapters/metrics/prometheus.js';
import type { RedisConn } from '../../adapters/redis/client.js';
import type { Config } from '../../config/config.js';
import type { PeriodName } from '../../core/analytics/returns.js';
import { historyToJson, performanceToJson } from '../../core/analytics/series-views.js';
import { CryptolambdaError, type ErrorCode, isCryptolambdaError } from '../../core/errors.js';
import { INTERVALS_MS } from '../../core/ohlcv/candle.js';
import { gainsToJson } from '../../core/portfolio/gains.js';
import { parseDate, parseInstant, parseSymbol, parseUserId } from '../../core/serving/input.js';
import { portfolioToJson } from '../../core/serving/views.js';
import { readPipelineStatus } from '../pipeline/ledger.js';
import { pipelineStateDir } from '../pipeline/pipeline.js';
import { getCorrelations, getTop } from '../serving/analytics.js';
import { getGains } from '../serving/gains.js';
import { getHistory, getPerformance } from '../serving/history.js';
import { getOhlcv } from '../serving/ohlcv.js';
import { getPortfolio } from '../serving/portfolio.js';
import { storedReconcile } from '../serving/reconcile.js';
import { getRewards } from '../serving/rewards.js';
import { streamStatus } from '../stream/status.js';
import { LiveHub, type LiveSink } from './live-hub.js';
import { LIVE, READY, ROUTE_SCHEMAS, USER_PARAM } from './schemas.js';
import type { ServingPool } from './serving-pool.js';

export interface ServeOptions {
  readonly host: string;
  /** Bearer token every /v1 and /metrics request must carry; required off loopback. */
  readonly token?: string;
  /** Allowed CORS origins; none: no CORS headers at all. */
  readonly corsOrigins?: readonly string[];
  /** Requests per minute per client address (0: no limit). */
  readonly rateLimitPerMinute: number;
  readonly maxSubscribers: number;
  /** Directory with the built dashboard (index.html + assets); none: no dashboard. */
  readonly dashboardDir?: string;
  /** SSE comment sent this often so proxies keep idle streams open. */
  readonly heartbeatMs?: number;
}

export interface ServeDeps {
  readonly config: Config;
  readonly pool: ServingPool;
  readonly redis: RedisConn;
  readonly hub: LiveHub;
  readonly registry: Registry;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export const isLoopback = (host: string): boolean => LOOPBACK.has(host) || host.startsWith('127.');

/** Off loopback the API is reachable by others: refuse to start without a token. */
export const assertSafeBinding = (opts: Pick<ServeOptions, 'host' | 'token'>): void => {
  if (!isLoopback(opts.host) && (opts.token === undefined || opts.token === '')) {
    throw new CryptolambdaError(
      'INVALID_ARGUMENT',
      `serve binds ${opts.host}, reachable from other machines, without a token`,
      'pass --token (or CRYPTOLAMBDA_API_TOKEN), or bind 127.0.0.1',
    );
  }
  if (opts.token !== undefined && opts.token !== '' && opts.token.length < 16) {
    throw new CryptolambdaError('INVALID_ARGUMENT', 'the API token must be at least 16 characters');
  }
};

const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  INVALID_DECIMAL: 400,
  NOT_FOUND: 404,
  NO_DATA: 404,
  CONFLICT: 409,
  REDIS_UNREACHABLE: 503,
  BROKER_UNREACHABLE: 503,
};

/**
 * A failed request schema check, worded as the CLI words it: the same parser runs on the same
 * value, so `GET /v1/portfolio/a%20b` and `portfolio "a b"` print the same line.
 */
const cliValidationMessage = (err: FastifyError, req: FastifyRequest): { message: string; hint?: string } => {
  const v = err.validation?.[0];
  const field = (v?.instancePath ?? '').replace(/^\//, '') || String(v?.params?.missingProperty ?? '');
  const where = err.validationContext === 'params' ? req.params : req.query;
  const value = (where as Record<string, unknown> | undefined)?.[field];
  const parsers: Record<string, (s: string) => unknown> = {
    user: parseUserId,
    symbol: parseSymbol,
    date: (s) => parseDate(s, 'date'),
    from: (s) => parseDate(s, 'from'),
    to: (s) => parseDate(s, 'to'),
  };
  if (typeof value === 'string' && parsers[field]) {
    try {
      parsers[field](value);
    } catch (e) {
      if (isCryptolambdaError(e)) return { message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
    }
  }
  return {
    message: `invalid ${err.validationContext ?? 'request'}: ${field ? `${field} ` : ''}${v?.message ?? err.message}`,
  };
};

const errorBody = (code: string, message: string, hint?: string) => ({
  error: { code, message: message.split('\n')[0]!, ...(hint ? { hint } : {}) },
});

/** The server: every query command as a route, live push, health, metrics, dashboard. */
export const buildServer = async (deps: ServeDeps, opts: ServeOptions): Promise<FastifyInstance> => {
  assertSafeBinding(opts);
  const app = Fastify({
    logger: false,
    // The address rate limits are keyed on; no proxy is trusted unless put in front on purpose.
    trustProxy: false,
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allErrors: false } },
  });

  const duration = new Histogram({
    name: 'cryptolambda_http_request_duration_seconds',
    help: 'HTTP request duration by method, route template (never the raw path: no user ids) and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [deps.registry],
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    // SSE responses live for minutes: their duration is not a latency.
    if (route.startsWith('/v1/live/')) return;
    duration.observe({ method: req.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) {
      const m = cliValidationMessage(err, req);
      return reply.code(400).send(errorBody('INVALID_ARGUMENT', m.message, m.hint));
    }
    if (isCryptolambdaError(err)) {
      return reply.code(STATUS[err.code] ?? 500).send(errorBody(err.code, err.message, err.hint));
    }
    if (err.statusCode === 429) return reply.code(429).send(errorBody('RATE_LIMITED', err.message));
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send(errorBody('INVALID_ARGUMENT', err.message));
    }
    process.stderr.write(
      `${new Date().toISOString()} serve: ${req.method} ${req.routeOptions.url}: ${err.stack ?? err}\n`,
    );
    return reply.code(500).send(errorBody('INTERNAL', 'internal error (see the server log)'));
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send(errorBody('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)),
  );

  if (opts.corsOrigins && opts.corsOrigins.length > 0) {
    await app.register(cors, { origin: [...opts.corsOrigins], methods: ['GET'] });
  }
  if (opts.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      max: opts.rateLimitPerMinute,
      timeWindow: 60_000,
      // Health checks come from orchestrators every few seconds: never throttle them.
      allowList: (req) => req.url.startsWith('/health/'),
      errorResponseBuilder: (_req, ctx) => {
        const e = new Error(
          `rate limit of ${ctx.max} requests per minute exceeded, retry in ${ctx.after}`,
        ) as FastifyError;
        e.statusCode = 429;
        return e;
      },
    });
  }

  const token = opts.token === undefined || opts.token === '' ? null : Buffer.from(`Bearer ${opts.token}`);
  app.addHook('onRequest', async (req, reply) => {
    if (token === null) return;
    const url = req.url;
    if (!(url.startsWith('/v1/') || url.startsWith('/metrics') || url.startsWith('/openapi'))) return;
    const got = Buffer.from(req.headers.authorization ?? '');
    if (got.length !== token.length || !timingSafeEqual(got, token)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send(errorBody('UNAUTHORIZED', 'missing or wrong bearer token'));
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'cryptolambda serving API',
        version: '1',
        description: "Merged batch + speed views of the Lambda architecture; every route returns its command's --json.",
      },
      ...(token === null
        ? {}
        : {
            components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
            security: [{ bearer: [] }],
          }),
    },
  });

  const { pool } = deps;
  type Req<P = Record<string, string>, Q = Record<string, string | number | undefined>> = FastifyRequest<{
    Params: P;
    Querystring: Q;
  }>;

  app.get('/v1/portfolio/:user', { schema: ROUTE_SCHEMAS.portfolio }, (req: Req<{ user: string }, { date?: string }>) =>
    pool.use(async (ctx) => portfolioToJson(await getPortfolio(ctx, req.params.user, req.query))),
  );
  app.get(
    '/v1/rewards/:user',
    { schema: ROUTE_SCHEMAS.rewards },
    (req: Req<{ user: string }, { from?: string; to?: string; days?: number }>) =>
      pool.use((ctx) => getRewards(ctx, req.params.user, req.query)),
  );
  app.get(
    '/v1/gains/:user',
    { schema: ROUTE_SCHEMAS.gains },
    (req: Req<{ user: string }, { year?: number; longAfterDays?: number }>) =>
      pool.use(async (ctx) => {
        if (req.query.year === undefined) throw new CryptolambdaError('INVALID_ARGUMENT', 'year is required');
        const r = await getGains(ctx, req.params.user, req.query.year, {
          ...(req.query.longAfterDays === undefined ? {} : { longAfterDays: req.query.longAfterDays }),
        });
        return gainsToJson(r.userId, r.costMethod, r.report, {
          batchAsOf: r.batchAsOf,
          speedDays: r.speedDays,
          warnings: r.warnings,
        });
      }),
  );
  app.get(
    '/v1/history/:user',
    { schema: ROUTE_SCHEMAS.history },
    (req: Req<{ user: string }, { from?: string; to?: string }>) =>
      pool.use(async (ctx) => historyToJson(await getHistory(ctx, req.params.user, req.query))),
  );
  app.get(
    '/v1/performance/:user',
    { schema: ROUTE_SCHEMAS.performance },
    (req: Req<{ user: string }, { period?: PeriodName; from?: string; to?: string }>) =>
      pool.use(async (ctx) => performanceToJson(await getPerformance(ctx, req.params.user, req.query))),
  );
  app.get(
    '/v1/ohlcv/:symbol',
    { schema: ROUTE_SCHEMAS.ohlcv },
    (req: Req<{ symbol: string }, { interval?: '1m' | '5m'; from?: string; to?: string }>) => {
      // Same defaults as `ohlcv`: --to now, --from 60 windows before it.
      const interval = req.query.interval ?? '1m';
      const to = req.query.to === undefined ? Date.now() : parseInstant(req.query.to, 'to');
      const from =
        req.query.from === undefined ? to - 60 * INTERVALS_MS[interval] : parseInstant(req.query.from, 'from');
      return pool.use((ctx) => getOhlcv(ctx, req.params.symbol, interval, from, to));
    },
  );
  app.get(
    '/v1/top',
    { schema: ROUTE_SCHEMAS.top },
    (req: Req<never, { by?: 'pnl' | 'spend' | 'rewards'; date?: string; days?: number; limit?: number }>) =>
      pool.use((ctx) => getTop(ctx, { ...req.query, by: req.query.by ?? 'pnl' })),
  );
  app.get(
    '/v1/correlations',
    { schema: ROUTE_SCHEMAS.correlations },
    (req: Req<never, { date?: string; window?: number }>) => pool.use((ctx) => getCorrelations(ctx, req.query)),
  );
  app.get('/v1/reconcile/:date', { schema: ROUTE_SCHEMAS.reconcile }, (req: Req<{ date: string }>) =>
    pool.use((ctx) => storedReconcile(ctx, req.params.date)),
  );
  app.get('/v1/stream/status', { schema: ROUTE_SCHEMAS.streamStatus }, () => streamStatus(deps.config));
  app.get(
    '/v1/pipeline/status',
    { schema: ROUTE_SCHEMAS.pipelineStatus },
    (req: Req<never, { from?: string; to?: string; limit?: number }>) =>
      readPipelineStatus(pipelineStateDir(deps.config), { ...req.query, limit: req.query.limit ?? 20 }),
  );

  registerLive(app, deps, opts);

  app.get('/health/live', { schema: { tags: ['health'], response: { 200: LIVE } } }, async () => ({ ok: true }));
  app.get(
    '/health/ready',
    { schema: { tags: ['health'], response: { 200: READY, 503: READY } } },
    async (_req, reply) => {
      const r = await readiness(deps);
      return reply.code(r.ok ? 200 : 503).send(r);
    },
  );
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
    reply.type(deps.registry.contentType).send(await deps.registry.metrics()),
  );
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  if (opts.dashboardDir) registerDashboard(app, opts.dashboardDir);
  return app;
};

const timed = async (fn: () => Promise<unknown>): Promise<{ ok: boolean; ms: number; error?: string }> => {
  const t0 = performance.now();
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 3 s')), 3000).unref()),
    ]);
    return { ok: true, ms: Math.round(performance.now() - t0) };
  } catch (err) {
    return { ok: false, ms: Math.round(performance.now() - t0), error: (err as Error).message.split('\n')[0]! };
  }
};

/** Ready = every backend a query may need answers now: Kafka (stream status), RedisConn, the lake's ledger. */
const readiness = async (deps: ServeDeps) => {
  const [kafka, redis, lake] = await Promise.all([
    timed(() => withAdmin(deps.config, (a) => a.describeCluster())),
    timed(() => deps.redis.ping()),
    timed(() => readLedger(deps.config.lakeDir)),
  ]);
  return { ok: kafka.ok && redis.ok && lake.ok, checks: { kafka, redis, lake } };
};

/** Server-Sent Events: headers, an event writer, heartbeats, and cleanup when the client goes. */
const openSse = (
  req: FastifyRequest,
  reply: FastifyReply,
  heartbeatMs: number,
): { sink: LiveSink; closed: Promise<void> } => {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  // Browsers reconnect after this many ms, sending the last id they saw as Last-Event-ID.
  res.write('retry: 1000\n\n');
  const beat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
  const closed = new Promise<void>((resolve) =>
    req.raw.on('close', () => {
      clearInterval(beat);
      resolve();
    }),
  );
  return {
    sink: { write: (frame) => res.write(frame) },
    closed,
  };
};

const registerLive = (app: FastifyInstance, deps: ServeDeps, opts: ServeOptions): void => {
  const heartbeat = opts.heartbeatMs ?? 15_000;
  const sseSchema = (summary: string, extra: Record<string, unknown>) => ({
    tags: ['live'],
    summary,
    ...extra,
    headers: { type: 'object', properties: { 'last-event-id': { type: 'string', maxLength: 40 } } },
  });
  app.get(
    '/v1/live/prices',
    {
      schema: sseSchema('Server-Sent Events: each committed price change (event `price`); Last-Event-ID resumes.', {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { symbols: { type: 'string', pattern: '^[A-Za-z0-9]{2,20}(,[A-Za-z0-9]{2,20}){0,49}$' } },
        },
      }),
    },
    async (req: FastifyRequest<{ Querystring: { symbols?: string } }>, reply) => {
      const last = LiveHub.parseLastEventId(req.headers['last-event-id'] as string | undefined);
      const symbols = req.query.symbols === undefined ? null : req.query.symbols.split(',').map(parseSymbol);
      admitSubscriber(deps.hub, opts.maxSubscribers);
      const { sink, closed } = openSse(req, reply, heartbeat);
      const off = await deps.hub.subscribePrices(sink, { lastEventId: last, symbols }).catch((err) => {
        sseError(reply, err);
        return () => undefined;
      });
      await closed;
      off();
    },
  );
  app.get(
    '/v1/live/portfolio/:user',
    {
      schema: sseSchema(
        "Server-Sent Events: the user's whole portfolio after each committed change (event `portfolio`).",
        {
          params: { type: 'object', required: ['user'], properties: { user: USER_PARAM } },
        },
      ),
    },
    async (req: FastifyRequest<{ Params: { user: string } }>, reply) => {
      const last = LiveHub.parseLastEventId(req.headers['last-event-id'] as string | undefined);
      const user = parseUserId(req.params.user);
      // Unknown user or a bad backend: a JSON error now, before the stream opens.
      await deps.pool.use((ctx) => getPortfolio(ctx, user));
      admitSubscriber(deps.hub, opts.maxSubscribers);
      const { sink, closed } = openSse(req, reply, heartbeat);
      const off = await deps.hub.subscribePortfolio(sink, user, { lastEventId: last }).catch((err) => {
        sseError(reply, err);
        return () => undefined;
      });
      await closed;
      off();
    },
  );
};

/** Refused before the stream opens, so the client gets a JSON 409 rather than a stream that ends. */
const admitSubscriber = (hub: LiveHub, max: number): void => {
  if (hub.subscribers >= max) {
    throw new CryptolambdaError(
      'CONFLICT',
      `too many live subscribers (limit ${max})`,
      'retry later or raise serve --max-subscribers',
    );
  }
};

const sseError = (reply: FastifyReply, err: unknown): void => {
  const e = isCryptolambdaError(err) ? err : new CryptolambdaError('INTERNAL', String(err));
  reply.raw.end(`event: error\ndata: ${JSON.stringify(errorBody(e.code, e.message, e.hint))}\n\n`);
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

/** The dashboard: a fixed list of built files (no path from the URL ever reaches the file system). */
const registerDashboard = (app: FastifyInstance, dir: string): void => {
  const files: Record<string, string> = {
    '/': 'index.html',
    '/assets/dashboard.js': 'dashboard.js',
    '/assets/dashboard.css': 'dashboard.css',
  };
  for (const [route, file] of Object.entries(files)) {
    app.get(route, { schema: { hide: true } }, async (_req, reply) => {
      const body = await readFile(path.join(dir, file)).catch(() => null);
      if (body === null) {
        throw new CryptolambdaError('NOT_FOUND', `dashboard asset ${file} is not built`, 'run `npm run build`');
      }
      return reply
        .type(TYPES[path.extname(file)] ?? 'application/octet-stream')
        .header('cache-control', 'no-cache')
        .header('content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
        .send(body);
    });
  }
};
