import type { HistoryDayJson, HistoryJson, PerformanceJson } from '../core/analytics/series-views.js';
import type { GainRowJson, GainsJson } from '../core/portfolio/gains.js';
import { usd } from './numbers.js';
import { PNL, signedUsd } from './render-serving.js';
import { renderTableModel, type TableModel, type ViewOptions, wrapParts } from './table.js';

/** `gains`: one row per lot piece of a disposal (the --json rows), fitted to the terminal. */
export const gainsModel = (g: GainsJson): TableModel<GainRowJson> => ({
  columns: [
    { header: 'sold', kind: 'text', value: (r) => r.disposed.slice(0, 10) },
    { header: 'asset', kind: 'text', value: (r) => r.asset },
    { header: 'quantity', kind: 'qty', value: (r) => r.quantity },
    { header: 'acquired', kind: 'text', value: (r) => r.acquired.slice(0, 10) },
    { header: 'term', kind: 'text', value: (r) => r.term },
    { header: 'days', kind: 'int', priority: 3, value: (r) => r.holdingDays },
    { header: 'proceeds', kind: 'usd', value: (r) => r.proceeds },
    { header: 'cost', kind: 'usd', csv: 'cost_basis', value: (r) => r.costBasis },
    { header: 'gain', kind: 'pnl', value: (r) => r.gain },
    { header: 'lot', kind: 'text', priority: 5, csv: 'lot_id', value: (r) => r.lotId },
    { header: 'kind', kind: 'text', priority: 4, value: (r) => r.kind },
  ],
  rows: g.rows,
});

export const renderGains = (g: GainsJson, o: ViewOptions): string => {
  const lines = [
    ...wrapParts(
      [g.userId, `realized gains ${g.year}`, `method ${g.costMethod}`, `long term after ${g.longAfterDays} days`],
      o.width,
    ),
    g.rows.length === 0 ? 'no disposals in the year' : renderTableModel(gainsModel(g), o),
    ...wrapParts(
      [
        `short term ${signedUsd(o, g.short.gain)} (${g.short.rows})`,
        `long term ${signedUsd(o, g.long.gain)} (${g.long.rows})`,
        `other ${signedUsd(o, g.other)}`,
        `realized ${signedUsd(o, g.realized)}`,
        `proceeds ${usd(g.short.proceeds)} + ${usd(g.long.proceeds)}`,
      ],
      o.width,
    ),
    `batch as of ${g.batchAsOf ?? '-'}; speed days ${g.speedDays.join(', ') || '-'}; amounts in USD`,
  ];
  for (const w of g.warnings) lines.push(o.c.yellow(`warning: ${w}`));
  return lines.join('\n');
};

export const historyModel = (h: HistoryJson): TableModel<HistoryDayJson> => ({
  columns: [
    { header: 'date', kind: 'text', value: (d) => d.day },
    { header: 'value', kind: 'usd', csv: 'market_value', value: (d) => d.marketValue },
    { header: 'cost basis', kind: 'usd', csv: 'cost_basis', value: (d) => d.costBasis },
    { header: PNL.unrealized, kind: 'pnl', csv: 'unrealized_pnl', value: (d) => d.unrealizedPnl },
    { header: PNL.realized, kind: 'pnl', csv: 'realized_pnl', value: (d) => d.realizedPnl },
    { header: 'cash in', kind: 'usd', priority: 2, csv: 'cash_in', value: (d) => d.cashIn },
    { header: 'cash out', kind: 'usd', priority: 2, csv: 'cash_out', value: (d) => d.cashOut },
    { header: 'fees', kind: 'usd', priority: 3, value: (d) => d.fees },
    { header: 'events', kind: 'int', priority: 4, value: (d) => d.events },
  ],
  rows: h.days,
});

export const renderHistory = (h: HistoryJson, o: ViewOptions): string => {
  const lines = [
    ...wrapParts([h.userId, `${h.from} .. ${h.to}`, `(batch as of ${h.batchAsOf ?? '-'})`], o.width),
    renderTableModel(historyModel(h), o),
    'amounts in USD at each day’s close; realized P&L is cumulative',
  ];
  for (const w of h.warnings) lines.push(o.c.yellow(`warning: ${w}`));
  return lines.join('\n');
};

export const performanceModel = (p: PerformanceJson): TableModel<PerformanceJson['daily'][number]> => ({
  columns: [
    { header: 'date', kind: 'text', value: (d) => d.day },
    { header: 'start value', kind: 'usd', csv: 'start_value', value: (d) => d.startValue },
    { header: 'end value', kind: 'usd', csv: 'end_value', value: (d) => d.endValue },
    { header: 'daily return', kind: 'ratio', csv: 'r', value: (d) => d.r },
  ],
  rows: p.daily,
});

export const renderPerformance = (p: PerformanceJson, o: ViewOptions): string => {
  const lines = [
    ...wrapParts([p.userId, `${p.period} ${p.from} .. ${p.to}`, `(batch as of ${p.batchAsOf ?? '-'})`], o.width),
    ...wrapParts(
      [
        `TWR ${p.twrPct} %`,
        `XIRR ${p.xirrPct === null ? '-' : `${p.xirrPct} % a year`}`,
        `net P&L ${signedUsd(o, p.netPnl)}`,
        `fees ${usd(p.fees)}`,
      ],
      o.width,
    ),
    ...wrapParts(
      [`value ${usd(p.startValue)} -> ${usd(p.endValue)}`, `cash in ${usd(p.cashIn)}`, `cash out ${usd(p.cashOut)}`],
      o.width,
    ),
    'TWR chains (end value + cash out) / (start value + cash in) - 1 per day; amounts in USD',
  ];
  for (const w of p.warnings) lines.push(o.c.yellow(`warning: ${w}`));
  return lines.join('\n');
};
