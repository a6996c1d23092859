import { SYMBOL_RE, USER_ID_RE } from '../../core/events/validate.js';

/**
 * JSON Schemas of the HTTP API: Fastify validates params/querystrings with them, serializes
 * responses with them (fast-json-stringify), and @fastify/swagger turns the same objects into
 * /openapi.json, so the documentation cannot drift from what the server does. The response shapes
 * mirror the commands' `--json` types (src/core/serving/views.ts and the use cases); nested objects
 * list their fields for the document and keep additionalProperties so a field added to a use case
 * reaches the client (the route test pins each body to the command's JSON, key for key).
 */
type Schema = Record<string, unknown>;

const str: Schema = { type: 'string' };
const nstr: Schema = { type: ['string', 'null'] };
const int: Schema = { type: 'integer' };
const nint: Schema = { type: ['integer', 'null'] };
const num: Schema = { type: 'number' };
const bool: Schema = { type: 'boolean' };
/** Exact amounts travel as canonical decimal strings, never JSON numbers. */
const dec: Schema = { type: 'string', pattern: '^-?\\d+(\\.\\d+)?$', description: 'exact decimal' };
const ndec: Schema = { type: ['string', 'null'], description: 'exact decimal or null' };
const arr = (items: Schema): Schema => ({ type: 'array', items });
const obj = (properties: Record<string, Schema>, opts: { open?: boolean; description?: string } = {}): Schema => ({
  type: 'object',
  properties,
  required: Object.keys(properties),
  additionalProperties: opts.open ?? true,
  ...(opts.description ? { description: opts.description } : {}),
});
const anyObj: Schema = { type: 'object', additionalProperties: true };

// Case-insensitive symbol: the CLI upper-cases before checking SYMBOL_RE.
export const USER_PARAM: Schema = { type: 'string', pattern: USER_ID_RE.source, description: 'user id' };
export const SYMBOL_PARAM: Schema = {
  type: 'string',
  pattern: `^[A-Za-z0-9]{2,20}$`,
  description: `exchange symbol (${SYMBOL_RE.source} after upper-casing)`,
};
export const DATE_PARAM: Schema = {
  type: 'string',
  pattern: '^\\d{4}-\\d{2}-\\d{2}$',
  description: 'UTC date YYYY-MM-DD',
};
const INSTANT: Schema = {
  type: 'string',
  maxLength: 40,
  description: 'epoch ms, YYYY-MM-DD or an ISO timestamp with Z or an offset',
};

export const ERROR_BODY: Schema = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      description: 'one line, the same message the CLI prints',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: { code: str, message: str, hint: str },
    },
  },
};

const errors = { 400: ERROR_BODY, 401: ERROR_BODY, 404: ERROR_BODY, 429: ERROR_BODY, 500: ERROR_BODY, 503: ERROR_BODY };

const portfolioLine = obj({
  asset: str,
  quantity: dec,
  staked: dec,
  avgCost: dec,
  costBasis: dec,
  price: ndec,
  priceSource: nstr,
  priceTime: nint,
  marketValue: ndec,
  unrealizedPnl: ndec,
  allocation: ndec,
  unrealizedPnlPct: ndec,
  realizedPnl: dec,
  rewardIncome: dec,
  feesPaid: dec,
  eventCount: int,
  lastEventTime: int,
});

export const PORTFOLIO: Schema = obj({
  userId: str,
  mode: str,
  tier: nstr,
  spend30d: ndec,
  positions: arr(portfolioLine),
  totals: obj({
    marketValue: dec,
    costBasis: dec,
    unrealizedPnl: dec,
    unrealizedPnlPct: ndec,
    realizedPnl: dec,
    totalPnl: dec,
    rewardIncome: dec,
    feesPaid: dec,
    unpriced: arr(str),
  }),
  freshness: obj({
    batchAsOf: nstr,
    batchBuiltAt: nstr,
    speedDays: arr(str),
    speedEvents: int,
    usersWatermark: nint,
    priceWatermark: nint,
    oldestPriceTime: nint,
    priceAgeMs: nint,
    now: int,
  }),
  warnings: arr(str),
});

export const REWARDS: Schema = obj({
  userId: str,
  mode: str,
  from: str,
  to: str,
  tier: nstr,
  spend30d: ndec,
  days: arr(obj({ date: str, source: str })),
  totals: obj({ spend: dec, cashbackOwed: dec, cashbackCapped: dec, cashbackPaid: dec, stakingIncome: dec }),
  freshness: obj({ batchAsOf: nstr, speedDays: arr(str) }),
});

const candle = obj({
  start: int,
  end: int,
  open: dec,
  high: dec,
  low: dec,
  close: dec,
  volume: dec,
  quoteVolume: dec,
  trades: int,
  vwap: dec,
  final: bool,
  source: str,
});

export const OHLCV: Schema = obj({
  symbol: str,
  interval: str,
  from: int,
  to: int,
  boundary: nint,
  batchAsOf: nstr,
  candles: arr(candle),
});

export const TOP: Schema = obj({
  by: str,
  date: str,
  days: int,
  users: arr(obj({ rank: int, userId: str, value: dec, detail: anyObj })),
});

export const CORRELATIONS: Schema = obj({
  date: str,
  pairs: arr(obj({ assetA: str, assetB: str, windowDays: int, observations: int, correlation: ndec })),
});

export const RECONCILE: Schema = obj({
  date: str,
  summary: obj({
    date: str,
    users: int,
    subjects: int,
    fieldsMatched: int,
    fieldsMismatched: int,
    missingInBatch: int,
    missingInSpeed: int,
    clean: bool,
  }),
  findings: arr(
    obj({
      date: str,
      userId: str,
      subject: str,
      field: str,
      status: str,
      batchValue: nstr,
      speedValue: nstr,
      difference: nstr,
    }),
  ),
  findingsOmitted: int,
  file: str,
  rowsWritten: int,
  warnings: arr(str),
});

export const STREAM_STATUS: Schema = obj({
  keyspace: str,
  watermark: nint,
  watermarkDelayMs: nint,
  totalLag: int,
  partitions: arr(obj({ partition: int, watermark: nint, usersWatermark: nint, lag: anyObj, counts: anyObj })),
  workers: arr(anyObj),
  symbols: int,
});

export const PIPELINE_STATUS: Schema = obj({
  lock: anyObj,
  dates: arr(obj({ date: str, lastRun: anyObj, runs: int, steps: anyObj })),
  recentRuns: arr(anyObj),
});

const check: Schema = { type: 'object', required: ['ok', 'ms'], properties: { ok: bool, ms: num, error: str } };

export const READY: Schema = obj({ ok: bool, checks: obj({ kafka: check, redis: check, lake: check }) });
export const LIVE: Schema = obj({ ok: bool });

const gainTotals: Schema = obj({ proceeds: dec, costBasis: dec, gain: dec, rows: int });
export const GAINS: Schema = obj({
  userId: str,
  year: int,
  costMethod: str,
  longAfterDays: int,
  batchAsOf: nstr,
  speedDays: arr(str),
  rows: arr(
    obj({
      asset: str,
      eventId: str,
      kind: str,
      lotId: str,
      acquired: str,
      disposed: str,
      holdingDays: int,
      term: str,
      quantity: dec,
      proceeds: dec,
      costBasis: dec,
      gain: dec,
    }),
  ),
  short: gainTotals,
  long: gainTotals,
  other: dec,
  realized: dec,
  warnings: arr(str),
});

export const HISTORY: Schema = obj({
  userId: str,
  from: str,
  to: str,
  batchAsOf: nstr,
  days: arr(
    obj({
      day: str,
      marketValue: dec,
      costBasis: dec,
      realizedPnl: dec,
      unrealizedPnl: dec,
      cashIn: dec,
      cashOut: dec,
      fees: dec,
      events: int,
      unpriced: arr(str),
    }),
  ),
  warnings: arr(str),
});

export const PERFORMANCE: Schema = obj({
  userId: str,
  period: str,
  from: str,
  to: str,
  batchAsOf: nstr,
  startValue: dec,
  endValue: dec,
  cashIn: dec,
  cashOut: dec,
  fees: dec,
  netPnl: dec,
  twr: dec,
  twrPct: dec,
  xirr: ndec,
  xirrPct: ndec,
  daily: arr(obj({ day: str, startValue: dec, endValue: dec, r: dec })),
  warnings: arr(str),
});

const sc = (tags: string[], summary: string, extra: Schema, response: Schema): Schema => ({
  tags,
  summary,
  ...extra,
  response: { 200: response, ...errors },
});

const params = (p: Record<string, Schema>): Schema => ({
  params: { type: 'object', properties: p, required: Object.keys(p), additionalProperties: false },
});
const query = (q: Record<string, Schema>): Schema => ({
  querystring: { type: 'object', properties: q, additionalProperties: false },
});

export const ROUTE_SCHEMAS = {
  portfolio: sc(
    ['query'],
    "A user's merged portfolio (= `portfolio <user> [--date D] --json`); `date`: as of the end of that UTC day.",
    { ...params({ user: USER_PARAM }), ...query({ date: DATE_PARAM }) },
    PORTFOLIO,
  ),
  rewards: sc(
    ['query'],
    "A user's rewards per day (= `rewards <user> --json`).",
    {
      ...params({ user: USER_PARAM }),
      ...query({ from: DATE_PARAM, to: DATE_PARAM, days: { type: 'integer', minimum: 1, maximum: 3660, default: 30 } }),
    },
    REWARDS,
  ),
  gains: sc(
    ['query'],
    "A user's realized gains lot by lot for a tax year (= `gains <user> --year Y --json`).",
    {
      ...params({ user: USER_PARAM }),
      ...query({
        year: { type: 'integer', minimum: 2009, maximum: 2100 },
        longAfterDays: { type: 'integer', minimum: 0, default: 365 },
      }),
    },
    GAINS,
  ),
  history: sc(
    ['query'],
    "A user's portfolio day by day (= `history <user> --json`).",
    { ...params({ user: USER_PARAM }), ...query({ from: DATE_PARAM, to: DATE_PARAM }) },
    HISTORY,
  ),
  performance: sc(
    ['query'],
    "A user's TWR, XIRR, net P&L and fees over a period (= `performance <user> --json`).",
    {
      ...params({ user: USER_PARAM }),
      ...query({
        period: { type: 'string', enum: ['today', 'wtd', 'mtd', 'ytd', '1y', 'max'] },
        from: DATE_PARAM,
        to: DATE_PARAM,
      }),
    },
    PERFORMANCE,
  ),
  ohlcv: sc(
    ['query'],
    'Candles of a symbol, speed layer and lake merged (= `ohlcv <symbol> --json`).',
    {
      ...params({ symbol: SYMBOL_PARAM }),
      ...query({ interval: { type: 'string', enum: ['1m', '5m'], default: '1m' }, from: INSTANT, to: INSTANT }),
    },
    OHLCV,
  ),
  top: sc(
    ['query'],
    'Top users of a built date (= `top --json`).',
    query({
      by: { type: 'string', enum: ['pnl', 'spend', 'rewards'], default: 'pnl' },
      date: DATE_PARAM,
      days: { type: 'integer', minimum: 1, maximum: 366, default: 1 },
      limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 10 },
    }),
    TOP,
  ),
  correlations: sc(
    ['query'],
    'Pairwise correlations of daily returns (= `correlations --json`).',
    query({ date: DATE_PARAM, window: { type: 'integer', enum: [30, 90] } }),
    CORRELATIONS,
  ),
  reconcile: sc(
    ['query'],
    'The stored report of the last `reconcile --date D` (its --json).',
    params({ date: DATE_PARAM }),
    RECONCILE,
  ),
  streamStatus: sc(
    ['status'],
    'Speed-layer watermarks, lag and counters (= `stream status --json`).',
    {},
    STREAM_STATUS,
  ),
  pipelineStatus: sc(
    ['status'],
    'The pipeline run ledger (= `pipeline status --json`).',
    query({ from: DATE_PARAM, to: DATE_PARAM, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 20 } }),
    PIPELINE_STATUS,
  ),
} as const;
