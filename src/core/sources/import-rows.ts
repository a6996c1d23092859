import type { RewardEvent, TransactionEvent } from '../events/types.js';
import { type Validated, validateReward, validateTransaction } from '../events/validate.js';

/**
 * A platform's own events from an export file, one row at a time and without I/O: JSON lines whose
 * objects use the contract's field names (docs/contracts.md), or CSV with a header row naming the
 * same fields. Every row goes through the contract validator the stream and the batch use, so an
 * imported event is exactly as valid as a produced one. Amounts must be decimal strings (a JSON
 * number is a binary float and is refused); eventTime is epoch milliseconds.
 *
 * The eventId comes from the row, never from the import: importing the same export twice produces
 * the same ids, which the speed layer and the batch deduplicate (a re-import changes no figure).
 */
export type ImportTable = 'transactions' | 'rewards';
export type ImportFormat = 'jsonl' | 'csv';

export type ImportEvent<T extends ImportTable> = T extends 'transactions' ? TransactionEvent : RewardEvent;

export const IMPORT_FIELDS: Record<ImportTable, readonly string[]> = {
  transactions: ['eventId', 'userId', 'type', 'asset', 'quantity', 'price', 'fee', 'feeAsset', 'eventTime'],
  rewards: ['eventId', 'userId', 'rewardType', 'asset', 'quantity', 'price', 'eventTime', 'refEventId'],
};

const REQUIRED: Record<ImportTable, readonly string[]> = {
  transactions: IMPORT_FIELDS.transactions,
  rewards: IMPORT_FIELDS.rewards.filter((f) => f !== 'refEventId'),
};

/** From the file name (.csv, .jsonl/.ndjson/.json), else from the first non-blank character. */
export const detectFormat = (fileName: string, firstLine: string): ImportFormat => {
  if (/\.csv$/i.test(fileName)) return 'csv';
  if (/\.(jsonl|ndjson|json)$/i.test(fileName)) return 'jsonl';
  return firstLine.trimStart().startsWith('{') ? 'jsonl' : 'csv';
};

/** One CSV record (RFC 4180 quoting: "a,b" and "" for a quote), or a reason. */
export const splitCsv = (line: string): string[] | string => {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) return 'unterminated quoted field';
        v += text.slice(i, q);
        if (text[q + 1] === '"') {
          v += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      out.push(v);
      if (i === text.length) return out;
      if (text[i] !== ',') return `unexpected character after a quoted field at column ${i + 1}`;
      i++;
    } else {
      const c = text.indexOf(',', i);
      if (c < 0) {
        out.push(text.slice(i).trim());
        return out;
      }
      out.push(text.slice(i, c).trim());
      i = c + 1;
    }
  }
};

/** The header's field order, checked against the contract: unknown and missing fields are errors. */
export const csvHeader = (table: ImportTable, line: string): string[] | string => {
  const cols = splitCsv(line);
  if (typeof cols === 'string') return `header: ${cols}`;
  const known = new Set(IMPORT_FIELDS[table]);
  const unknown = cols.filter((c) => !known.has(c));
  if (unknown.length > 0)
    return `header: unknown field ${JSON.stringify(unknown[0])} (expected ${IMPORT_FIELDS[table].join(',')})`;
  const missing = REQUIRED[table].filter((f) => !cols.includes(f));
  if (missing.length > 0) return `header: missing field ${missing[0]}`;
  if (new Set(cols).size !== cols.length) return 'header: a field appears twice';
  return cols;
};

export type ImportRow<T extends ImportTable> =
  | { readonly kind: 'event'; readonly event: ImportEvent<T> }
  | { readonly kind: 'skip' }
  | { readonly kind: 'bad'; readonly reason: string };

const validate = <T extends ImportTable>(table: T, raw: Record<string, unknown>): ImportRow<T> => {
  const v = (table === 'transactions' ? validateTransaction(raw) : validateReward(raw)) as Validated<ImportEvent<T>>;
  return v.ok ? { kind: 'event', event: v.event } : { kind: 'bad', reason: v.reason };
};

export const parseJsonLine = <T extends ImportTable>(table: T, line: string): ImportRow<T> => {
  if (line.trim() === '') return { kind: 'skip' };
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { kind: 'bad', reason: 'not a JSON object' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { kind: 'bad', reason: 'not a JSON object' };
  return validate(table, raw as Record<string, unknown>);
};

export const parseCsvLine = <T extends ImportTable>(
  table: T,
  header: readonly string[],
  line: string,
): ImportRow<T> => {
  if (line.trim() === '') return { kind: 'skip' };
  const cols = splitCsv(line);
  if (typeof cols === 'string') return { kind: 'bad', reason: cols };
  if (cols.length !== header.length)
    return { kind: 'bad', reason: `expected ${header.length} columns, got ${cols.length}` };
  const raw: Record<string, unknown> = {};
  header.forEach((h, i) => {
    const v = cols[i]!;
    if (h === 'eventTime') raw[h] = /^\d{1,16}$/.test(v) ? Number(v) : v;
    else if (h === 'refEventId' && v === '') return;
    else raw[h] = v;
  });
  return validate(table, raw);
};
