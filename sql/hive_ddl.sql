-- Generated from src/core/warehouse/schema.ts and raw-zone.ts (test/core/warehouse/docs.test.ts keeps it in sync).
-- Registers the Parquet lake as external tables in Hive / Spark SQL. Replace ${LAKE} with the lake
-- directory as your engine sees it (e.g. s3a://bucket/lake or file:///data/lake), e.g.
--   sed 's#${LAKE}#s3a://bucket/lake#g' sql/hive_ddl.sql | beeline -u jdbc:hive2://…
-- Per-date tables are partitioned by dt (the directory dt=YYYY-MM-DD); MSCK REPAIR picks up new
-- dates after each batch. The engine reads whole directories, so query between batch runs: a
-- rebuild replaces a date by publishing new files and then deleting the old ones.

CREATE DATABASE IF NOT EXISTS cryptolambda;

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.fact_portfolio_daily (
  `date` DATE,
  `user_id` STRING,
  `asset` STRING,
  `quantity_held` DECIMAL(38,18),
  `staked` DECIMAL(38,18),
  `cost_basis` DECIMAL(38,12),
  `avg_cost_basis` DECIMAL(38,12),
  `realized_pnl` DECIMAL(38,12),
  `realized_pnl_day` DECIMAL(38,12),
  `fees_paid` DECIMAL(38,12),
  `reward_income` DECIMAL(38,12),
  `event_count` BIGINT,
  `events_day` BIGINT,
  `last_event_time_ms` BIGINT,
  `last_event_time` TIMESTAMP,
  `last_event_id` STRING,
  `close_price` DECIMAL(38,12),
  `market_value` DECIMAL(38,12),
  `unrealized_pnl` DECIMAL(38,12)
)
PARTITIONED BY (dt STRING)
STORED AS PARQUET
LOCATION '${LAKE}/warehouse/fact_portfolio_daily';
MSCK REPAIR TABLE cryptolambda.fact_portfolio_daily;

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.fact_reward_daily (
  `date` DATE,
  `user_id` STRING,
  `spend` DECIMAL(38,12),
  `cashback_owed` DECIMAL(38,12),
  `cashback_capped` DECIMAL(38,12),
  `cashback_paid` DECIMAL(38,12),
  `staking_income` DECIMAL(38,12),
  `realized_pnl` DECIMAL(38,12),
  `tier_at_time` STRING,
  `rolling_30d_spend` DECIMAL(38,12),
  `events` BIGINT,
  `rejected` BIGINT
)
PARTITIONED BY (dt STRING)
STORED AS PARQUET
LOCATION '${LAKE}/warehouse/fact_reward_daily';
MSCK REPAIR TABLE cryptolambda.fact_reward_daily;

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.fact_asset_correlation (
  `date` DATE,
  `window_days` INT,
  `asset_a` STRING,
  `asset_b` STRING,
  `observations` INT,
  `correlation` DECIMAL(38,12)
)
PARTITIONED BY (dt STRING)
STORED AS PARQUET
LOCATION '${LAKE}/warehouse/fact_asset_correlation';
MSCK REPAIR TABLE cryptolambda.fact_asset_correlation;

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.fact_price_daily (
  `date` DATE,
  `symbol` STRING,
  `asset` STRING,
  `open` DECIMAL(38,12),
  `high` DECIMAL(38,12),
  `low` DECIMAL(38,12),
  `close` DECIMAL(38,12),
  `volume` DECIMAL(38,18),
  `trades` BIGINT
)
PARTITIONED BY (dt STRING)
STORED AS PARQUET
LOCATION '${LAKE}/warehouse/fact_price_daily';
MSCK REPAIR TABLE cryptolambda.fact_price_daily;

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.fact_lot_daily (
  `date` DATE,
  `user_id` STRING,
  `asset` STRING,
  `cost_method` STRING,
  `lot_id` STRING,
  `seq` BIGINT,
  `acquired_at_ms` BIGINT,
  `original_quantity` DECIMAL(38,18),
  `original_cost` DECIMAL(38,12),
  `quantity` DECIMAL(38,18),
  `cost` DECIMAL(38,12)
)
PARTITIONED BY (dt STRING)
STORED AS PARQUET
LOCATION '${LAKE}/warehouse/fact_lot_daily';
MSCK REPAIR TABLE cryptolambda.fact_lot_daily;

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.fact_realized_gain (
  `date` DATE,
  `user_id` STRING,
  `asset` STRING,
  `event_id` STRING,
  `kind` STRING,
  `piece` INT,
  `lot_id` STRING,
  `acquired_at_ms` BIGINT,
  `disposed_at_ms` BIGINT,
  `quantity` DECIMAL(38,18),
  `proceeds` DECIMAL(38,12),
  `cost_basis` DECIMAL(38,12),
  `gain` DECIMAL(38,12)
)
PARTITIONED BY (dt STRING)
STORED AS PARQUET
LOCATION '${LAKE}/warehouse/fact_realized_gain';
MSCK REPAIR TABLE cryptolambda.fact_realized_gain;

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.snapshot_user_state (
  `date` DATE,
  `user_id` STRING,
  `state_json` STRING
)
PARTITIONED BY (dt STRING)
STORED AS PARQUET
LOCATION '${LAKE}/warehouse/snapshot_user_state';
MSCK REPAIR TABLE cryptolambda.snapshot_user_state;

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.snapshot_user_window (
  `date` DATE,
  `user_id` STRING,
  `kind` STRING,
  `part` INT,
  `entries_json` STRING
)
PARTITIONED BY (dt STRING)
STORED AS PARQUET
LOCATION '${LAKE}/warehouse/snapshot_user_window';
MSCK REPAIR TABLE cryptolambda.snapshot_user_window;

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.batch_rejects (
  `date` DATE,
  `event_id` STRING,
  `user_id` STRING,
  `source_table` STRING,
  `code` STRING,
  `reason` STRING,
  `event_json` STRING
)
PARTITIONED BY (dt STRING)
STORED AS PARQUET
LOCATION '${LAKE}/warehouse/batch_rejects';
MSCK REPAIR TABLE cryptolambda.batch_rejects;

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.dim_user (
  `user_id` STRING,
  `signup_date` DATE,
  `kyc_status` STRING,
  `current_tier` STRING,
  `as_of` DATE
)
STORED AS PARQUET
LOCATION '${LAKE}/warehouse/dim_user';

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.dim_asset (
  `asset` STRING,
  `symbol` STRING,
  `first_seen` DATE
)
STORED AS PARQUET
LOCATION '${LAKE}/warehouse/dim_asset';

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.dim_date (
  `date` DATE,
  `year` INT,
  `month` INT,
  `day` INT,
  `iso_week` INT,
  `day_of_week` INT,
  `is_weekend` BOOLEAN
)
STORED AS PARQUET
LOCATION '${LAKE}/warehouse/dim_date';

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.fact_reconciliation (
  `date` DATE,
  `user_id` STRING,
  `subject` STRING,
  `field` STRING,
  `status` STRING,
  `batch_value` STRING,
  `speed_value` STRING,
  `difference` STRING
)
PARTITIONED BY (dt STRING)
STORED AS PARQUET
LOCATION '${LAKE}/warehouse/fact_reconciliation';
MSCK REPAIR TABLE cryptolambda.fact_reconciliation;

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.raw_prices (
  `event_id` STRING,
  `symbol` STRING,
  `price` DECIMAL(38,12),
  `quantity` DECIMAL(38,18),
  `event_time_ms` BIGINT,
  `trade_id` STRING,
  `source` STRING,
  `_topic` STRING,
  `_partition` INT,
  `_offset` BIGINT,
  `event_time` TIMESTAMP
)
PARTITIONED BY (dt STRING)
STORED AS PARQUET
LOCATION '${LAKE}/raw/prices';
MSCK REPAIR TABLE cryptolambda.raw_prices;

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.raw_transactions (
  `event_id` STRING,
  `user_id` STRING,
  `type` STRING,
  `asset` STRING,
  `quantity` DECIMAL(38,18),
  `price` DECIMAL(38,12),
  `fee` DECIMAL(38,18),
  `fee_asset` STRING,
  `event_time_ms` BIGINT,
  `_topic` STRING,
  `_partition` INT,
  `_offset` BIGINT,
  `_hwm_ms` BIGINT,
  `event_time` TIMESTAMP
)
PARTITIONED BY (dt STRING)
STORED AS PARQUET
LOCATION '${LAKE}/raw/transactions';
MSCK REPAIR TABLE cryptolambda.raw_transactions;

CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.raw_rewards (
  `event_id` STRING,
  `user_id` STRING,
  `reward_type` STRING,
  `asset` STRING,
  `quantity` DECIMAL(38,18),
  `price` DECIMAL(38,12),
  `event_time_ms` BIGINT,
  `ref_event_id` STRING,
  `_topic` STRING,
  `_partition` INT,
  `_offset` BIGINT,
  `_hwm_ms` BIGINT,
  `event_time` TIMESTAMP
)
PARTITIONED BY (dt STRING)
STORED AS PARQUET
LOCATION '${LAKE}/raw/rewards';
MSCK REPAIR TABLE cryptolambda.raw_rewards;

