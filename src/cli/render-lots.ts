import type { GainRowJson, GainsJson } from '../core/portfolio/gains.js';
import { usd } from './numbers.js';
import { signedUsd } from './render-serving.js';
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
