import { CryptolambdaError } from '../errors.js';
import { SYMBOL_RE, USER_ID_RE } from '../events/validate.js';

/**
 * Validation of the serving commands' arguments, before any of them reaches a Redis key or a query.
 * Each failure is INVALID_ARGUMENT (exit 2) with the rule spelled out, and the offending value
 * JSON-quoted so a newline or a quote shows up as one visible escape instead of breaking the line.
 */
const quote = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);

export const parseUserId = (s: string): string => {
  if (!USER_ID_RE.test(s)) {
    throw new CryptolambdaError(
      'INVALID_ARGUMENT',
      `invalid user id ${quote(s)}: expected 1-64 letters, digits, '_' or '-'`,
    );
  }
  return s;
};

/** Exchange symbol, upper-cased first (`btcusdt` is BTCUSDT). */
export const parseSymbol = (s: string): string => {
  const up = s.toUpperCase();
  if (!SYMBOL_RE.test(up)) {
    throw new CryptolambdaError(
      'INVALID_ARGUMENT',
      `invalid symbol ${quote(s)}: expected 2-20 letters or digits, e.g. BTCUSDT`,
    );
  }
  return up;
};

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A UTC calendar date YYYY-MM-DD that exists (2026-02-30 is rejected). */
export const parseDate = (s: string, what = 'date'): string => {
  const m = DATE_RE.exec(s);
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
  if (!m || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== s) {
    throw new CryptolambdaError('INVALID_ARGUMENT', `invalid ${what} ${quote(s)}: expected a UTC date YYYY-MM-DD`);
  }
  return s;
};

/**
 * An instant: epoch milliseconds, a date (its midnight UTC) or an ISO 8601 timestamp with an explicit
 * zone (`Z` or `+hh:mm`), so the result never depends on the machine's time zone.
 */
export const parseInstant = (s: string, what = 'time'): number => {
  if (/^\d{10,14}$/.test(s)) return Number(s);
  if (DATE_RE.test(s)) return Date.parse(`${parseDate(s, what)}T00:00:00.000Z`);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(s)) {
    const t = Date.parse(s);
    if (!Number.isNaN(t)) return t;
  }
  throw new CryptolambdaError(
    'INVALID_ARGUMENT',
    `invalid ${what} ${quote(s)}: expected epoch milliseconds, YYYY-MM-DD or an ISO timestamp with Z or an offset`,
  );
};

/** Days strictly after `from` (or the `max` days ending at `to` when null) up to and including `to` (UTC). */
export const daysAfter = (from: string | null, to: string, max = 366): string[] => {
  const out: string[] = [];
  const end = Date.parse(`${to}T00:00:00.000Z`);
  let t = from === null ? end - (max - 1) * 86_400_000 : Date.parse(`${from}T00:00:00.000Z`) + 86_400_000;
  // Bounded: the speed layer keeps per-day keys for about a week, older days cannot exist in Redis.
  if ((end - t) / 86_400_000 >= max) t = end - (max - 1) * 86_400_000;
  for (; t <= end; t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
};

export const addDays = (day: string, n: number): string =>
  new Date(Date.parse(`${day}T00:00:00.000Z`) + n * 86_400_000).toISOString().slice(0, 10);
