import type { DomainEvent, UserEvent } from './types.js';
import { type Validated, validatePrice, validateReward, validateTransaction } from './validate.js';

/**
 * Plain-JSON form of an event (decimals as canonical strings), accepted back by validate*():
 * used for the speed layer's per-day event sets in Redis and for golden fixtures.
 */
export const eventToRaw = (e: DomainEvent): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) out[k] = typeof v === 'object' && v !== null ? String(v) : v;
  return out;
};

export const eventFromRaw = (raw: unknown): Validated<DomainEvent> => {
  const kind = (raw as { kind?: unknown } | null)?.kind;
  if (kind === 'price') return validatePrice(raw);
  if (kind === 'transaction') return validateTransaction(raw);
  if (kind === 'reward') return validateReward(raw);
  return { ok: false, reason: `kind: expected price, transaction or reward, got ${JSON.stringify(kind)}` };
};

export const userEventFromRaw = (raw: unknown): Validated<UserEvent> => {
  const r = eventFromRaw(raw);
  if (r.ok && r.event.kind === 'price') return { ok: false, reason: 'kind: expected a user event, got price' };
  return r as Validated<UserEvent>;
};
