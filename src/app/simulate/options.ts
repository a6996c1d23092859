import { CryptolambdaError } from '../../core/errors.js';
import { Decimal } from '../../core/money/decimal.js';
import { RATE_SCALE, SIM_EVENT_TYPES } from '../../core/simulate/generator.js';
import type { SimulateProgress, SimulateResult } from './simulate.js';

/** Flag validation and rendering for `simulate` (one-line messages, exit code 2 via INVALID_ARGUMENT). */
const bad = (message: string, hint?: string): never => {
  throw new CryptolambdaError('INVALID_ARGUMENT', message, hint);
};

/** "0.5" → user events per second of event time, exact at RATE_SCALE (no binary float). */
export const parseRate = (text: string): Decimal => {
  const d = Decimal.tryParse(text, RATE_SCALE);
  if (typeof d === 'string' || !d.isPositive()) {
    return bad(
      `--rate: ${JSON.stringify(text)} is not a positive number`,
      `e.g. 2 or 0.05 (at most ${RATE_SCALE} decimals)`,
    );
  }
  if (d.gt(Decimal.fromUnits(1_000_000n, 0))) return bad(`--rate: ${text} is above 1000000 events per second`);
  return d;
};

const n = (x: number): string => x.toLocaleString('en-US');

export const formatProgress = (p: SimulateProgress): string =>
  `simulate ${(p.elapsedMs / 1000).toFixed(0)}s  sent ${n(p.produced)} (${n(p.ratePerSec)}/s)  ` +
  `tx ${n(p.transactions)}  rewards ${n(p.rewards)}  acked ${n(p.acked)}  errors ${n(p.deadLettered)}` +
  (p.eventTime === null ? '' : `  event time ${new Date(p.eventTime).toISOString()}`);

export const formatSummary = (r: SimulateResult): string[] => [
  `${n(r.events)} events (${n(r.transactions)} transactions, ${n(r.rewards)} rewards) from ${n(r.prices.used)} prices, ` +
    `seed ${r.seed}, ${n(r.activeUsers)}/${n(r.users)} users active, ${r.mode}`,
  SIM_EVENT_TYPES.map((t) => `${t} ${n(r.byType[t])}`).join(', '),
  `card spend by tier: ${
    Object.entries(r.spendsByTier)
      .map(([t, c]) => `${t} ${n(c)}`)
      .join(', ') || 'none'
  }`,
  `event time ${r.eventTime.from ?? '-'} .. ${r.eventTime.to ?? '-'}`,
  `→ ${r.topics.transactions}, ${r.topics.rewards}; ${n(r.acked)} records acknowledged, ` +
    `${n(r.deadLettered)} dead-lettered → ${r.topics.deadLetter}`,
  `${(r.wallMs / 1000).toFixed(1)} s, ${n(r.eventsPerSec)} events/s, stopped by ${r.stoppedBy}`,
];
