/**
 * The warehouse star schema: the one contract between the batch layer (which writes these tables),
 * serving (`portfolio`, `reconcile`, analysts' queries) and the pipeline's data-quality checks.
 *
 * Every money column is an exact DuckDB DECIMAL(38, scale) mapped losslessly from core Decimal
 * (QTY_SCALE 18 for quantities, PRICE_SCALE / USD_SCALE 12 for prices and USD amounts). Times are
 * epoch milliseconds (BIGINT) in UTC, each beside a derived TIMESTAMPTZ (µs, UTC) for engines that
 * want a timestamp type; dates are DATE (UTC event date). Facts are written per date
 * under `lake/warehouse/<table>/dt=YYYY-MM-DD/` sorted by user_id.
 *
 * docs/warehouse.md documents every table and column; keep it in step with this file.
 */
import { PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../money/decimal.js';

export const QTY_TYPE = `DECIMAL(38, ${QTY_SCALE})`;
export const PRICE_TYPE = `DECIMAL(38, ${PRICE_SCALE})`;
export const USD_TYPE = `DECIMAL(38, ${USD_SCALE})`;

export interface ColumnDef {
  readonly name: string;
  readonly type: string;
  readonly nullable?: boolean;
  readonly doc: string;
  /** Computed when the file is written from this epoch-ms column (TIMESTAMPTZ, µs, UTC); not staged. */
  readonly derivedFrom?: string;
}

export interface TableDef {
  readonly name: string;
  /** Per-date tables are partitioned by `date`; dims are rewritten whole at each build. */
  readonly perDate: boolean;
  readonly key: readonly string[];
  readonly doc: string;
  readonly columns: readonly ColumnDef[];
  /**
   * Parquet row-group size. A point lookup by user id decompresses one whole group, so tables read
   * per user with wide rows use small groups (default 16,384).
   */
  readonly rowGroupSize?: number;
  /** Order the files are written in, when not the key's (a prefix of the key and then other columns). */
  readonly sortBy?: readonly string[];
}

const col = (name: string, type: string, doc: string, nullable = false): ColumnDef => ({ name, type, doc, nullable });

/**
 * One row per (date, user, asset) for every position that exists at the end of `date` (quantity or
 * cost non-zero, or any event that day), carried forward on days without events. The position
 * columns mirror core `Position` / `PositionJson` field by field, so reconcile compares them with
 * the speed layer's end-of-day state (`eod:<user>:<day>`) without translation.
 */
export const FACT_PORTFOLIO_DAILY: TableDef = {
  name: 'fact_portfolio_daily',
  perDate: true,
  key: ['date', 'user_id', 'asset'],
  doc: 'End-of-day position per user and asset, with the close price and valuation of that day.',
  columns: [
    col('date', 'DATE', 'UTC event date the row describes (end of day).'),
    col('user_id', 'VARCHAR', 'User id.'),
    col('asset', 'VARCHAR', 'Asset held (e.g. BTC).'),
    col('quantity_held', QTY_TYPE, 'Units held at end of day, staked units included (Position.quantity).'),
    col('staked', QTY_TYPE, 'Of quantity_held, units locked in staking.'),
    col('cost_basis', USD_TYPE, 'Total cost of the units held, acquisition fees capitalized (USD).'),
    col('avg_cost_basis', PRICE_TYPE, 'cost_basis / quantity_held, HALF-EVEN; 0 when nothing is held.'),
    col('realized_pnl', USD_TYPE, 'Cumulative realized P&L net of disposal fees, since the first event.'),
    col('realized_pnl_day', USD_TYPE, 'Realized P&L booked on this date.'),
    col('fees_paid', USD_TYPE, 'Cumulative fees in USD at the event price.'),
    col('reward_income', USD_TYPE, 'Cumulative market value of rewards at credit time.'),
    col('event_count', 'BIGINT', 'Cumulative number of events applied to the position.'),
    col('events_day', 'BIGINT', 'Events applied to the position on this date.'),
    col('last_event_time_ms', 'BIGINT', 'Event time of the last applied event.'),
    {
      name: 'last_event_time',
      type: 'TIMESTAMPTZ',
      doc: 'last_event_time_ms as a UTC timestamp (µs precision; Parquet TIMESTAMP(MICROS, UTC)).',
      derivedFrom: 'last_event_time_ms',
    },
    col('last_event_id', 'VARCHAR', 'Event id of the last applied event.'),
    col(
      'close_price',
      PRICE_TYPE,
      "Last trade price of <asset>USDT at or before the day's end; NULL if never seen.",
      true,
    ),
    col('market_value', USD_TYPE, 'quantity_held x close_price (HALF-EVEN); NULL without a close price.', true),
    col('unrealized_pnl', USD_TYPE, 'market_value - cost_basis; NULL without a close price.', true),
  ],
};

/**
 * One row per (date, user) with any user event that day: the day aggregate core `DayRewards`
 * computes (the speed layer's `rw:<user>:<day>`), in wide form: card spend, cashback owed by the
 * tier rules vs cashback paid (raw.rewards), staking income, the tier at the user's last event.
 */
export const FACT_REWARD_DAILY: TableDef = {
  name: 'fact_reward_daily',
  perDate: true,
  key: ['date', 'user_id'],
  doc: 'Per user and day: spend, cashback owed vs paid, staking rewards, tier and 30-day rolling spend.',
  columns: [
    col('date', 'DATE', 'UTC event date.'),
    col('user_id', 'VARCHAR', 'User id.'),
    col('spend', USD_TYPE, 'Card spend of the day (USD).'),
    col('cashback_owed', USD_TYPE, "Cashback owed by the tier rules for the day's spend, after the monthly cap."),
    col('cashback_capped', USD_TYPE, 'Cashback withheld by the monthly cap.'),
    col('cashback_paid', USD_TYPE, 'Cashback rewards credited (market value at credit).'),
    col('staking_income', USD_TYPE, 'Staking rewards credited (market value at credit).'),
    col('realized_pnl', USD_TYPE, 'Realized P&L booked on the day, all assets.'),
    col('tier_at_time', 'VARCHAR', "Reward tier after the user's last event of the day."),
    col('rolling_30d_spend', USD_TYPE, "30-day rolling spend after the user's last event of the day."),
    col('events', 'BIGINT', 'User events of the day (applied + rejected, duplicates excluded).'),
    col('rejected', 'BIGINT', 'Events rejected by accounting (e.g. sell beyond holdings); see batch_rejects.'),
  ],
};

/**
 * One row per open tax lot at the end of `date` (core LotQueue, docs/core.md §3a), carried forward
 * like positions. For every (user, asset) the lots' quantity sums to fact_portfolio_daily's
 * quantity_held, and under fifo/lifo/hifo their cost sums to its cost_basis. reconcile compares
 * them with the lots in the speed layer's end-of-day state.
 */
export const FACT_LOT_DAILY: TableDef = {
  name: 'fact_lot_daily',
  perDate: true,
  key: ['date', 'user_id', 'asset', 'lot_id'],
  // In acquisition order within a position: the next date's build reads a user's lots back in this
  // order and rebuilds the queue without sorting them (a heavy user holds millions).
  sortBy: ['date', 'user_id', 'asset', 'seq'],
  doc: 'Open tax lots per user and asset at the end of the date, by the deployment cost-basis method.',
  columns: [
    col('date', 'DATE', 'UTC date (end of day).'),
    col('user_id', 'VARCHAR', 'User id.'),
    col('asset', 'VARCHAR', 'Asset.'),
    col('cost_method', 'VARCHAR', 'average, fifo, lifo or hifo.'),
    col('lot_id', 'VARCHAR', 'Event id of the acquisition that opened the lot.'),
    col('seq', 'BIGINT', 'Acquisition order within the user and asset.'),
    col('acquired_at_ms', 'BIGINT', 'Event time of the acquisition.'),
    col('original_quantity', QTY_TYPE, 'Units acquired.'),
    col(
      'original_cost',
      USD_TYPE,
      'Cost of the units acquired (fees capitalized; rewards at fair value under lot methods).',
    ),
    col('quantity', QTY_TYPE, 'Units of the lot still held.'),
    col('cost', USD_TYPE, 'Remaining cost of those units.'),
  ],
};

/**
 * Realized gains lot by lot: one row per (disposal event, lot piece), plus rows without a lot for USD
 * fees of withdrawals/stakes (`expense`) and cash that bought no unit (`void`). Per user and date the
 * gains sum to fact_reward_daily.realized_pnl. `gains --year` reads this table.
 */
export const FACT_REALIZED_GAIN: TableDef = {
  name: 'fact_realized_gain',
  perDate: true,
  key: ['date', 'user_id', 'event_id', 'piece'],
  doc: 'Realized gains per disposal and lot (Form 8949 lines), by the deployment cost-basis method.',
  columns: [
    col('date', 'DATE', 'UTC date of the disposal.'),
    col('user_id', 'VARCHAR', 'User id.'),
    col('asset', 'VARCHAR', 'Asset disposed of.'),
    col('event_id', 'VARCHAR', 'Disposal event id.'),
    col('kind', 'VARCHAR', 'sell, card_spend, fee (units paid as a fee), expense (USD fee) or void.'),
    col('piece', 'INTEGER', "Row's position among the event's rows: the order its lots were consumed in."),
    col('lot_id', 'VARCHAR', "Lot the units came from; '' for expense and void rows."),
    col('acquired_at_ms', 'BIGINT', 'Acquisition time of the lot.'),
    col('disposed_at_ms', 'BIGINT', 'Event time of the disposal.'),
    col('quantity', QTY_TYPE, 'Units disposed of from the lot.'),
    col(
      'proceeds',
      USD_TYPE,
      "The piece's share of the proceeds net of the USD fee (HALF-EVEN, remainder to the last piece).",
    ),
    col('cost_basis', USD_TYPE, 'Cost of the units disposed of.'),
    col('gain', USD_TYPE, 'proceeds - cost_basis.'),
  ],
};

/**
 * The user's core state (UserStateJson) after `date`: the carry-forward for date + 1. Its open lots
 * are not in the JSON (`lotsApart`: each queue's method, next seq and lot count): they are the
 * user's fact_lot_daily rows of the same date, which the next build and the readers merge back; a
 * heavy user's dedup ids and window spends are its snapshot_user_window rows (`windowApart`).
 */
export const SNAPSHOT_USER_STATE: TableDef = {
  name: 'snapshot_user_state',
  perDate: true,
  key: ['date', 'user_id'],
  rowGroupSize: 2048,
  doc: 'Internal: core UserState after the date, the starting point of the next date (positions carry forward).',
  columns: [
    col('date', 'DATE', 'UTC date the state is the end of.'),
    col('user_id', 'VARCHAR', 'User id.'),
    col(
      'state_json',
      'VARCHAR',
      "core UserStateJson (exact decimals as strings); the open lots are the same date's fact_lot_daily rows, a heavy user's window entries its snapshot_user_window rows.",
    ),
  ],
};

/**
 * The dedup ids and 30-day card spends of the states whose windows are stored apart (a state with
 * more than WINDOW_PART of them, core user-ledger.ts `windowApart`): in parts of at most WINDOW_PART
 * entries, so no value grows with a heavy user's activity. Read back with the same date's
 * snapshot_user_state row, in the same user order.
 */
export const SNAPSHOT_USER_WINDOW: TableDef = {
  name: 'snapshot_user_window',
  perDate: true,
  key: ['date', 'user_id', 'kind', 'part'],
  // A part is up to ~50 KB of JSON: small groups keep a group's decompressed column a few MB.
  rowGroupSize: 128,
  doc: "Internal: the dedup ids and window spends of a heavy user's snapshot_user_state, in parts.",
  columns: [
    col('date', 'DATE', 'UTC date the state is the end of.'),
    col('user_id', 'VARCHAR', 'User id.'),
    col('kind', 'VARCHAR', "'recent' (event ids of the dedup window) or 'spends' (card spends of the 30-day window)."),
    col('part', 'INTEGER', 'Part number within the user and kind, 0 first, in window order.'),
    col(
      'entries_json',
      'VARCHAR',
      'The entries as JSON: {"ids": event ids joined by spaces, "t": their event_time_ms} (recent; parts written before 2026-12-02 are an array of [event_id, event_time_ms]) or an array of [event_id, event_time_ms, amount] (spends).',
    ),
  ],
};

/** Row-level problems of a date's build: never silently dropped. */
export const BATCH_REJECTS: TableDef = {
  name: 'batch_rejects',
  perDate: true,
  key: ['date', 'event_id'],
  doc: 'Events of the date the build did not apply, with the reason (accounting rejects, invalid rows).',
  columns: [
    col('date', 'DATE', 'UTC event date.'),
    col('event_id', 'VARCHAR', 'Event id.'),
    col('user_id', 'VARCHAR', 'User id, when known.', true),
    col('source_table', 'VARCHAR', 'Raw table the row came from (transactions, rewards, prices).'),
    col('code', 'VARCHAR', 'Reject code (e.g. INSUFFICIENT_HOLDINGS, INVALID, DUPLICATE, TOO_LATE).'),
    col('reason', 'VARCHAR', 'Human-readable reason.'),
    col('event_json', 'VARCHAR', 'The event as core raw JSON.'),
  ],
};

/** Pairwise Pearson correlation of daily close-to-close returns over trailing windows ending at date. */
export const FACT_ASSET_CORRELATION: TableDef = {
  name: 'fact_asset_correlation',
  perDate: true,
  key: ['date', 'window_days', 'asset_a', 'asset_b'],
  doc: 'Correlation of daily returns between asset pairs over the 30 and 90 days ending at date.',
  columns: [
    col('date', 'DATE', 'Last day of the window.'),
    col('window_days', 'INTEGER', 'Window length in days (30 or 90).'),
    col('asset_a', 'VARCHAR', 'First asset (asset_a < asset_b).'),
    col('asset_b', 'VARCHAR', 'Second asset.'),
    col('observations', 'INTEGER', 'Number of paired daily returns used.'),
    col('correlation', 'DECIMAL(38, 12)', 'Pearson correlation, exact to 12 places; NULL when undefined.', true),
  ],
};

/** Daily close per symbol (last trade at or before the day's end), the input of valuation and correlations. */
export const FACT_PRICE_DAILY: TableDef = {
  name: 'fact_price_daily',
  perDate: true,
  key: ['date', 'symbol'],
  doc: 'Daily OHLCV per symbol from raw prices, the close used for valuation and returns.',
  columns: [
    col('date', 'DATE', 'UTC date.'),
    col('symbol', 'VARCHAR', 'Trading pair, e.g. BTCUSDT.'),
    col('asset', 'VARCHAR', 'Base asset, e.g. BTC.'),
    col('open', PRICE_TYPE, 'First trade price of the day (event time, event-id tie-break).'),
    col('high', PRICE_TYPE, 'Highest trade price.'),
    col('low', PRICE_TYPE, 'Lowest trade price.'),
    col('close', PRICE_TYPE, 'Last trade price of the day.'),
    col('volume', QTY_TYPE, 'Base volume.'),
    col('trades', 'BIGINT', 'Number of trades.'),
  ],
};

export const DIM_USER: TableDef = {
  name: 'dim_user',
  perDate: false,
  key: ['user_id'],
  doc: 'Every user seen up to the latest build.',
  columns: [
    col('user_id', 'VARCHAR', 'User id.'),
    col('signup_date', 'DATE', 'Date of the first event seen for the user (a proxy until a user feed exists).'),
    col('kyc_status', 'VARCHAR', "KYC status; 'unknown' until a KYC feed is ingested."),
    col('current_tier', 'VARCHAR', 'Tier at the end of the latest built date.'),
    col('as_of', 'DATE', 'Latest built date the row reflects.'),
  ],
};

export const DIM_ASSET: TableDef = {
  name: 'dim_asset',
  perDate: false,
  key: ['asset'],
  doc: 'Every asset seen in prices or transactions.',
  columns: [
    col('asset', 'VARCHAR', 'Asset code.'),
    col('symbol', 'VARCHAR', 'USDT trading pair used to price it, NULL for USD.', true),
    col('first_seen', 'DATE', 'First date it appeared.'),
  ],
};

export const DIM_DATE: TableDef = {
  name: 'dim_date',
  perDate: false,
  key: ['date'],
  doc: 'Calendar of every built date.',
  columns: [
    col('date', 'DATE', 'UTC date.'),
    col('year', 'INTEGER', 'Year.'),
    col('month', 'INTEGER', 'Month 1-12.'),
    col('day', 'INTEGER', 'Day of month.'),
    col('iso_week', 'INTEGER', 'ISO week number.'),
    col('day_of_week', 'INTEGER', 'ISO day of week, 1 = Monday.'),
    col('is_weekend', 'BOOLEAN', 'Saturday or Sunday.'),
  ],
};

/** Written by `reconcile --date`: one row per compared (date, user, asset or reward field). */
export const FACT_RECONCILIATION: TableDef = {
  name: 'fact_reconciliation',
  perDate: true,
  key: ['date', 'user_id', 'subject', 'field'],
  doc: 'Result of comparing the batch facts of a date with the speed layer end-of-day state.',
  columns: [
    col('date', 'DATE', 'Reconciled date.'),
    col('user_id', 'VARCHAR', 'User id.'),
    col('subject', 'VARCHAR', "Asset code, or 'rewards' for the day aggregate."),
    col('field', 'VARCHAR', "Compared field, or '*' for a row missing on one side."),
    col('status', 'VARCHAR', "'match', 'mismatch', 'missing_in_batch' or 'missing_in_speed'."),
    col('batch_value', 'VARCHAR', 'Batch value (canonical decimal string), NULL if missing.', true),
    col('speed_value', 'VARCHAR', 'Speed value (canonical decimal string), NULL if missing.', true),
    col('difference', 'VARCHAR', 'speed - batch for numeric fields, exact; NULL otherwise.', true),
  ],
};

export const WAREHOUSE_TABLES: readonly TableDef[] = [
  FACT_PORTFOLIO_DAILY,
  FACT_REWARD_DAILY,
  FACT_ASSET_CORRELATION,
  FACT_PRICE_DAILY,
  FACT_LOT_DAILY,
  FACT_REALIZED_GAIN,
  SNAPSHOT_USER_STATE,
  SNAPSHOT_USER_WINDOW,
  BATCH_REJECTS,
  DIM_USER,
  DIM_ASSET,
  DIM_DATE,
];

/** `CREATE TABLE` column list for a table definition. */
/** The columns the batch fills (derived timestamps are computed at write time). */
export const storedColumns = (t: TableDef): readonly ColumnDef[] => t.columns.filter((c) => !c.derivedFrom);

export const columnsDdl = (t: TableDef): string =>
  storedColumns(t)
    .map((c) => `"${c.name}" ${c.type}${c.nullable ? '' : ' NOT NULL'}`)
    .join(', ');
