import { CryptolambdaError } from '../errors.js';

/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week), evaluated in UTC so
 * the schedule does not move with the host's time zone or daylight saving.
 *
 * Supported: `*`, numbers, lists `1,15`, ranges `1-5`, steps `*\/15`, `1-30/2`, `5/10` (from 5 to
 * the field's maximum), month names JAN-DEC, day names SUN-SAT (case-insensitive), 7 = Sunday, and
 * the macros @yearly @annually @monthly @weekly @daily @midnight @hourly. As in Vixie cron, when
 * both day-of-month and day-of-week are restricted a day matches if EITHER matches.
 */
export interface CronSchedule {
  readonly source: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0 = Sunday … 6 = Saturday. */
  readonly daysOfWeek: ReadonlySet<number>;
  readonly domRestricted: boolean;
  readonly dowRestricted: boolean;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

interface FieldSpec {
  readonly label: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  /** Value of the first name (months start at 1, days at 0). */
  readonly nameBase?: number;
}

const FIELDS: readonly FieldSpec[] = [
  { label: 'minute', min: 0, max: 59 },
  { label: 'hour', min: 0, max: 23 },
  { label: 'day-of-month', min: 1, max: 31 },
  { label: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  // 7 is accepted as Sunday and folded to 0 after parsing.
  { label: 'day-of-week', min: 0, max: 7, names: DAYS, nameBase: 0 },
];

const bad = (expr: string, why: string): CryptolambdaError =>
  new CryptolambdaError(
    'INVALID_ARGUMENT',
    `invalid cron expression ${JSON.stringify(expr)}: ${why}`,
    'expected 5 fields: minute hour day-of-month month day-of-week (UTC)',
  );

const parseValue = (expr: string, spec: FieldSpec, raw: string): number => {
  const upper = raw.toUpperCase();
  const named = spec.names?.indexOf(upper) ?? -1;
  if (named >= 0) return named + (spec.nameBase ?? 0);
  if (!/^\d+$/.test(raw)) throw bad(expr, `${spec.label} value ${JSON.stringify(raw)} is not a number`);
  const n = Number(raw);
  if (n < spec.min || n > spec.max) throw bad(expr, `${spec.label} ${n} is outside ${spec.min}-${spec.max}`);
  return n;
};

const parseField = (expr: string, spec: FieldSpec, field: string): { values: Set<number>; star: boolean } => {
  const values = new Set<number>();
  let star = false;
  for (const part of field.split(',')) {
    if (part === '') throw bad(expr, `empty list item in ${spec.label}`);
    const [rangePart, stepPart, extra] = part.split('/');
    if (extra !== undefined) throw bad(expr, `${spec.label} ${JSON.stringify(part)} has two steps`);
    let step = 1;
    if (stepPart !== undefined) {
      if (!/^\d+$/.test(stepPart) || Number(stepPart) === 0) {
        throw bad(expr, `${spec.label} step ${JSON.stringify(stepPart)} must be a positive number`);
      }
      step = Number(stepPart);
    }
    let lo: number;
    let hi: number;
    if (rangePart === '*') {
      lo = spec.min;
      hi = spec.label === 'day-of-week' ? 6 : spec.max;
      if (stepPart === undefined) star = true;
    } else if (rangePart!.includes('-')) {
      const [a, b, more] = rangePart!.split('-');
      if (more !== undefined || a === '' || b === '')
        throw bad(expr, `${spec.label} range ${JSON.stringify(rangePart)}`);
      lo = parseValue(expr, spec, a!);
      hi = parseValue(expr, spec, b!);
      if (lo > hi) throw bad(expr, `${spec.label} range ${rangePart} is reversed`);
    } else {
      lo = parseValue(expr, spec, rangePart!);
      // "5/10" means from 5 to the maximum every 10, as in Vixie cron.
      hi = stepPart === undefined ? lo : spec.max;
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values, star };
};

export const parseCron = (expression: string): CronSchedule => {
  const trimmed = expression.trim();
  const expanded = MACROS[trimmed.toLowerCase()] ?? trimmed;
  if (expanded.startsWith('@')) throw bad(expression, `unknown macro ${trimmed}`);
  const fields = expanded.split(/\s+/);
  if (fields.length !== 5) throw bad(expression, `expected 5 fields, got ${fields.length}`);
  const parsed = fields.map((f, i) => parseField(expression, FIELDS[i]!, f));
  const dow = parsed[4]!.values;
  if (dow.delete(7)) dow.add(0);
  return {
    source: expression,
    minutes: parsed[0]!.values,
    hours: parsed[1]!.values,
    daysOfMonth: parsed[2]!.values,
    months: parsed[3]!.values,
    daysOfWeek: dow,
    domRestricted: !parsed[2]!.star,
    dowRestricted: !parsed[4]!.star,
  };
};

const dayMatches = (s: CronSchedule, d: Date): boolean => {
  const dom = s.daysOfMonth.has(d.getUTCDate());
  const dow = s.daysOfWeek.has(d.getUTCDay());
  if (s.domRestricted && s.dowRestricted) return dom || dow;
  if (s.domRestricted) return dom;
  if (s.dowRestricted) return dow;
  return true;
};

/** Long enough to reach a 29 February across a skipped leap year (2096 → 2104). */
const SEARCH_LIMIT_MS = 9 * 366 * 86_400_000;

/**
 * The first fire time strictly after `after` (UTC, whole minutes). Throws INVALID_ARGUMENT when the
 * expression can never fire (e.g. `0 0 30 2 *`).
 */
export const nextFire = (schedule: CronSchedule | string, after: Date): Date => {
  const s = typeof schedule === 'string' ? parseCron(schedule) : schedule;
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  const limit = after.getTime() + SEARCH_LIMIT_MS;
  // Jump by the coarsest field that does not match: a month at a time, then days, hours, minutes.
  while (t.getTime() <= limit) {
    if (!s.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!dayMatches(s, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!s.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
    } else if (!s.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
    } else {
      return t;
    }
  }
  throw new CryptolambdaError('INVALID_ARGUMENT', `cron expression ${JSON.stringify(s.source)} never fires`);
};
