import type { DomainEvent, PriceEvent, RewardEvent, TransactionEvent } from '../../core/events/types.js';
import { PRICE_SCALE, QTY_SCALE } from '../../core/money/decimal.js';
import { RAW_PRICES, RAW_REWARDS, RAW_TRANSACTIONS } from '../../core/warehouse/raw-zone.js';
import { toDuckDecimal } from '../duckdb/db.js';
import type { RowSink } from './warehouse-rows.js';

/** Kafka lineage kept on every raw row, so any warehouse number can be traced to its message. */
export interface Lineage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** User rows: the topic partition's event-time high-water mark before this record (ms). */
  readonly hwmMs?: number;
}

export interface RawTable<E extends DomainEvent> {
  readonly name: 'prices' | 'transactions' | 'rewards';
  /** DuckDB column definitions, in order. Amounts are exact DECIMAL(38, s), never DOUBLE. */
  readonly columns: readonly (readonly [string, string])[];
  /** Derived UTC timestamps, [name, epoch-ms column], computed when a file is written. */
  readonly timestamps: readonly (readonly [string, string])[];
  readonly orderBy: string;
  append(a: RowSink, e: E, l: Lineage): void;
}

const appendLineage = (a: RowSink, l: Lineage): void => {
  a.appendVarchar(l.topic);
  a.appendInteger(l.partition);
  a.appendBigInt(BigInt(l.offset));
};

const appendUserLineage = (a: RowSink, l: Lineage): void => {
  appendLineage(a, l);
  if (l.hwmMs === undefined) a.appendNull();
  else a.appendBigInt(BigInt(l.hwmMs));
};

export const PRICES_TABLE: RawTable<PriceEvent> = {
  name: 'prices',
  // The column contract lives in core (docs and Hive DDL are generated from it); append() follows it.
  columns: RAW_PRICES.columns,
  timestamps: RAW_PRICES.timestamps,
  orderBy: RAW_PRICES.orderBy,
  append(a, e, l) {
    a.appendVarchar(e.eventId);
    a.appendVarchar(e.symbol);
    a.appendDecimal(toDuckDecimal(e.price, PRICE_SCALE));
    a.appendDecimal(toDuckDecimal(e.quantity, QTY_SCALE));
    a.appendBigInt(BigInt(e.eventTime));
    a.appendVarchar(e.tradeId);
    a.appendVarchar(e.source);
    appendLineage(a, l);
    a.endRow();
  },
};

export const TRANSACTIONS_TABLE: RawTable<TransactionEvent> = {
  name: 'transactions',
  // The column contract lives in core (docs and Hive DDL are generated from it); append() follows it.
  columns: RAW_TRANSACTIONS.columns,
  timestamps: RAW_TRANSACTIONS.timestamps,
  orderBy: RAW_TRANSACTIONS.orderBy,
  append(a, e, l) {
    a.appendVarchar(e.eventId);
    a.appendVarchar(e.userId);
    a.appendVarchar(e.type);
    a.appendVarchar(e.asset);
    a.appendDecimal(toDuckDecimal(e.quantity, QTY_SCALE));
    a.appendDecimal(toDuckDecimal(e.price, PRICE_SCALE));
    a.appendDecimal(toDuckDecimal(e.fee, QTY_SCALE));
    a.appendVarchar(e.feeAsset);
    a.appendBigInt(BigInt(e.eventTime));
    appendUserLineage(a, l);
    a.endRow();
  },
};

export const REWARDS_TABLE: RawTable<RewardEvent> = {
  name: 'rewards',
  // The column contract lives in core (docs and Hive DDL are generated from it); append() follows it.
  columns: RAW_REWARDS.columns,
  timestamps: RAW_REWARDS.timestamps,
  orderBy: RAW_REWARDS.orderBy,
  append(a, e, l) {
    a.appendVarchar(e.eventId);
    a.appendVarchar(e.userId);
    a.appendVarchar(e.rewardType);
    a.appendVarchar(e.asset);
    a.appendDecimal(toDuckDecimal(e.quantity, QTY_SCALE));
    a.appendDecimal(toDuckDecimal(e.price, PRICE_SCALE));
    a.appendBigInt(BigInt(e.eventTime));
    if (e.refEventId === undefined) a.appendNull();
    else a.appendVarchar(e.refEventId);
    appendUserLineage(a, l);
    a.endRow();
  },
};

export const RAW_TABLES = { prices: PRICES_TABLE, transactions: TRANSACTIONS_TABLE, rewards: REWARDS_TABLE } as const;
export type RawTableName = keyof typeof RAW_TABLES;

export const tableFor = (e: DomainEvent): RawTableName =>
  e.kind === 'price' ? 'prices' : e.kind === 'transaction' ? 'transactions' : 'rewards';

/** UTC event date of an epoch-ms time: the dt= partition. */
export const eventDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
