import { CryptolambdaError } from '../../core/errors.js';
import { SYMBOL_RE } from '../../core/events/validate.js';
import type { ProducePricesProgress, ProducePricesResult } from './prices.js';

/** Flag validation for `produce prices` (one-line messages, exit code 2 via INVALID_ARGUMENT). */
const bad = (message: string, hint?: string): never => {
  throw new CryptolambdaError('INVALID_ARGUMENT', message, hint);
};

/** "btcusdt, ETHUSDT" → ["BTCUSDT", "ETHUSDT"] (upper-cased, de-duplicated, order kept). */
export const parseSymbols = (text: string): string[] => {
  const out: string[] = [];
  for (const raw of text.split(',')) {
    const s = raw.trim().toUpperCase();
    if (s === '') continue;
    if (!SYMBOL_RE.test(s))
      bad(`--symbols: ${JSON.stringify(raw.trim())} is not an exchange symbol`, 'e.g. BTCUSDT,ETHUSDT');
    if (!out.includes(s)) out.push(s);
  }
  if (out.length === 0) bad('--symbols: no symbol given');
  return out;
};

/** A non-negative integer below 2^64 (the PRNG seeds from 64 bits). */
export const parseSeed = (text: string): bigint => {
  const t = text.trim();
  if (!/^\d{1,20}$/.test(t) || BigInt(t) >= 1n << 64n) {
    return bad(`--seed: ${JSON.stringify(text)} is not an integer in 0..2^64-1`);
  }
  return BigInt(t);
};

/** ISO 8601 with an explicit time zone (Z or ±hh:mm), or a date (midnight UTC) → epoch ms. */
export const parseStart = (text: string): number => {
  const t = text.trim();
  const ok =
    /^\d{4}-\d{2}-\d{2}$/.test(t) || /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(t);
  const ms = ok ? Date.parse(t) : Number.NaN;
  if (!Number.isFinite(ms))
    return bad(`--start: ${JSON.stringify(text)} is not an ISO time`, 'e.g. 2025-01-01T00:00:00Z');
  return ms;
};

const n = (x: number): string => x.toLocaleString('en-US');

export const formatProgress = (p: ProducePricesProgress): string => {
  const extras = [
    p.deadLettered ? `dlq ${n(p.deadLettered)}` : '',
    p.ignored ? `ignored ${n(p.ignored)}` : '',
    p.duplicates ? `duplicates ${n(p.duplicates)}` : '',
    p.dropped ? `DROPPED ${n(p.dropped)}` : '',
    p.reconnects ? `reconnects ${n(p.reconnects)}` : '',
  ].filter(Boolean);
  return `prices ${(p.elapsedMs / 1000).toFixed(0)}s  sent ${n(p.produced)} (${n(p.ratePerSec)}/s)  acked ${n(p.acked)}${extras.length ? `  ${extras.join('  ')}` : ''}`;
};

export const formatSummary = (r: ProducePricesResult): string[] => [
  `${n(r.produced)} price events from ${r.source} → ${r.topic} (${r.symbols.join(', ') || 'no symbols'})`,
  `${n(r.acked)} records acknowledged, ${n(r.deadLettered)} dead-lettered → ${r.deadLetterTopic}, ${n(r.ignored)} ignored, ${n(r.duplicates)} duplicates, ${n(r.dropped)} dropped`,
  `${(r.durationMs / 1000).toFixed(1)} s, ${n(r.eventsPerSec)} events/s, stopped by ${r.stoppedBy}`,
  ...r.files.map(
    (f) => `  ${f.file} (${f.symbol}): ${f.checksum === 'not-an-archive' ? 'plain CSV' : `checksum ${f.checksum}`}`,
  ),
  ...(r.rejections.length ? ['dead-lettered by reason:'] : []),
  ...r.rejections.map((x) => `${n(x.count).padStart(10)}  ${x.reason}`),
];
