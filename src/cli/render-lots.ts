import type { ChalkInstance } from 'chalk';
import type { GainsJson } from '../core/portfolio/gains.js';
import { renderTable } from './render.js';
import { exactText, signed, usdText } from './render-serving.js';

/** Human output of `gains`: one line per lot piece (fits 80 columns), then the year's totals. */
export const renderGains = (g: GainsJson, c: ChalkInstance, color: boolean): string => {
  const rows = g.rows.map((r) => [
    r.disposed.slice(0, 10),
    r.asset,
    exactText(r.quantity),
    r.acquired.slice(0, 10),
    r.term,
    usdText(r.proceeds),
    usdText(r.costBasis),
    signed(c, r.gain),
  ]);
  const lines = [
    `${g.userId}  realized gains ${g.year}  method ${g.costMethod}  long term after ${g.longAfterDays} days`,
    rows.length === 0
      ? 'no disposals in the year'
      : renderTable(['sold', 'asset', 'quantity', 'acquired', 'term', 'proceeds', 'cost', 'gain'], rows, { color }),
    `short term ${signed(c, g.short.gain)} (${g.short.rows} lines)  long term ${signed(c, g.long.gain)} (${g.long.rows} lines)  other ${signed(c, g.other)}  realized ${signed(c, g.realized)}`,
    `batch as of ${g.batchAsOf ?? '-'}; speed days ${g.speedDays.join(', ') || '-'}`,
  ];
  for (const w of g.warnings) lines.push(c.yellow(`warning: ${w}`));
  return lines.join('\n');
};
