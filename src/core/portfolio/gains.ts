import { Decimal, USD_SCALE } from '../money/decimal.js';
import type { Disposal } from './lot-accounting.js';

/**
 * Realized gains per tax year from disposal rows (lot-accounting.ts), and their Form 8949 shape.
 *
 * - Holding period = whole days from acquisition to disposal (UTC instants, floor). A piece is
 *   LONG-term when it was held MORE than `longAfterDays` days (365 by default: the US "more than
 *   one year"; configurable for other jurisdictions), else SHORT-term.
 * - Rows of kind sell, card_spend and fee are lot disposals (Form 8949 lines). `expense` (a USD fee
 *   of a withdrawal or stake) and `void` (cash that bought no unit) rows are realized but not
 *   dispositions of property: they are reported as "other" in the totals, never in the CSV, so
 *   short + long + other = the realized P&L of the year exactly.
 * - A year is the UTC calendar year of the disposal.
 * - The CSV rounds proceeds and cost HALF-EVEN to cents, as the form is filled in, and the gain
 *   is their difference; the exact figures (12 decimals) are in the JSON. Summed rounded lines may
 *   differ from the rounded exact total by cents.
 */
export const DEFAULT_LONG_AFTER_DAYS = 365;
const DAY_MS = 86_400_000;

export type Term = 'short' | 'long';

export interface GainRow extends Disposal {
  readonly holdingDays: number;
  readonly term: Term;
}

export interface GainTotals {
  readonly proceeds: Decimal;
  readonly costBasis: Decimal;
  readonly gain: Decimal;
  readonly rows: number;
}

export interface GainsReport {
  readonly year: number;
  readonly longAfterDays: number;
  readonly rows: readonly GainRow[];
  readonly short: GainTotals;
  readonly long: GainTotals;
  /** USD fees of withdrawals/stakes and cash that bought no unit (negative). */
  readonly other: Decimal;
  /** short.gain + long.gain + other: the realized P&L of the year. */
  readonly realized: Decimal;
}

const Z = Decimal.zero(USD_SCALE);
const EMPTY: GainTotals = { proceeds: Z, costBasis: Z, gain: Z, rows: 0 };

export const isLotDisposal = (d: Disposal): boolean => d.kind === 'sell' || d.kind === 'card_spend' || d.kind === 'fee';

export const yearOf = (t: number): number => new Date(t).getUTCFullYear();

export const classify = (d: Disposal, longAfterDays = DEFAULT_LONG_AFTER_DAYS): GainRow => {
  const holdingDays = Math.floor((d.disposedAt - d.acquiredAt) / DAY_MS);
  return { ...d, holdingDays, term: holdingDays > longAfterDays ? 'long' : 'short' };
};

const add = (t: GainTotals, r: Disposal): GainTotals => ({
  proceeds: t.proceeds.add(r.proceeds),
  costBasis: t.costBasis.add(r.costBasis),
  gain: t.gain.add(r.gain),
  rows: t.rows + 1,
});

/** Rows (any order, any years) -> the year's report, rows ordered by disposal, then consumption order. */
export const gainsReport = (
  disposals: Iterable<Disposal>,
  year: number,
  longAfterDays = DEFAULT_LONG_AFTER_DAYS,
): GainsReport => {
  const rows: GainRow[] = [];
  let other = Z;
  for (const d of disposals) {
    if (yearOf(d.disposedAt) !== year) continue;
    if (isLotDisposal(d)) rows.push(classify(d, longAfterDays));
    else other = other.add(d.gain);
  }
  rows.sort(
    (a, b) =>
      a.disposedAt - b.disposedAt || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0) || a.piece - b.piece,
  );
  let short = EMPTY;
  let long = EMPTY;
  for (const r of rows) {
    if (r.term === 'long') long = add(long, r);
    else short = add(short, r);
  }
  return { year, longAfterDays, rows, short, long, other, realized: short.gain.add(long.gain).add(other) };
};

const mdy = (t: number): string => {
  const s = new Date(t).toISOString();
  return `${s.slice(5, 7)}/${s.slice(8, 10)}/${s.slice(0, 4)}`;
};

const csvField = (s: string): string => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

/**
 * Form 8949 lines: (a) description, (b) date acquired, (c) date sold or disposed of, (d) proceeds,
 * (e) cost or other basis, (f) code, (g) adjustment, (h) gain or (loss); plus the Part (I short-term,
 * II long-term) and the lot and event ids for the audit trail. Short-term rows first, as on the form.
 */
export const form8949Csv = (report: GainsReport): string => {
  const head = [
    'part',
    'description',
    'date_acquired',
    'date_sold',
    'proceeds',
    'cost_basis',
    'code',
    'adjustment',
    'gain_or_loss',
    'lot_id',
    'event_id',
  ];
  const lines = [head.join(',')];
  for (const term of ['short', 'long'] as const) {
    for (const r of report.rows) {
      if (r.term !== term) continue;
      lines.push(
        [
          term === 'short' ? 'I' : 'II',
          `${r.quantity.toPlain()} ${r.asset}`,
          mdy(r.acquiredAt),
          mdy(r.disposedAt),
          r.proceeds.toDisplay(2),
          r.costBasis.toDisplay(2),
          '',
          '',
          // (h) = (d) - (e) on the rounded figures, so each line adds up as the form requires.
          r.proceeds
            .rescale(2)
            .sub(r.costBasis.rescale(2))
            .toString(),
          r.lotId,
          r.eventId,
        ]
          .map(csvField)
          .join(','),
      );
    }
  }
  return `${lines.join('\n')}\n`;
};

/** The JSON of `gains` (every amount its exact canonical string). */
export interface GainTotalsJson {
  proceeds: string;
  costBasis: string;
  gain: string;
  rows: number;
}

export interface GainRowJson {
  asset: string;
  eventId: string;
  kind: string;
  lotId: string;
  acquired: string;
  disposed: string;
  holdingDays: number;
  term: Term;
  quantity: string;
  proceeds: string;
  costBasis: string;
  gain: string;
}

export interface GainsJson {
  userId: string;
  year: number;
  costMethod: string;
  longAfterDays: number;
  /** Latest batch build used (rows up to it come from fact_realized_gain), null without a build. */
  batchAsOf: string | null;
  /** Days after the cutoff replayed from the speed layer. */
  speedDays: string[];
  rows: GainRowJson[];
  short: GainTotalsJson;
  long: GainTotalsJson;
  other: string;
  realized: string;
  warnings: string[];
}

const totalsJson = (t: GainTotals): GainTotalsJson => ({
  proceeds: t.proceeds.toString(),
  costBasis: t.costBasis.toString(),
  gain: t.gain.toString(),
  rows: t.rows,
});

export const gainsToJson = (
  userId: string,
  costMethod: string,
  r: GainsReport,
  meta: { batchAsOf: string | null; speedDays: string[]; warnings: string[] },
): GainsJson => ({
  userId,
  year: r.year,
  costMethod,
  longAfterDays: r.longAfterDays,
  ...meta,
  rows: r.rows.map((x) => ({
    asset: x.asset,
    eventId: x.eventId,
    kind: x.kind,
    lotId: x.lotId,
    acquired: new Date(x.acquiredAt).toISOString(),
    disposed: new Date(x.disposedAt).toISOString(),
    holdingDays: x.holdingDays,
    term: x.term,
    quantity: x.quantity.toString(),
    proceeds: x.proceeds.toString(),
    costBasis: x.costBasis.toString(),
    gain: x.gain.toString(),
  })),
  short: totalsJson(r.short),
  long: totalsJson(r.long),
  other: r.other.toString(),
  realized: r.realized.toString(),
});
