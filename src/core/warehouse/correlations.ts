import { correlationMatrix } from '../analytics/correlation.js';
import type { Decimal } from '../money/decimal.js';
import { datesEnding } from '../time/date.js';

/** One row of fact_asset_correlation (before the date column). */
export interface CorrelationFact {
  readonly windowDays: number;
  readonly a: string;
  readonly b: string;
  readonly observations: number;
  readonly correlation: Decimal | undefined;
}

export const CORRELATION_WINDOWS = [30, 90] as const;

export { datesEnding };

/**
 * Pairwise correlations of daily close-to-close returns over each window ending at `date`
 * (window W = the W + 1 dates date-W..date, so at most W returns). `closes` holds the daily close of
 * each asset per date (fact_price_daily.close); a pair uses only the dates on which both assets have
 * a close, in date order, and core `correlationMatrix` does the exact arithmetic. Pairs where an
 * asset has no close in the window are left out; fewer than two returns, or a constant series,
 * give an undefined (NULL) correlation.
 */
export const correlationFacts = (
  closes: ReadonlyMap<string, ReadonlyMap<string, Decimal>>,
  date: string,
  windows: readonly number[] = CORRELATION_WINDOWS,
): CorrelationFact[] => {
  const assets = [...closes.keys()].sort();
  const out: CorrelationFact[] = [];
  for (const w of windows) {
    const dates = datesEnding(date, w + 1);
    for (let i = 0; i < assets.length; i++) {
      for (let j = i + 1; j < assets.length; j++) {
        const a = assets[i]!;
        const b = assets[j]!;
        const ca = closes.get(a)!;
        const cb = closes.get(b)!;
        const both = dates.filter((d) => ca.has(d) && cb.has(d));
        if (!dates.some((d) => ca.has(d)) || !dates.some((d) => cb.has(d))) continue;
        const cell = correlationMatrix(
          new Map([
            [a, both.map((d) => ca.get(d)!)],
            [b, both.map((d) => cb.get(d)!)],
          ]),
          w,
        )[0];
        out.push({
          windowDays: w,
          a,
          b,
          observations: cell?.days ?? 0,
          correlation: cell?.correlation,
        });
      }
    }
  }
  return out;
};
