import type { Decimal } from '../money/decimal.js';
import type { SymbolView, TickerView } from './model.js';

/**
 * Display text shared by the Ink screen and the plain non-TTY lines, so both show the same digits.
 * Rounding for display is Decimal.toDisplay (HALF-EVEN); the sign and the gain/loss colour follow
 * the rounded value, so "-0.001 %" shows as an uncoloured "0.00%" rather than a red "-0.00%".
 */
export type Trend = 'up' | 'down' | 'flat';

export const NA = 'n/a';

/** Decimal places by magnitude: 43000.12, 98.1234, 0.00001234 all keep their significant digits. */
export const priceDp = (p: Decimal): number => {
  const abs = p.abs();
  if (abs.units >= 100n * 10n ** BigInt(abs.scale)) return 2;
  if (abs.units >= 10n ** BigInt(abs.scale)) return 4;
  return 8;
};

export const fmtPrice = (p: Decimal | null): string => (p === null ? NA : p.toDisplay(priceDp(p)));

export const trendOf = (d: Decimal | null, dp = 2): Trend => {
  if (d === null) return 'flat';
  const r = d.rescale(dp);
  return r.isPositive() ? 'up' : r.isNegative() ? 'down' : 'flat';
};

/** "+0.52%", "-1.10%", "0.00%", "n/a". */
export const fmtPct = (d: Decimal | null): string => {
  if (d === null) return NA;
  return `${trendOf(d) === 'up' ? '+' : ''}${d.toDisplay(2)}%`;
};

/** USD amount with thousands separators: "12,345.67". */
export const fmtUsd = (d: Decimal | null): string => (d === null ? NA : d.toDisplay(2, { group: true }));

/** Signed USD amount: "+123.45", "-0.50". */
export const fmtSignedUsd = (d: Decimal | null): string =>
  d === null ? NA : `${trendOf(d) === 'up' ? '+' : ''}${d.toDisplay(2, { group: true })}`;

export const fmtQty = (d: Decimal): string => d.toDisplay(4);

/** ISO-8601 UTC to the second: "2026-11-25T10:00:00Z". */
export const isoSecond = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** "10:05" (UTC). */
export const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);

/** "10:05:07" (UTC). */
export const hhmmss = (ms: number): string => new Date(ms).toISOString().slice(11, 19);

export const symbolLine = (now: number, s: SymbolView): string =>
  `${isoSecond(now)} ${s.symbol} ${fmtPrice(s.price)} ${fmtPct(s.change1m)} 1m ${fmtPct(s.change5m)} 5m ${fmtPct(s.change24h)} 24h`;

/**
 * The non-TTY rendering: one line per symbol per refresh (grep/awk friendly), then the user's
 * portfolio, and a STALE line first when the speed layer is behind.
 */
export const plainLines = (view: TickerView): string[] => {
  const ts = isoSecond(view.now);
  const lines: string[] = [];
  if (view.stale) lines.push(`${ts} STALE ${view.staleReason}`);
  for (const s of view.symbols) lines.push(symbolLine(view.now, s));
  const u = view.user;
  if (u) {
    const unpriced = u.unpriced.length > 0 ? ` unpriced ${u.unpriced.join(',')}` : '';
    lines.push(
      `${ts} USER ${u.id} value ${fmtUsd(u.value)} pnl ${fmtSignedUsd(u.unrealizedPnl)} (${fmtPct(u.unrealizedPct)}) tier ${u.tier ?? NA}${unpriced}`,
    );
  }
  return lines;
};
