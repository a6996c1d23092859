import type { ChalkInstance } from 'chalk';
import type { CorrelationsResult, TopResult } from '../app/serving/analytics.js';
import type { OhlcvResult } from '../app/serving/ohlcv.js';
import type { ReconcileReport } from '../app/serving/reconcile.js';
import { Decimal } from '../core/money/decimal.js';
import type { PortfolioJson, RewardsJson } from '../core/serving/views.js';
import { renderTable } from './render.js';

/**
 * Human output of the serving commands, from the same typed results `--json` prints. Amounts are
 * rounded for display only (HALF-EVEN, 2 places for USD); quantities and prices are shown exact.
 * Colour: gains green, losses red, only when `color` (a terminal without NO_COLOR).
 */
const D = (s: string): Decimal => Decimal.parse(s, 18, { round: true });
export const usdText = (s: string | null): string => (s === null ? '-' : D(s).toDisplay(2, { group: true }));
export const exactText = (s: string | null): string => (s === null ? '-' : D(s).toPlain());
const iso = (t: number | null): string => (t === null ? '-' : new Date(t).toISOString().replace('.000Z', 'Z'));

/** Sign-coloured USD: green above zero, red below. */
export const signed = (c: ChalkInstance, s: string | null): string => {
  const t = usdText(s);
  if (s === null) return t;
  const d = D(s);
  return d.isPositive() ? c.green(t) : d.isNegative() ? c.red(t) : t;
};

const age = (ms: number | null): string => {
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

export const renderPortfolio = (p: PortfolioJson, c: ChalkInstance, color: boolean): string => {
  const rows = p.positions.map((l) => [
    l.asset,
    exactText(l.quantity),
    exactText(l.staked),
    usdText(l.avgCost),
    l.price === null ? '-' : `${exactText(l.price)}${l.priceSource === 'batch-close' ? ' (close)' : ''}`,
    usdText(l.marketValue),
    signed(c, l.unrealizedPnl),
    signed(c, l.realizedPnl),
    usdText(l.rewardIncome),
  ]);
  rows.push([
    'TOTAL',
    '',
    '',
    '',
    '',
    usdText(p.totals.marketValue),
    signed(c, p.totals.unrealizedPnl),
    signed(c, p.totals.realizedPnl),
    usdText(p.totals.rewardIncome),
  ]);
  const f = p.freshness;
  const lines = [
    `${p.userId}  tier ${p.tier ?? '-'}  30d spend ${usdText(p.spend30d)}  total P&L ${signed(c, p.totals.totalPnl)}  cost basis ${usdText(p.totals.costBasis)}  fees ${usdText(p.totals.feesPaid)}`,
    renderTable(
      ['asset', 'quantity', 'staked', 'avg cost', 'price', 'market value', 'unrealized', 'realized', 'rewards'],
      rows,
      { color },
    ),
    `source: ${MODE_TEXT[p.mode]}`,
    `batch as of ${f.batchAsOf ?? '-'}${f.batchBuiltAt ? ` (built ${f.batchBuiltAt})` : ''}; speed days ${f.speedDays.join(', ') || '-'} (${f.speedEvents} events); users watermark ${iso(f.usersWatermark)}; price watermark ${iso(f.priceWatermark)}; oldest price ${iso(f.oldestPriceTime)} (age ${age(f.priceAgeMs)})`,
  ];
  for (const w of p.warnings) lines.push(c.yellow(`warning: ${w}`));
  return lines.join('\n');
};

export const renderReconcile = (r: ReconcileReport, c: ChalkInstance, color: boolean, limit = 50): string => {
  const s = r.summary;
  const head = `reconcile ${r.date}: ${s.users} users, ${s.subjects} subjects, ${s.fieldsMatched} fields matched, ${s.fieldsMismatched} mismatched, ${s.missingInBatch} missing in batch, ${s.missingInSpeed} missing in speed`;
  const lines = [s.clean ? c.green(`${head} — clean`) : c.red(`${head} — NOT clean`)];
  if (r.findings.length > 0) {
    lines.push(
      renderTable(
        ['user', 'subject', 'field', 'status', 'batch', 'speed', 'speed - batch'],
        r.findings
          .slice(0, limit)
          .map((f) => [
            f.userId,
            f.subject,
            f.field,
            f.status,
            f.batchValue ?? '-',
            f.speedValue ?? '-',
            f.difference ?? '-',
          ]),
        { color },
      ),
    );
    if (r.findings.length > limit) lines.push(`… ${r.findings.length - limit} more (see --json or the file)`);
  }
  lines.push(`wrote ${r.rowsWritten} rows to ${r.file}`);
  for (const w of r.warnings) lines.push(c.yellow(`warning: ${w}`));
  return lines.join('\n');
};

export const renderOhlcv = (o: OhlcvResult, color: boolean): string =>
  [
    `${o.symbol} ${o.interval} ${iso(o.from)} .. ${iso(o.to)}: ${o.candles.length} candles (lake before ${iso(o.boundary)}, Redis from it; batch as of ${o.batchAsOf ?? '-'})`,
    renderTable(
      ['start', 'open', 'high', 'low', 'close', 'volume', 'trades', 'vwap', 'source'],
      o.candles.map((k) => [
        iso(k.start),
        exactText(k.open),
        exactText(k.high),
        exactText(k.low),
        exactText(k.close),
        exactText(k.volume),
        String(k.trades),
        exactText(k.vwap),
        `${k.source}${k.final ? '' : ' (open)'}`,
      ]),
      { color },
    ),
  ].join('\n');

export const renderRewards = (r: RewardsJson, color: boolean): string =>
  [
    `${r.userId}  tier ${r.tier ?? '-'}  30d spend ${usdText(r.spend30d)}  ${r.from} .. ${r.to}  (batch as of ${r.freshness.batchAsOf ?? '-'})`,
    renderTable(
      ['date', 'spend', 'cashback owed', 'capped', 'cashback paid', 'staking', 'tier', '30d spend', 'events', 'source'],
      [
        ...r.days.map((d) => [
          d.date,
          usdText(d.spend),
          usdText(d.cashbackOwed),
          usdText(d.cashbackCapped),
          usdText(d.cashbackPaid),
          usdText(d.stakingIncome),
          d.tier,
          usdText(d.spend30d),
          String(d.events),
          d.source,
        ]),
        [
          'TOTAL',
          usdText(r.totals.spend),
          usdText(r.totals.cashbackOwed),
          usdText(r.totals.cashbackCapped),
          usdText(r.totals.cashbackPaid),
          usdText(r.totals.stakingIncome),
          '',
          '',
          '',
          '',
        ],
      ],
      { color },
    ),
  ].join('\n');

export const renderCorrelations = (r: CorrelationsResult, color: boolean): string =>
  [
    `correlations of daily returns, windows ending ${r.date}`,
    renderTable(
      ['window', 'asset a', 'asset b', 'observations', 'correlation'],
      r.pairs.map((p) => [
        `${p.windowDays}d`,
        p.assetA,
        p.assetB,
        String(p.observations),
        p.correlation === null ? '-' : D(p.correlation).toDisplay(4),
      ]),
      { color },
    ),
  ].join('\n');

const TOP_DETAIL: Record<TopResult['by'], [string, string][]> = {
  pnl: [
    ['realizedPnl', 'realized'],
    ['unrealizedPnl', 'unrealized'],
    ['marketValue', 'market value'],
  ],
  spend: [
    ['cashbackOwed', 'cashback owed'],
    ['cashbackPaid', 'cashback paid'],
  ],
  rewards: [
    ['cashbackPaid', 'cashback paid'],
    ['stakingIncome', 'staking'],
    ['spend', 'spend'],
  ],
};

export const renderTop = (t: TopResult, c: ChalkInstance, color: boolean): string => {
  const detail = TOP_DETAIL[t.by];
  const what = t.by === 'pnl' ? `total P&L at the end of ${t.date}` : `${t.by} over ${t.days} day(s) ending ${t.date}`;
  return [
    `top ${t.users.length} users by ${what}`,
    renderTable(
      ['#', 'user', t.by, ...detail.map(([, h]) => h)],
      t.users.map((u) => [
        String(u.rank),
        u.userId,
        t.by === 'pnl' ? signed(c, u.value) : usdText(u.value),
        ...detail.map(([k]) => (k.endsWith('Pnl') ? signed(c, u.detail[k] ?? null) : usdText(u.detail[k] ?? null))),
      ]),
      { color },
    ),
  ].join('\n');
};
