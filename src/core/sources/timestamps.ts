/**
 * Binance spot timestamps turned from milliseconds to microseconds on 2025-01-01 in the public-data
 * files (and the WebSocket API can be asked for microseconds), so the unit is detected per value
 * by magnitude: 1e14 is both year 5138 in ms and 1973 in µs, far from any real trade either way.
 * Microseconds are floored to the millisecond (domain event times are epoch ms).
 */
export const MICROS_THRESHOLD = 100_000_000_000_000n; // 1e14

/** Epoch ms from a non-negative integer timestamp in ms or µs (text or number), or a reason. */
export const toEpochMillis = (value: string | number): number | string => {
  let n: bigint;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) return `timestamp ${value} is not a non-negative integer`;
    n = BigInt(value);
  } else {
    if (!/^\d{1,19}$/.test(value))
      return `timestamp ${JSON.stringify(value.slice(0, 40))} is not a non-negative integer`;
    n = BigInt(value);
  }
  const ms = n >= MICROS_THRESHOLD ? n / 1000n : n;
  if (ms > BigInt(Number.MAX_SAFE_INTEGER)) return `timestamp ${value} is out of range`;
  return Number(ms);
};
