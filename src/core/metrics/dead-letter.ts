/**
 * Dead-letter reasons are free text (they quote the bad bytes' fingerprint, the field that failed):
 * right for the dead-letter record, wrong for a metric label, whose values must come from a small
 * closed set or every distinct message becomes its own time series.
 */
export const DEAD_LETTER_CATEGORIES = [
  'empty_value',
  'bad_header',
  'unknown_schema',
  'undecodable',
  'invalid_event',
] as const;

export type DeadLetterCategory = (typeof DEAD_LETTER_CATEGORIES)[number];

export const deadLetterCategory = (reason: string): DeadLetterCategory => {
  if (reason.startsWith('empty message')) return 'empty_value';
  if (reason.startsWith('bad magic') || reason.startsWith('truncated header')) return 'bad_header';
  if (reason.includes('schema fingerprint') || reason.startsWith('unknown table')) return 'unknown_schema';
  if (reason.startsWith('avro body')) return 'undecodable';
  return 'invalid_event';
};
