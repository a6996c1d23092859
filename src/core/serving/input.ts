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

// Dates and instants: the one UTC date module (re-exported for the serving modules).
export { addDays, daysAfter, parseDate, parseInstant } from '../time/date.js';
