import { createHash } from 'node:crypto';
import path from 'node:path';
import type { PriceEvent, RewardEvent, TransactionEvent } from '../../core/events/types.js';
import { validatePrice, validateReward, validateTransaction } from '../../core/events/validate.js';
import { packagePath } from '../../paths.js';
import { SchemaStore } from './schema-store.js';

/**
 * The event contracts on the wire: Avro single-object encoding (C3 01, the 8-byte little-endian
 * CRC-64-AVRO fingerprint of the writer schema's canonical form, then the Avro binary body), with
 * decimals as canonical fixed-scale strings (docs/contracts.md). Decoding resolves any published
 * writer version to the current schema and then runs the same core validation as every other
 * boundary, so a record that decodes is a valid domain event.
 */
export type EventTable = 'prices' | 'transactions' | 'rewards';
export type DecodedEvent<T> = { ok: true; event: T } | { ok: false; reason: string };

export interface DeadLetter {
  readonly source: string;
  readonly reason: string;
  readonly payload: Buffer;
  readonly receivedAt: number;
  readonly key?: string;
  /** Size of the input as received (set by the encoder; absent in version 1 messages). */
  readonly payloadSize?: number;
  /** Hex SHA-256 of the whole input as received (set by the encoder; absent in version 1 messages). */
  readonly payloadSha256?: string;
  /** payload is only a prefix of the input: the whole would not fit the broker's record limit. */
  readonly payloadTruncated?: boolean;
}

/**
 * Dead letters must always fit in a Kafka record, or the DLQ send fails and the input blocks its
 * partition for good (a poison pill): a record just under the broker's 1 MiB limit would not fit
 * once wrapped. Payloads up to DEAD_LETTER_MAX_PAYLOAD are kept whole; larger ones are cut to a
 * DEAD_LETTER_PREFIX-byte prefix, with the original size and SHA-256 (and the coordinates in
 * source/key) so the record can still be found and identified in Kafka or the source.
 * Half the producer's 768 KiB request cap leaves room for the other fields and record framing.
 */
export const DEAD_LETTER_MAX_PAYLOAD = 384 * 1024;
export const DEAD_LETTER_PREFIX = 4096;
/** Text fields are bounded too: a reason or key built from hostile input must not grow the envelope. */
const MAX_TEXT = 2048;

const clip = (s: string): string => (s.length <= MAX_TEXT ? s : `${s.slice(0, MAX_TEXT)}… (${s.length} chars)`);

export const boundDeadLetter = (d: DeadLetter): DeadLetter => {
  const size = d.payload.length;
  const truncated = size > DEAD_LETTER_MAX_PAYLOAD;
  return {
    source: clip(d.source),
    reason: clip(d.reason),
    payload: truncated ? d.payload.subarray(0, DEAD_LETTER_PREFIX) : d.payload,
    receivedAt: d.receivedAt,
    ...(d.key === undefined ? {} : { key: clip(d.key) }),
    payloadSize: size,
    payloadSha256: createHash('sha256').update(d.payload).digest('hex'),
    payloadTruncated: truncated,
  };
};

export const CONTRACT_OF_TABLE: Record<EventTable, string> = {
  prices: 'price',
  transactions: 'transaction',
  rewards: 'reward',
};

export const SCHEMA_DIR = packagePath('schemas');

export interface Codec {
  readonly store: SchemaStore;
  encodePrice(e: PriceEvent): Buffer;
  encodeTransaction(e: TransactionEvent): Buffer;
  encodeReward(e: RewardEvent): Buffer;
  encodeDeadLetter(d: DeadLetter): Buffer;
  decodeRecord(table: 'prices', buf: Buffer): DecodedEvent<PriceEvent>;
  decodeRecord(table: 'transactions', buf: Buffer): DecodedEvent<TransactionEvent>;
  decodeRecord(table: 'rewards', buf: Buffer): DecodedEvent<RewardEvent>;
  decodeRecord(table: EventTable, buf: Buffer): DecodedEvent<PriceEvent | TransactionEvent | RewardEvent>;
  decodeDeadLetter(buf: Buffer): DecodedEvent<DeadLetter>;
}

const VALIDATORS = {
  prices: validatePrice,
  transactions: validateTransaction,
  rewards: validateReward,
} as const;

export const createCodec = (store: SchemaStore): Codec => {
  const decodeRecord = (table: EventTable, buf: Buffer): DecodedEvent<PriceEvent | TransactionEvent | RewardEvent> => {
    const contract = CONTRACT_OF_TABLE[table];
    if (!contract) return { ok: false, reason: `unknown table ${String(table)}` };
    const d = store.decode(contract, buf);
    if (!d.ok) return d;
    // Decimals stay strings and eventTime a number: exactly the raw shape the validators take. The
    // record goes in as decoded (no contract has a `kind` field; the validator sets it): copying the
    // avsc record with a spread was the most expensive step of decoding a price (~1/3 of it).
    return VALIDATORS[table](d.record);
  };
  return {
    store,
    encodePrice: (e) =>
      store.encode('price', {
        eventId: e.eventId,
        symbol: e.symbol,
        price: e.price.toString(),
        quantity: e.quantity.toString(),
        eventTime: e.eventTime,
        tradeId: e.tradeId,
        source: e.source,
      }),
    encodeTransaction: (e) =>
      store.encode('transaction', {
        eventId: e.eventId,
        userId: e.userId,
        type: e.type,
        asset: e.asset,
        quantity: e.quantity.toString(),
        price: e.price.toString(),
        fee: e.fee.toString(),
        feeAsset: e.feeAsset,
        eventTime: e.eventTime,
      }),
    encodeReward: (e) =>
      store.encode('reward', {
        eventId: e.eventId,
        userId: e.userId,
        rewardType: e.rewardType,
        asset: e.asset,
        quantity: e.quantity.toString(),
        price: e.price.toString(),
        eventTime: e.eventTime,
        refEventId: e.refEventId ?? null,
      }),
    encodeDeadLetter: (input) => {
      const d = boundDeadLetter(input);
      return store.encode('dead-letter', {
        source: d.source,
        reason: d.reason,
        payload: d.payload,
        receivedAt: d.receivedAt,
        key: d.key ?? null,
        payloadSize: d.payloadSize ?? null,
        payloadSha256: d.payloadSha256 ?? null,
        payloadTruncated: d.payloadTruncated ?? false,
      });
    },
    decodeRecord: decodeRecord as Codec['decodeRecord'],
    decodeDeadLetter: (buf) => {
      const d = store.decode('dead-letter', buf);
      if (!d.ok) return d;
      const r = d.record as {
        source: string;
        reason: string;
        payload: Buffer;
        receivedAt: number;
        key: string | null;
        payloadSize: number | null;
        payloadSha256: string | null;
        payloadTruncated: boolean;
      };
      return {
        ok: true,
        event: {
          source: r.source,
          reason: r.reason,
          payload: r.payload,
          receivedAt: r.receivedAt,
          ...(r.key === null ? {} : { key: r.key }),
          ...(r.payloadSize === null ? {} : { payloadSize: r.payloadSize }),
          ...(r.payloadSha256 === null ? {} : { payloadSha256: r.payloadSha256 }),
          ...(r.payloadTruncated ? { payloadTruncated: true } : {}),
        },
      };
    },
  };
};

let defaultCodec: Codec | undefined;

/** The codec over the package's schemas/ directory, loaded once on first use. */
export const codec = (): Codec => {
  defaultCodec ??= createCodec(SchemaStore.load(SCHEMA_DIR));
  return defaultCodec;
};

export const loadCodec = (dir: string): Codec => createCodec(SchemaStore.load(path.resolve(dir)));

export const encodePrice = (e: PriceEvent): Buffer => codec().encodePrice(e);
export const encodeTransaction = (e: TransactionEvent): Buffer => codec().encodeTransaction(e);
export const encodeReward = (e: RewardEvent): Buffer => codec().encodeReward(e);
export const encodeDeadLetter = (d: DeadLetter): Buffer => codec().encodeDeadLetter(d);
export const decodeDeadLetter = (buf: Buffer): DecodedEvent<DeadLetter> => codec().decodeDeadLetter(buf);

/** Usable as runIngest's `decode` option. */
export function decodeRecord(table: 'prices', buf: Buffer): DecodedEvent<PriceEvent>;
export function decodeRecord(table: 'transactions', buf: Buffer): DecodedEvent<TransactionEvent>;
export function decodeRecord(table: 'rewards', buf: Buffer): DecodedEvent<RewardEvent>;
export function decodeRecord(table: EventTable, buf: Buffer): DecodedEvent<PriceEvent | TransactionEvent | RewardEvent>;
export function decodeRecord(
  table: EventTable,
  buf: Buffer,
): DecodedEvent<PriceEvent | TransactionEvent | RewardEvent> {
  return codec().decodeRecord(table, buf);
}
