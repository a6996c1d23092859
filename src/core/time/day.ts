/**
 * UTC calendar days as integers (days since the epoch) for the day buckets of core state, and their
 * `YYYY-MM-DD` keys for stores. Integer keys keep the per-event path free of date formatting.
 */
export const DAY_MS = 24 * 3600 * 1000;

export const dayIndex = (t: number): number => Math.floor(t / DAY_MS);
let lastDay = Number.NaN;
let lastKey = '';
/** `YYYY-MM-DD` of a day index; remembers the last one (the per-event path asks for the same day). */
export const dayKey = (day: number): string => {
  if (day !== lastDay) {
    lastKey = new Date(day * DAY_MS).toISOString().slice(0, 10);
    lastDay = day;
  }
  return lastKey;
};
/** `YYYY-MM` of an event time, through the same one-day memo. */
export const monthKey = (t: number): string => dayKey(dayIndex(t)).slice(0, 7);
export const dayFromKey = (key: string): number => dayIndex(Date.parse(`${key}T00:00:00.000Z`));
