import { columnsDdl, DIM_ASSET, DIM_DATE, DIM_USER } from '../../core/warehouse/schema.js';
import type { Duck } from '../duckdb/db.js';
import type { Manifest } from './manifest.js';
import { filesWhere, parquetList } from './raw-zone-reader.js';

/**
 * Stage the dimensions of the newest build (stage_dim_user / _asset / _date) from the raw zone up to
 * `date` and `stage_user_tier` (user_id, tier at the end of the date: one row per user of every shard).
 */
export const stageDims = async (
  duck: Duck,
  lakeDir: string,
  m: Manifest,
  date: string,
  dates: string[],
): Promise<void> => {
  const upTo = (dt: string) => dt <= date;
  const tx = filesWhere(m, 'transactions', upTo);
  const rw = filesWhere(m, 'rewards', upTo);
  const px = filesWhere(m, 'prices', upTo);
  const userSources = [
    ...(tx.length ? [`SELECT user_id, event_time_ms, asset FROM read_parquet(${parquetList(lakeDir, tx)})`] : []),
    ...(rw.length ? [`SELECT user_id, event_time_ms, asset FROM read_parquet(${parquetList(lakeDir, rw)})`] : []),
  ];
  const userEvents = userSources.length
    ? userSources.join(' UNION ALL ')
    : 'SELECT NULL::VARCHAR AS user_id, NULL::BIGINT AS event_time_ms, NULL::VARCHAR AS asset WHERE false';

  await duck.run(`CREATE OR REPLACE TABLE stage_dim_user (${columnsDdl(DIM_USER)})`);
  await duck.run(
    `INSERT INTO stage_dim_user
     SELECT t.user_id, COALESCE(CAST(epoch_ms(s.first_ms) AS DATE), $1::DATE), 'unknown', t.tier, $1::DATE
     FROM stage_user_tier t
     LEFT JOIN (SELECT user_id, min(event_time_ms) AS first_ms FROM (${userEvents}) GROUP BY user_id) s USING (user_id)`,
    [date],
  );

  const assetSources = [
    `SELECT asset, min(event_time_ms) AS t FROM (${userEvents}) GROUP BY asset`,
    ...(px.length
      ? [
          `SELECT regexp_extract(symbol, '^(.+)USDT$', 1) AS asset, min(event_time_ms) AS t
           FROM read_parquet(${parquetList(lakeDir, px)}) WHERE symbol LIKE '%_USDT' GROUP BY symbol`,
        ]
      : []),
  ];
  await duck.run(`CREATE OR REPLACE TABLE stage_dim_asset (${columnsDdl(DIM_ASSET)})`);
  await duck.run(
    `INSERT INTO stage_dim_asset
     SELECT asset, CASE WHEN asset = 'USD' THEN NULL ELSE asset || 'USDT' END, CAST(epoch_ms(min(t)) AS DATE)
     FROM (${assetSources.join(' UNION ALL ')}) WHERE asset IS NOT NULL GROUP BY asset`,
  );

  await duck.run(`CREATE OR REPLACE TABLE stage_dim_date (${columnsDdl(DIM_DATE)})`);
  await duck.run(
    `INSERT INTO stage_dim_date
     SELECT d, year(d), month(d), day(d), weekofyear(d), isodow(d), isodow(d) >= 6
     FROM (SELECT CAST(unnest(string_split($1, ',')) AS DATE) AS d)`,
    [dates.join(',')],
  );
};

/** stage_user_tier from the shards' tier files. */
export const stageUserTiers = async (
  duck: Duck,
  lakeDir: string,
  files: readonly { path: string }[],
): Promise<void> => {
  await duck.run('CREATE OR REPLACE TABLE stage_user_tier (user_id VARCHAR NOT NULL, tier VARCHAR NOT NULL)');
  if (files.length > 0)
    await duck.run(
      `INSERT INTO stage_user_tier SELECT user_id, tier FROM read_parquet(${parquetList(lakeDir, files)})`,
    );
};
