import path from 'node:path';
import { type CorrelationsResult, MIN_CORRELATION_DAYS, type TopResult } from '../app/serving/analytics.js';
import type { OhlcvResult } from '../app/serving/ohlcv.js';
import type { ReconcileReport } from '../app/serving/reconcile.js';
import type { PortfolioJson, PortfolioLineJson, RewardDayJson, RewardsJson } from '../core/serving/views.js';
import { sign, usd } from './numbers.js';
import { renderTableModel, type TableModel, type ViewOptions, wrapParts } from './table.js';

/**
 * Human output of the serving commands, from the same typed results `--json` prints: one table
 * model per result (also the `--output csv` rows), rendered to fit 80 columns with numbers
 * right-aligned at display precision (see numbers.ts); `--wide` shows every column and digit.
 * P&L is named the same in every view: "unrealized P&L", "realized P&L", "total P&L".
 * Colour: gains green, losses red, only when colour is on (a terminal without NO_COLOR/--no-color).
 */
export const PNL = { unrealized: 'unrealized P&L', realized: 'realized P&L', total: 'total P&L' } as const;

/** Sign-coloured USD text. */
export const signedUsd = (o: ViewOptions, s: string | null): string => {
  const t = usd(s);
  if (!o.color || !/[1-9]/.test(t)) return t;
  const k = sign(s);
  return k > 0 ? o.c.green(t) : k < 0 ? o.c.red(t) : t;
};

/** A path shown on one line: relative to the working directory when shorter, else its tail. */
export const fitPath = (p: string, width: number): string => {
  const rel = path.relative(process.cwd(), p);
  const s = rel.length < p.length && !rel.startsWith('..') ? rel : p;
  return s.length <= width ? s : `…${s.slice(s.length - width + 1)}`;
};

export const iso = (t: number | null): string => (t === null ? '-' : new Date(t).toISOString().replace('.000Z', 'Z'));
/** Minute resolution for candle starts: "2026-11-20 10:05". */
const minute = (t: number): string => new Date(t).toISOString().slice(0, 16).replace('T', ' ');

export const age = (ms: number | null): string => {
  if (ms === null) return '-';
  if (ms < 120_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)}m`;
  if (ms < 172_800_000) return `${Math.round(ms / 3_600_000)}h`;
  return `${Math.round(ms / 86_400_000)}d`;
};

const MODE_TEXT = {
  merged: 'batch + speed layer',
  'batch-only': 'batch only (no speed-layer events after the cutoff)',
  'speed-only': 'speed layer only',
} as const;

type PortfolioRow = PortfolioLineJson | { asset: 'TOTAL'; total: PortfolioJson['totals'] };
const isTotal = (r: PortfolioRow): r is { asset: 'TOTAL'; total: PortfolioJson['totals'] } => 'total' in r;

export const portfolioModel = (p: PortfolioJson, withTotal = true): TableModel<PortfolioRow> => ({
  columns: [
    { header: 'asset', kind: 'text', value: (r) => r.asset },
    { header: 'quantity', kind: 'qty', value: (r) => (isTotal(r) ? '' : r.quantity) },
    { header: 'staked', kind: 'qty', priority: 4, value: (r) => (isTotal(r) ? '' : r.staked) },
    { header: 'avg cost', kind: 'price', priority: 2, csv: 'avg_cost', value: (r) => (isTotal(r) ? '' : r.avgCost) },
    {
      header: 'price',
      kind: 'price',
      value: (r) => (isTotal(r) ? '' : r.price),
    },
    {
      header: 'src',
      kind: 'text',
      priority: 5,
      csv: 'price_source',
      value: (r) => (isTotal(r) ? '' : (r.priceSource ?? null)),
    },
    {
      header: 'value',
      kind: 'usd',
      csv: 'market_value',
      value: (r) => (isTotal(r) ? r.total.marketValue : r.marketValue),
    },
    { header: 'alloc', kind: 'pct', priority: 1, csv: 'allocation', value: (r) => (isTotal(r) ? '' : r.allocation) },
    {
      header: PNL.unrealized,
      kind: 'pnl',
      csv: 'unrealized_pnl',
      value: (r) => (isTotal(r) ? r.total.unrealizedPnl : r.unrealizedPnl),
    },
    {
      header: 'P&L %',
      kind: 'pct',
      priority: 1,
      csv: 'unrealized_pnl_pct',
      value: (r) => (isTotal(r) ? r.total.unrealizedPnlPct : r.unrealizedPnlPct),
    },
    {
      header: PNL.realized,
      kind: 'pnl',
      priority: 1,
      csv: 'realized_pnl',
      value: (r) => (isTotal(r) ? r.total.realizedPnl : r.realizedPnl),
    },
    {
      header: 'rewards',
      kind: 'usd',
      priority: 3,
      csv: 'reward_income',
      value: (r) => (isTotal(r) ? r.total.rewardIncome : r.rewardIncome),
    },
  ],
  rows: withTotal ? [...p.positions, { asset: 'TOTAL', total: p.totals }] : p.positions,
});

export const renderPortfolio = (p: PortfolioJson, o: ViewOptions): string => {
  const f = p.freshness;
  const t = p.totals;
  const lines = wrapParts(
    [
      `${p.userId}`,
      `tier ${p.tier ?? '-'}`,
      `30d spend ${usd(p.spend30d)}`,
      `${PNL.total} ${signedUsd(o, t.totalPnl)}`,
      // In the header too: at 80 columns the realized column gives way to allocation and P&L %.
      `${PNL.realized} ${signedUsd(o, t.realizedPnl)}`,
      `cost basis ${usd(t.costBasis)}`,
      `fees ${usd(t.feesPaid)}`,
    ],
    o.width,
  );
  lines.push(renderTableModel(portfolioModel(p), o));
  const closes = p.positions.filter((l) => l.priceSource === 'batch-close').map((l) => l.asset);
  lines.push(
    ...wrapParts(
      [
        'amounts in USD, quantities in asset units',
        ...(closes.length > 0
          ? [`(${closes.join(', ')} at the batch close of ${f.batchAsOf ?? '-'}: no live price)`]
          : []),
      ],
      o.width,
      ' ',
    ),
  );
  lines.push(
    ...wrapParts(
      [
        `source: ${MODE_TEXT[p.mode]};`,
        `batch as of ${f.batchAsOf ?? '-'}${f.batchBuiltAt ? ` (built ${f.batchBuiltAt})` : ''};`,
        `speed days ${f.speedDays.join(', ') || '-'} (${f.speedEvents} events);`,
        `users watermark ${iso(f.usersWatermark)};`,
        `price watermark ${iso(f.priceWatermark)};`,
        `oldest price ${iso(f.oldestPriceTime)} (age ${age(f.priceAgeMs)})`,
      ],
      o.width,
      ' ',
    ),
  );
  for (const w of p.warnings) lines.push(o.c.yellow(`warning: ${w}`));
  return lines.join('\n');
};

export const reconcileModel = (r: ReconcileReport): TableModel<ReconcileReport['findings'][number]> => ({
  columns: [
    { header: 'user', kind: 'text', value: (f) => f.userId },
    { header: 'subject', kind: 'text', value: (f) => f.subject },
    { header: 'field', kind: 'text', value: (f) => f.field },
    { header: 'status', kind: 'text', priority: 1, value: (f) => f.status },
    { header: 'batch', kind: 'exact', priority: 2, value: (f) => f.batchValue ?? null },
    { header: 'speed', kind: 'exact', priority: 2, value: (f) => f.speedValue ?? null },
    { header: 'speed - batch', kind: 'exact', csv: 'difference', value: (f) => f.difference ?? null },
  ],
  rows: r.findings,
});

/** What to run next after a mismatch, by what the findings look like. */
export const reconcileNextSteps = (r: ReconcileReport): string[] => {
  const s = r.summary;
  if (s.clean) return [];
  const next: string[] = [];
  if (s.missingInSpeed > 0 && s.missingInBatch === 0 && s.fieldsMismatched === 0)
    next.push(
      "next: the speed layer lacks rows of the day: check `cryptolambda stream status` (keys expired after retire or the stream did not consume the day's events)",
    );
  else if (s.missingInBatch > 0 && s.missingInSpeed === 0 && s.fieldsMismatched === 0)
    next.push(
      `next: the batch lacks rows: \`cryptolambda ingest\` then \`cryptolambda batch --date ${r.date}\`, and reconcile again`,
    );
  else
    next.push(
      `next: rebuild the date (\`cryptolambda pipeline run --date ${r.date} --force batch\`); if it persists, compare one user with \`cryptolambda portfolio <user> --json\` and see docs/runbook.md`,
    );
  return next;
};

export const renderReconcile = (r: ReconcileReport, o: ViewOptions, limit = 50): string => {
  const s = r.summary;
  const head = wrapParts(
    [
      `reconcile ${r.date}:`,
      `${s.users} users,`,
      `${s.subjects} subjects,`,
      `${s.fieldsMatched} fields matched,`,
      `${s.fieldsMismatched} mismatched,`,
      `${s.missingInBatch} missing in batch,`,
      `${s.missingInSpeed} missing in speed`,
      s.clean ? '— clean' : '— NOT clean',
    ],
    o.width,
    ' ',
  ).join('\n');
  const lines = [s.clean ? o.c.green(head) : o.c.red(head)];
  if (r.findings.length > 0) {
    const m = reconcileModel(r);
    lines.push(renderTableModel({ ...m, rows: m.rows.slice(0, limit) }, o));
    // Reports stored before findings were capped have no findingsOmitted.
    const omitted = r.findingsOmitted ?? 0;
    if (r.findings.length > limit || omitted > 0)
      lines.push(
        `… ${Math.max(0, r.findings.length - limit) + omitted} more (see ${omitted > 0 ? 'the file' : '--json, --output csv or the file'})`,
      );
  }
  lines.push(`wrote ${r.rowsWritten} rows to`, `  ${fitPath(r.file, o.width - 2)}`);
  for (const w of r.warnings) lines.push(o.c.yellow(`warning: ${w}`));
  for (const n of reconcileNextSteps(r)) lines.push(...wrapParts(n.split(' '), o.width, ' '));
  return lines.join('\n');
};

export const ohlcvModel = (r: OhlcvResult): TableModel<OhlcvResult['candles'][number]> => ({
  columns: [
    { header: 'start (UTC)', kind: 'text', csv: 'start', value: (k) => minute(k.start) },
    { header: 'open', kind: 'price', value: (k) => k.open },
    { header: 'high', kind: 'price', value: (k) => k.high },
    { header: 'low', kind: 'price', value: (k) => k.low },
    { header: 'close', kind: 'price', value: (k) => k.close },
    { header: 'volume', kind: 'qty', priority: 1, value: (k) => k.volume },
    { header: 'trades', kind: 'int', priority: 2, value: (k) => k.trades },
    { header: 'vwap', kind: 'price', priority: 4, value: (k) => k.vwap },
    { header: 'source', kind: 'text', priority: 3, value: (k) => `${k.source}${k.final ? '' : ' (open)'}` },
  ],
  rows: r.candles,
});

export const renderOhlcv = (r: OhlcvResult, o: ViewOptions): string =>
  [
    ...wrapParts(
      [
        `${r.symbol} ${r.interval}`,
        `${iso(r.from)} .. ${iso(r.to)}:`,
        `${r.candles.length} candles`,
        `(lake before ${iso(r.boundary)}, Redis from it;`,
        `batch as of ${r.batchAsOf ?? '-'})`,
      ],
      o.width,
      ' ',
    ),
    renderTableModel(ohlcvModel(r), o),
  ].join('\n');

type RewardRow = RewardDayJson | { date: 'TOTAL'; total: RewardsJson['totals'] };
const isRewardTotal = (r: RewardRow): r is { date: 'TOTAL'; total: RewardsJson['totals'] } => 'total' in r;

export const rewardsModel = (r: RewardsJson, withTotal = true): TableModel<RewardRow> => {
  const pick = (k: keyof RewardsJson['totals']) => (d: RewardRow) => (isRewardTotal(d) ? d.total[k] : d[k]);
  return {
    columns: [
      { header: 'date', kind: 'text', value: (d) => d.date },
      { header: 'spend', kind: 'usd', value: pick('spend') },
      { header: 'cashback owed', kind: 'usd', csv: 'cashback_owed', value: pick('cashbackOwed') },
      { header: 'capped', kind: 'usd', priority: 3, csv: 'cashback_capped', value: pick('cashbackCapped') },
      { header: 'cashback paid', kind: 'usd', csv: 'cashback_paid', value: pick('cashbackPaid') },
      { header: 'staking', kind: 'usd', csv: 'staking_income', value: pick('stakingIncome') },
      { header: 'tier', kind: 'text', priority: 1, value: (d) => (isRewardTotal(d) ? '' : d.tier) },
      { header: '30d spend', kind: 'usd', priority: 4, value: (d) => (isRewardTotal(d) ? '' : d.spend30d) },
      { header: 'events', kind: 'int', priority: 2, value: (d) => (isRewardTotal(d) ? '' : d.events) },
      { header: 'source', kind: 'text', priority: 5, value: (d) => (isRewardTotal(d) ? '' : d.source) },
    ],
    rows: withTotal ? [...r.days, { date: 'TOTAL', total: r.totals }] : r.days,
  };
};

export const renderRewards = (r: RewardsJson, o: ViewOptions): string =>
  [
    ...wrapParts(
      [
        r.userId,
        `tier ${r.tier ?? '-'}`,
        `30d spend ${usd(r.spend30d)}`,
        `${r.from} .. ${r.to}`,
        `(batch as of ${r.freshness.batchAsOf ?? '-'})`,
      ],
      o.width,
    ),
    renderTableModel(rewardsModel(r), o),
    'amounts in USD',
  ].join('\n');

export const correlationsModel = (r: CorrelationsResult): TableModel<CorrelationsResult['pairs'][number]> => ({
  columns: [
    { header: 'window', kind: 'text', value: (p) => `${p.windowDays}d` },
    { header: 'asset a', kind: 'text', value: (p) => p.assetA },
    { header: 'asset b', kind: 'text', value: (p) => p.assetB },
    { header: 'observations', kind: 'int', value: (p) => p.observations },
    { header: 'correlation', kind: 'ratio', value: (p) => p.correlation },
  ],
  rows: r.pairs,
});

/** Why a window shows few or no observations: the built days it has against those it needs. */
export const correlationCoverage = (r: CorrelationsResult): string[] =>
  r.windows
    .filter((w) => w.builtDays < w.neededDays)
    .map(
      (w) =>
        `${w.windowDays}d window: ${w.builtDays} of ${w.neededDays} built days ending ${r.date}` +
        (w.builtDays < MIN_CORRELATION_DAYS
          ? ` (a correlation needs at least ${MIN_CORRELATION_DAYS}; build more days with \`cryptolambda pipeline run --from A --to B\`)`
          : ' (partial window)'),
    );

export const renderCorrelations = (r: CorrelationsResult, o: ViewOptions): string =>
  [
    `correlations of daily returns, windows ending ${r.date}`,
    renderTableModel(correlationsModel(r), o),
    ...correlationCoverage(r).flatMap((l) => wrapParts(l.split(' '), o.width, ' ')),
  ].join('\n');

const TOP_DETAIL: Record<TopResult['by'], [key: string, header: string, kind: 'usd' | 'pnl'][]> = {
  pnl: [
    ['realizedPnl', PNL.realized, 'pnl'],
    ['unrealizedPnl', PNL.unrealized, 'pnl'],
    ['marketValue', 'market value', 'usd'],
  ],
  spend: [
    ['cashbackOwed', 'cashback owed', 'usd'],
    ['cashbackPaid', 'cashback paid', 'usd'],
  ],
  rewards: [
    ['cashbackPaid', 'cashback paid', 'usd'],
    ['stakingIncome', 'staking', 'usd'],
    ['spend', 'spend', 'usd'],
  ],
};

const TOP_VALUE: Record<TopResult['by'], string> = { pnl: PNL.total, spend: 'spend', rewards: 'rewards' };

export const topModel = (t: TopResult): TableModel<TopResult['users'][number]> => ({
  columns: [
    { header: '#', kind: 'int', csv: 'rank', value: (u) => u.rank },
    { header: 'user', kind: 'text', value: (u) => u.userId },
    { header: TOP_VALUE[t.by], kind: t.by === 'pnl' ? 'pnl' : 'usd', csv: t.by, value: (u) => u.value },
    ...TOP_DETAIL[t.by].map(([k, h, kind], i) => ({
      header: h,
      kind,
      priority: i + 1,
      csv: k,
      value: (u: TopResult['users'][number]) => u.detail[k] ?? null,
    })),
  ],
  rows: t.users,
});

export const renderTop = (t: TopResult, o: ViewOptions): string => {
  const what =
    t.by === 'pnl' ? `${PNL.total} at the end of ${t.date}` : `${t.by} over ${t.days} day(s) ending ${t.date}`;
  return [`top ${t.users.length} users by ${what} (USD)`, renderTableModel(topModel(t), o)].join('\n');
};
