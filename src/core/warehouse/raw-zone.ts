import { PRICE_SCALE, QTY_SCALE } from '../money/decimal.js';

/**
 * The raw zone's column contract (lake/raw/<table>/dt=…), shared by the Parquet writer
 * (src/adapters/lake/raw-tables.ts appends exactly these columns) and the docs / Hive DDL.
 */
export interface RawZoneTable {
  readonly name: 'prices' | 'transactions' | 'rewards';
  readonly doc: string;
  readonly columns: readonly (readonly [string, string])[];
  /**
   * Columns computed when the file is written: [name, ms column]. Event times are also stored as
   * TIMESTAMPTZ, which Parquet holds as TIMESTAMP(MICROS, isAdjustedToUTC=true): the type Spark,
   * Hive, Trino and pandas read as a UTC instant. Never nanoseconds (Spark rejects them).
   */
  readonly timestamps: readonly (readonly [string, string])[];
  readonly orderBy: string;
}

/** The DuckDB type of a derived event-time column (µs, UTC). */
export const TIMESTAMP_TYPE = 'TIMESTAMPTZ';

/** Stored columns followed by the derived timestamps: the file's full column list. */
export const rawFileColumns = (t: RawZoneTable): readonly (readonly [string, string])[] => [
  ...t.columns,
  ...t.timestamps.map(([n]) => [n, TIMESTAMP_TYPE] as const),
];

const QTY = `DECIMAL(38,${QTY_SCALE})`;
const PRICE = `DECIMAL(38,${PRICE_SCALE})`;

/** Kafka lineage kept on every raw row, so any warehouse number can be traced to its message. */
const LINEAGE = [
  ['_topic', 'VARCHAR'],
  ['_partition', 'INTEGER'],
  ['_offset', 'BIGINT'],
] as const;

/**
 * User rows also carry the lateness reference `ingest` stamped (core/time/lateness.ts): the latest
 * event time among the decoded user events at lower offsets of the same topic partition (ms), null
 * for the partition's first record (and in files written before the column existed: never too late).
 */
const USER_LINEAGE = [...LINEAGE, ['_hwm_ms', 'BIGINT']] as const;

export const RAW_PRICES: RawZoneTable = {
  name: 'prices',
  doc: 'Trade prints from raw.prices, as ingested (decoded and validated).',
  columns: [
    ['event_id', 'VARCHAR'],
    ['symbol', 'VARCHAR'],
    ['price', PRICE],
    ['quantity', QTY],
    ['event_time_ms', 'BIGINT'],
    ['trade_id', 'VARCHAR'],
    ['source', 'VARCHAR'],
    ...LINEAGE,
  ],
  timestamps: [['event_time', 'event_time_ms']],
  orderBy: 'symbol, event_time_ms, event_id',
};

export const RAW_TRANSACTIONS: RawZoneTable = {
  name: 'transactions',
  doc: "Users' transactions from raw.transactions. A fee is in USD (scale 12) or in the base asset (scale 18): 18 holds both exactly.",
  columns: [
    ['event_id', 'VARCHAR'],
    ['user_id', 'VARCHAR'],
    ['type', 'VARCHAR'],
    ['asset', 'VARCHAR'],
    ['quantity', QTY],
    ['price', PRICE],
    ['fee', QTY],
    ['fee_asset', 'VARCHAR'],
    ['event_time_ms', 'BIGINT'],
    ...USER_LINEAGE,
  ],
  timestamps: [['event_time', 'event_time_ms']],
  orderBy: 'user_id, event_time_ms, event_id',
};

export const RAW_REWARDS: RawZoneTable = {
  name: 'rewards',
  doc: 'Cashback and staking rewards from raw.rewards.',
  columns: [
    ['event_id', 'VARCHAR'],
    ['user_id', 'VARCHAR'],
    ['reward_type', 'VARCHAR'],
    ['asset', 'VARCHAR'],
    ['quantity', QTY],
    ['price', PRICE],
    ['event_time_ms', 'BIGINT'],
    ['ref_event_id', 'VARCHAR'],
    ...USER_LINEAGE,
  ],
  timestamps: [['event_time', 'event_time_ms']],
  orderBy: 'user_id, event_time_ms, event_id',
};

export const RAW_ZONE_TABLES: readonly RawZoneTable[] = [RAW_PRICES, RAW_TRANSACTIONS, RAW_REWARDS];
