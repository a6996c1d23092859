import { CryptolambdaError } from '../errors.js';

/**
 * The one UTC date module: every business date is a `YYYY-MM-DD` string of the UTC calendar, and
 * every instant is epoch milliseconds. Nothing here reads the machine's time zone. The batch, the
 * speed layer, serving and the pipeline all use these functions (before, six parsers and two
 * `dateRange`s disagreed on validation and on an empty range).
 */
export const DAY_MS = 86_400_000;

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The date itself when it is a real UTC calendar date (2026-02-30 is not), else undefined. */
export const tryParseDate = (s: string): string | undefined => {
  const m = DATE_RE.exec(s);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(t).toISOString().slice(0, 10) === s ? s : undefined;
};

const quote = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);

/** A real UTC calendar date or INVALID_ARGUMENT naming what was expected (`what`: the flag). */
export const parseDate = (s: string, what = 'date'): string => {
  const d = tryParseDate(s);
  if (d === undefined)
    throw new CryptolambdaError('INVALID_ARGUMENT', `invalid ${what} ${quote(s)}: expected a UTC date YYYY-MM-DD`);
  return d;
};

/** The UTC date of an instant (through the one-day memo of `dayKey`: the per-event path asks for the same day). */
export const dayOf = (t: number): string => {
  if (!Number.isFinite(t)) return new Date(t).toISOString().slice(0, 10);
  return dayKey(Math.floor(t / DAY_MS));
};
/** Midnight UTC starting the date, in ms. */
export const dayStart = (day: string): number => Date.parse(`${day}T00:00:00.000Z`);
export const addDays = (day: string, n: number): string => dayOf(dayStart(day) + n * DAY_MS);
export const previousDate = (day: string): string => addDays(day, -1);
let keepDay = '';
let keepFromDay = '';
/**
 * The date two days before `day` (the oldest of the three days of aggregates a user's book keeps),
 * remembered for the last day asked: the per-event path asks for the same day again and again.
 */
export const twoDaysBefore = (day: string): string => {
  if (day !== keepDay) {
    keepFromDay = addDays(day, -2);
    keepDay = day;
  }
  return keepFromDay;
};

/** Dates from..to inclusive, oldest first; empty when from > to. Both must be real dates. */
export const dateRange = (from: string, to: string): string[] => {
  parseDate(from, 'from date');
  parseDate(to, 'to date');
  const out: string[] = [];
  for (let t = dayStart(from), end = dayStart(to); t <= end; t += DAY_MS) out.push(dayOf(t));
  return out;
};

/** The `n` dates ending at `date` (inclusive), oldest first. */
export const datesEnding = (date: string, n: number): string[] => dateRange(addDays(date, -(n - 1)), date);

/**
 * Days strictly after `from` (or the `max` days ending at `to` when null) up to and including `to`,
 * at most `max` of them (the speed layer keeps per-day keys about a week; older cannot exist).
 */
export const daysAfter = (from: string | null, to: string, max = 366): string[] => {
  const first = from === null ? addDays(to, -(max - 1)) : addDays(from, 1);
  const floor = addDays(to, -(max - 1));
  return dateRange(first < floor ? floor : first, to);
};

/**
 * An instant: epoch milliseconds, a date (its midnight UTC) or an ISO 8601 timestamp with an
 * explicit zone (`Z` or `+hh:mm`), so the result never depends on the machine's time zone.
 */
export const parseInstant = (s: string, what = 'time'): number => {
  if (/^\d{10,14}$/.test(s)) return Number(s);
  if (DATE_RE.test(s)) return dayStart(parseDate(s, what));
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(s)) {
    const t = Date.parse(s);
    if (!Number.isNaN(t)) return t;
  }
  throw new CryptolambdaError(
    'INVALID_ARGUMENT',
    `invalid ${what} ${quote(s)}: expected epoch milliseconds, YYYY-MM-DD or an ISO timestamp with Z or an offset`,
  );
};

/*
 * Integer UTC days (days since the epoch) for the day buckets of core state, and their `YYYY-MM-DD`
 * keys for stores. Integer keys keep the per-event path free of date formatting.
 */
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
