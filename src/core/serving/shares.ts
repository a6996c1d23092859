import type { Decimal } from '../money/decimal.js';

/**
 * Allocation and P&L as fractions of a whole, for `portfolio` (0.125 = 12.5%). Exact decimals:
 * the quotient is rounded once, HALF-EVEN, to FRACTION_SCALE decimals (a percent to 4 decimals),
 * so the `--json` strings are stable across runs and layers. A share of nothing is `null`, never 0
 * or a division error: allocation when the priced total is zero (or the line is unpriced),
 * P&L % when the cost basis is zero (rewards only, or everything sold).
 */
export const FRACTION_SCALE = 6;

/** `part / whole` rounded HALF-EVEN to FRACTION_SCALE, or null when either is missing or whole is zero. */
export const fractionOf = (part: Decimal | null, whole: Decimal | null): Decimal | null =>
  part === null || whole === null || whole.isZero() ? null : part.div(whole, FRACTION_SCALE);

export interface LineShares {
  /** Market value over the total market value of priced positions. */
  readonly allocation: Decimal | null;
  /** Unrealized P&L over the line's cost basis. */
  readonly unrealizedPnlPct: Decimal | null;
}

interface ShareInput {
  readonly marketValue: Decimal | null;
  readonly unrealizedPnl: Decimal | null;
  readonly costBasis: Decimal;
}

/**
 * The shares of every line plus the total's P&L %: total unrealized P&L over the cost basis of the
 * priced lines only (an unpriced holding has no unrealized P&L, so its cost must not dilute it).
 */
export const portfolioShares = (
  lines: readonly ShareInput[],
  totalMarketValue: Decimal,
): { lines: LineShares[]; totalUnrealizedPnlPct: Decimal | null } => {
  let pricedCost: Decimal | null = null;
  let unrealized: Decimal | null = null;
  for (const l of lines) {
    if (l.unrealizedPnl === null) continue;
    pricedCost = pricedCost === null ? l.costBasis : pricedCost.add(l.costBasis);
    unrealized = unrealized === null ? l.unrealizedPnl : unrealized.add(l.unrealizedPnl);
  }
  return {
    lines: lines.map((l) => ({
      allocation: fractionOf(l.marketValue, totalMarketValue),
      unrealizedPnlPct: fractionOf(l.unrealizedPnl, l.costBasis),
    })),
    totalUnrealizedPnlPct: fractionOf(unrealized, pricedCost),
  };
};
