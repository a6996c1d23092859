import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DuckDBValue } from '@duckdb/node-api';
import { Duck, ident, literal } from '../../adapters/duckdb/db.js';
import { type LakeFile, type Manifest, readManifest } from '../../adapters/lake/manifest.js';
import { Staging, streamRows } from '../../adapters/lake/warehouse-rows.js';
import {
  createViews,
  type DateBuild,
  publish,
  readLedger,
  removeWarehouseOrphans,
  tableFiles,
  type WarehouseFile,
  type WarehouseLedger,
  warehouseDir,
  writeTableFile,
} from '../../adapters/lake/warehouse-store.js';
import { type Config, tiersOf } from '../../config/config.js';
import { CryptolambdaError } from '../../core/errors.js';
import type { UserEvent } from '../../core/events/types.js';
import { assetOf, validateReward, validateTransaction } from '../../core/events/validate.js';
import { Decimal, PRICE_SCALE } from '../../core/money/decimal.js';
import type { TierDef } from '../../core/rewards/tiers.js';
import { type UserState, type UserStateJson, userFromJson, userToJson } from '../../core/speed/user-ledger.js';
import { CORRELATION_WINDOWS, correlationFacts, datesEnding } from '../../core/warehouse/correlations.js';
import { buildUserDay, dayEnd, type RejectFact } from '../../core/warehouse/day-build.js';
import {
  carryForwardValid,
  dateRange,
  type PendingDates,
  parseDate,
  pendingDates,
  previousDate,
} from '../../core/warehouse/pending.js';
import {
  BATCH_REJECTS,
  columnsDdl,
  DIM_ASSET,
  DIM_DATE,
  DIM_USER,
  FACT_ASSET_CORRELATION,
  FACT_LOT_DAILY,
  FACT_PORTFOLIO_DAILY,
  FACT_PRICE_DAILY,
  FACT_REALIZED_GAIN,
  FACT_RECONCILIATION,
  FACT_REWARD_DAILY,
  SNAPSHOT_USER_STATE,
  type TableDef,
  WAREHOUSE_TABLES,
} from '../../core/warehouse/schema.js';
import { batchLockPath, withLakeLock } from './lake-lock.js';

/**
 * `batch --date D`: the batch view of one UTC date, built from the previous date's end state
 * (snapshot_user_state) plus D's raw events with the core accounting the speed layer uses, written
 * as Parquet through DuckDB's own writer and published in one atomic ledger write
 * (warehouse-store.ts). Re-running D replaces D whole; the same raw zone gives the same rows.
 *
 * Starting point: the build of D-1 when it exists and no raw file dated D-1 or earlier was
 * published after it (late events make it stale); otherwise every user event of the raw zone dated
 * up to D is replayed from scratch, in event order ("from history").
 */
export interface BatchOptions {
  readonly date: string;
  /** Build a date that has no raw files (positions carry forward, no day facts). */
  readonly allowEmpty?: boolean;
  readonly onProgress?: (p: BatchProgress) => void;
  readonly tiers?: readonly TierDef[];
  /** Test hook: after every Parquet file of the build is written, before the ledger publish. */
  readonly beforePublish?: () => Promise<void>;
  /** Unreferenced warehouse files (a crashed build) older than this are deleted first (default 0: the batch lock excludes a build in progress). */
  readonly orphanMinAgeMs?: number;
}

export interface BatchProgress {
  readonly date: string;
  readonly phase: 'reading' | 'replaying' | 'writing' | 'published';
  readonly users: number;
  readonly events: number;
}

export interface BatchResult {
  readonly date: string;
  /** Users with a state at the end of the date (carried forward or active). */
  readonly users: number;
  /** Users with at least one event of the date. */
  readonly activeUsers: number;
  readonly events: number;
  /** Rows written per table of this build (dims included when rewritten). */
  readonly rows: Record<string, number>;
  readonly rejects: number;
  readonly rejectsByCode: Record<string, number>;
  /** Raw-zone manifest commit the build read. */
  readonly rawCommit: number;
  /** True when replayed from all history instead of the previous date's snapshot. */
  readonly fromHistory: boolean;
  /** True when the date had no raw files (only with allowEmpty). */
  readonly empty: boolean;
  readonly dimsRewritten: boolean;
  /** The analysts' DuckDB catalog, or why it was not refreshed (e.g. held open by another process). */
  readonly catalog: string;
  /** Unpublished files of crashed builds deleted before this build. */
  readonly orphansRemoved: number;
  /** Seconds per phase (reading, replaying, writing, publishing). */
  readonly phases: Record<string, number>;
  readonly seconds: number;
}

export const catalogPath = (lakeDir: string): string => path.join(lakeDir, 'warehouse.duckdb');

const filesWhere = (m: Manifest, table: string, pred: (dt: string) => boolean): LakeFile[] =>
  m.files.filter((f) => f.table === table && pred(f.dt));

const parquetList = (lakeDir: string, files: readonly LakeFile[]): string =>
  `[${files.map((f) => literal(path.join(lakeDir, f.path))).join(', ')}]`;

/** The tables a date's build publishes, in the ledger order. */
const DATE_TABLES: readonly TableDef[] = [
  FACT_PORTFOLIO_DAILY,
  FACT_REWARD_DAILY,
  FACT_LOT_DAILY,
  FACT_REALIZED_GAIN,
  FACT_PRICE_DAILY,
  FACT_ASSET_CORRELATION,
  SNAPSHOT_USER_STATE,
  BATCH_REJECTS,
];

export const checkDate = (s: string, flag = '--date'): string => {
  const d = parseDate(s);
  if (d === undefined)
    throw new CryptolambdaError('INVALID_ARGUMENT', `${flag}: expected a date YYYY-MM-DD, got ${JSON.stringify(s)}`);
  return d;
};

/** Dates to build or rebuild (unbuilt raw dates, late-data stale dates and everything after them). */
export const pendingBatchDates = async (lakeDir: string): Promise<PendingDates> => {
  const [m, ledger] = await Promise.all([readManifest(lakeDir), readLedger(lakeDir)]);
  return pendingDates(m.files, Object.values(ledger.builds));
};

/** One raw user row (decimals as DuckDB's canonical text) → a validated core event, or a reason. */
const toEvent = (r: DuckDBValue[]): { ok: true; event: UserEvent } | { ok: false; reason: string; raw: object } => {
  const [src, eventId, userId, type, asset, quantity, price, fee, feeAsset, t, ref] = r;
  const eventTime = typeof t === 'bigint' ? Number(t) : t;
  const raw =
    src === 'transactions'
      ? { kind: 'transaction', eventId, userId, type, asset, quantity, price, fee, feeAsset, eventTime }
      : {
          kind: 'reward',
          eventId,
          userId,
          rewardType: type,
          asset,
          quantity,
          price,
          eventTime,
          ...(ref === null ? {} : { refEventId: ref }),
        };
  const v = src === 'transactions' ? validateTransaction(raw) : validateReward(raw);
  return v.ok ? v : { ok: false, reason: v.reason, raw };
};

const userEventsSql = (lakeDir: string, m: Manifest, pred: (dt: string) => boolean): string | undefined => {
  const parts: string[] = [];
  const tx = filesWhere(m, 'transactions', pred);
  const rw = filesWhere(m, 'rewards', pred);
  if (tx.length > 0)
    parts.push(
      `SELECT 'transactions' AS src, event_id, user_id, type, asset, CAST(quantity AS VARCHAR), CAST(price AS VARCHAR), CAST(fee AS VARCHAR), fee_asset, event_time_ms, NULL::VARCHAR FROM read_parquet(${parquetList(lakeDir, tx)})`,
    );
  if (rw.length > 0)
    parts.push(
      `SELECT 'rewards' AS src, event_id, user_id, reward_type, asset, CAST(quantity AS VARCHAR), CAST(price AS VARCHAR), NULL::VARCHAR, NULL::VARCHAR, event_time_ms, ref_event_id FROM read_parquet(${parquetList(lakeDir, rw)})`,
    );
  if (parts.length === 0) return undefined;
  return `${parts.join(' UNION ALL ')} ORDER BY user_id`;
};

interface UserGroup {
  userId: string;
  events: UserEvent[];
  invalid: RejectFact[];
}

/** Stream user events grouped by user (the query is ordered by user_id). */
async function* userGroups(duck: Duck, sql: string | undefined, date: string): AsyncGenerator<UserGroup> {
  if (sql === undefined) return;
  let cur: UserGroup | undefined;
  let rows = 0;
  for await (const r of streamRows(duck, sql)) {
    rows++;
    const userId = String(r[2]);
    if (cur === undefined || cur.userId !== userId) {
      if (cur) yield cur;
      cur = { userId, events: [], invalid: [] };
    }
    const v = toEvent(r);
    if (v.ok) cur.events.push(v.event);
    else if (new Date(Number(r[9])).toISOString().slice(0, 10) === date)
      // A raw row the core validators refuse (the raw zone holds what ingest's decoder accepted).
      cur.invalid.push({
        eventId: String(r[1]),
        userId,
        sourceTable: String(r[0]),
        code: 'INVALID',
        reason: v.reason,
        eventJson: JSON.stringify(v.raw),
      });
  }
  if (cur) yield cur;
  // Every raw row must have been seen: a stream cut short would silently drop users.
  const [{ n }] = (await duck.rows<{ n: bigint }>(`SELECT count(*) AS n FROM (${sql})`)) as [{ n: bigint }];
  if (BigInt(rows) !== n)
    throw new CryptolambdaError('INTERNAL', `read ${rows} raw user rows, the raw zone holds ${n}: stream ended early`);
}

/** Last trade price per asset (of <asset>USDT) at or before the end of `date`, over every price file dated <= date. */
const valuationCloses = async (duck: Duck, lakeDir: string, m: Manifest, date: string) => {
  const files = filesWhere(m, 'prices', (dt) => dt <= date);
  const out = new Map<string, Decimal>();
  if (files.length === 0) return out;
  const rows = await duck.rows<{ symbol: string; close: string }>(
    `SELECT symbol, CAST(first(price ORDER BY event_time_ms DESC, event_id DESC) AS VARCHAR) AS close
     FROM read_parquet(${parquetList(lakeDir, files)}) WHERE event_time_ms <= $1 GROUP BY symbol`,
    [BigInt(dayEnd(date))],
  );
  for (const r of rows) {
    const asset = assetOf(r.symbol);
    if (asset !== undefined) out.set(asset, Decimal.parse(r.close, PRICE_SCALE));
  }
  return out;
};

/** Trades of the given files, each event id once (a trade produced twice counts once, as in candles). */
const dedupedPrices = (lakeDir: string, files: readonly LakeFile[]): string =>
  `(SELECT * FROM read_parquet(${parquetList(lakeDir, files)})
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY _topic, _partition, _offset) = 1)`;

/**
 * Daily closes per asset for the correlation windows ending at `date`: fact_price_daily.close of
 * the published builds in the window, D's own from this build's staging table, and for window dates
 * never built, the same close rule over their raw prices (so a first run or a gap still has them).
 */
const windowCloses = async (duck: Duck, lakeDir: string, m: Manifest, ledger: WarehouseLedger, date: string) => {
  const window = datesEnding(date, Math.max(...CORRELATION_WINDOWS) + 1).slice(0, -1);
  const built = window.filter((d) => ledger.builds[d] !== undefined);
  const published = built.flatMap((d) =>
    ledger.builds[d]!.files.filter((f) => f.table === FACT_PRICE_DAILY.name).map((f) => path.join(lakeDir, f.path)),
  );
  const unbuilt = new Set(window.filter((d) => ledger.builds[d] === undefined));
  const raw = filesWhere(m, 'prices', (dt) => unbuilt.has(dt));
  const sources = [
    'SELECT symbol, CAST(date AS VARCHAR) AS d, CAST(close AS VARCHAR) AS close FROM stage_fact_price_daily',
    ...(published.length
      ? [
          `SELECT symbol, CAST(date AS VARCHAR), CAST(close AS VARCHAR) FROM read_parquet([${published.map(literal).join(', ')}])`,
        ]
      : []),
    ...(raw.length
      ? [
          `SELECT symbol, CAST(CAST(epoch_ms(event_time_ms) AS DATE) AS VARCHAR),
                  CAST(first(price ORDER BY event_time_ms DESC, event_id DESC) AS VARCHAR)
           FROM ${dedupedPrices(lakeDir, raw)} GROUP BY ALL`,
        ]
      : []),
  ];
  const out = new Map<string, Map<string, Decimal>>();
  for (const r of await duck.rows<{ symbol: string; d: string; close: string }>(sources.join(' UNION ALL '))) {
    const asset = assetOf(r.symbol);
    if (asset === undefined) continue;
    let byDate = out.get(asset);
    if (!byDate) {
      byDate = new Map();
      out.set(asset, byDate);
    }
    byDate.set(r.d, Decimal.parse(r.close, PRICE_SCALE));
  }
  return out;
};

const loadSnapshot = async (duck: Duck, ledger: WarehouseLedger, lakeDir: string, date: string) => {
  const files = (ledger.builds[date]?.files ?? []).filter((f) => f.table === SNAPSHOT_USER_STATE.name);
  const out = new Map<string, string>();
  if (files.length === 0) return out;
  const list = `[${files.map((f) => literal(path.join(lakeDir, f.path))).join(', ')}]`;
  for await (const r of streamRows(duck, `SELECT user_id, state_json FROM read_parquet(${list})`))
    out.set(String(r[0]), String(r[1]));
  return out;
};

const writeTables = async (
  duck: Duck,
  lakeDir: string,
  date: string | null,
  defs: readonly TableDef[],
): Promise<WarehouseFile[]> => {
  const out: WarehouseFile[] = [];
  for (const def of defs) {
    const order = def.key.map(ident).join(', ');
    out.push(
      await writeTableFile(
        duck,
        lakeDir,
        def.name,
        date,
        `SELECT * FROM ${ident(`stage_${def.name}`)}`,
        order,
        def.rowGroupSize,
      ),
    );
  }
  return out;
};

export const runBatch = (config: Config, opts: BatchOptions): Promise<BatchResult> => {
  const date = checkDate(opts.date);
  return withLakeLock(batchLockPath(config.lakeDir), 'batch', `batch ${date}`, async () => {
    // `ingest --compact` may replace raw files while the build reads them (it deletes merged inputs
    // after its manifest commit): if the build fails and the manifest moved, build again from it.
    for (let attempt = 1; ; attempt++) {
      const commit = (await readManifest(config.lakeDir)).commit;
      try {
        return await buildDate(config, date, opts);
      } catch (err) {
        if (attempt >= 3 || (await readManifest(config.lakeDir)).commit === commit) throw err;
      }
    }
  });
};

const buildDate = async (config: Config, date: string, opts: BatchOptions): Promise<BatchResult> => {
  const t0 = performance.now();
  // The configured tier table (the stream reads the same one), unless a caller passes its own.
  const tiers = opts.tiers ?? tiersOf(config);
  const lakeDir = config.lakeDir;
  const manifest = await readManifest(lakeDir);
  const ledger = await readLedger(lakeDir);
  const orphansRemoved = await removeWarehouseOrphans(
    lakeDir,
    ledger,
    WAREHOUSE_TABLES.map((t) => t.name),
    opts.orphanMinAgeMs ?? 0,
  );
  const ofDate = manifest.files.filter((f) => f.dt === date);
  if (ofDate.length === 0 && !opts.allowEmpty) {
    throw new CryptolambdaError(
      'NO_DATA',
      `no raw data for ${date} in ${path.join(lakeDir, 'raw')} (manifest commit ${manifest.commit})`,
      'run `cryptolambda ingest` first, or pass --allow-empty to carry positions forward without new events',
    );
  }
  const prev = previousDate(date);
  const prevBuild = ledger.builds[prev];
  const fromSnapshot = prevBuild !== undefined && carryForwardValid(manifest.files, prevBuild);
  const phases: Record<string, number> = {};
  let mark = performance.now();
  let current = 'reading';
  const progress = (phase: BatchProgress['phase'], users: number, events: number) => {
    if (phase !== current) {
      const now = performance.now();
      phases[current] = Math.round(now - mark) / 1000;
      mark = now;
      current = phase;
    }
    opts.onProgress?.({ date, phase, users, events });
  };
  progress('reading', 0, 0);

  const duck = await Duck.open(':memory:', { threads: 2 });
  try {
    const snapshot = fromSnapshot ? await loadSnapshot(duck, ledger, lakeDir, prev) : new Map<string, string>();
    const closes = await valuationCloses(duck, lakeDir, manifest, date);
    const stage: Record<string, Staging> = {};
    for (const d of [
      FACT_PORTFOLIO_DAILY,
      FACT_REWARD_DAILY,
      FACT_LOT_DAILY,
      FACT_REALIZED_GAIN,
      SNAPSHOT_USER_STATE,
      BATCH_REJECTS,
      FACT_ASSET_CORRELATION,
    ])
      stage[d.name] = await Staging.create(duck, d);
    // Tier at the end of the date per user, joined into dim_user.
    await duck.run('CREATE OR REPLACE TABLE stage_user_tier (user_id VARCHAR NOT NULL, tier VARCHAR NOT NULL)');
    const tierStage = await duck.conn.createAppender('stage_user_tier');
    const rejectsByCode: Record<string, number> = {};
    let users = 0;
    let activeUsers = 0;
    let events = 0;

    const emit = (userId: string, start: UserState | undefined, evs: UserEvent[], invalid: RejectFact[]) => {
      const r = buildUserDay(userId, start, evs, date, closes, tiers, config.costBasis);
      for (const { asset, lot: l } of r.lots) {
        stage.fact_lot_daily!.append([
          date,
          userId,
          asset,
          config.costBasis,
          l.lotId,
          l.seq,
          l.acquiredAt,
          l.originalQuantity,
          l.originalCost,
          l.quantity,
          l.cost,
        ]);
      }
      for (const g of r.gains) {
        stage.fact_realized_gain!.append([
          date,
          userId,
          g.asset,
          g.eventId,
          g.kind,
          g.piece,
          g.lotId,
          g.acquiredAt,
          g.disposedAt,
          g.quantity,
          g.proceeds,
          g.costBasis,
          g.gain,
        ]);
      }
      for (const f of r.portfolio) {
        const p = f.position;
        stage.fact_portfolio_daily!.append([
          date,
          userId,
          p.asset,
          p.quantity,
          p.staked,
          p.costBasis,
          f.avgCostBasis,
          p.realizedPnl,
          f.realizedPnlDay,
          p.feesPaid,
          p.rewardIncome,
          p.eventCount,
          f.eventsDay,
          p.lastEventTime,
          p.lastEventId,
          f.closePrice,
          f.marketValue,
          f.unrealizedPnl,
        ]);
      }
      if (r.rewards) {
        const d = r.rewards;
        stage.fact_reward_daily!.append([
          date,
          userId,
          d.spend,
          d.cashbackOwed,
          d.cashbackCapped,
          d.cashbackPaid,
          d.stakingIncome,
          d.realizedPnl,
          d.tier,
          d.spend30d,
          d.events,
          d.rejected,
        ]);
      }
      for (const x of [...invalid, ...r.rejects]) {
        stage.batch_rejects!.append([date, x.eventId, x.userId, x.sourceTable, x.code, x.reason, x.eventJson]);
        rejectsByCode[x.code] = (rejectsByCode[x.code] ?? 0) + 1;
      }
      stage.snapshot_user_state!.append([date, userId, JSON.stringify(userToJson(r.state))]);
      tierStage.appendVarchar(userId);
      tierStage.appendVarchar(r.tierAtEnd);
      tierStage.endRow();
      users++;
      if (r.events > 0 || invalid.length > 0 || r.rejects.length > 0) activeUsers++;
      events += r.events;
    };

    progress('replaying', 0, 0);
    const sql = userEventsSql(lakeDir, manifest, fromSnapshot ? (dt) => dt === date : (dt) => dt <= date);
    for await (const g of userGroups(duck, sql, date)) {
      const json = snapshot.get(g.userId);
      snapshot.delete(g.userId);
      emit(
        g.userId,
        json === undefined ? undefined : userFromJson(JSON.parse(json) as UserStateJson, config.costBasis),
        g.events,
        g.invalid,
      );
      if (users % 5000 === 0) progress('replaying', users, events);
    }
    // Users without events on the date: their state carries forward unchanged.
    for (const [userId, json] of snapshot)
      emit(userId, userFromJson(JSON.parse(json) as UserStateJson, config.costBasis), [], []);
    tierStage.closeSync();

    await duck.run(`CREATE OR REPLACE TABLE stage_fact_price_daily (${columnsDdl(FACT_PRICE_DAILY)})`);
    const priceFiles = ofDate.filter((f) => f.table === 'prices');
    if (priceFiles.length > 0) {
      await duck.run(
        `INSERT INTO stage_fact_price_daily
         SELECT $1::DATE, symbol, regexp_extract(symbol, '^(.+)USDT$', 1),
                first(price ORDER BY event_time_ms, event_id), max(price), min(price),
                first(price ORDER BY event_time_ms DESC, event_id DESC), sum(quantity), count(*)
         FROM ${dedupedPrices(lakeDir, priceFiles)} GROUP BY symbol`,
        [date],
      );
    }
    for (const f of correlationFacts(await windowCloses(duck, lakeDir, manifest, ledger, date), date)) {
      stage.fact_asset_correlation!.append([date, f.windowDays, f.a, f.b, f.observations, f.correlation]);
    }
    for (const s of Object.values(stage)) s.close();

    progress('writing', users, events);
    const files = await writeTables(duck, lakeDir, date, DATE_TABLES);

    // Dimensions describe the newest build: rebuilding an older date leaves them alone.
    const newest = Object.keys(ledger.builds).every((d) => d <= date);
    let dimFiles: WarehouseFile[] = [];
    if (newest) {
      await buildDims(duck, lakeDir, manifest, date, [...new Set([...Object.keys(ledger.builds), date])].sort());
      dimFiles = await writeTables(duck, lakeDir, null, [DIM_USER, DIM_ASSET, DIM_DATE]);
    }
    const rows: Record<string, number> = {};
    for (const f of [...files, ...dimFiles]) rows[f.table] = f.rows;
    const rejects = rows[BATCH_REJECTS.name] ?? 0;
    const build: DateBuild = {
      date,
      rawCommit: manifest.commit,
      builtAt: new Date().toISOString(),
      files,
      stats: { users, activeUsers, events, rejects, fromHistory: fromSnapshot ? 0 : 1, ...prefixed(rows) },
    };
    await opts.beforePublish?.();
    const next = await publish(lakeDir, { build, dims: dimFiles });
    progress('published', users, events);
    const catalog = await refreshCatalog(next, lakeDir);
    phases.catalog = Math.round(performance.now() - mark) / 1000;
    return {
      date,
      users,
      activeUsers,
      events,
      rows,
      rejects,
      rejectsByCode,
      rawCommit: manifest.commit,
      fromHistory: !fromSnapshot,
      empty: ofDate.length === 0,
      dimsRewritten: newest,
      catalog,
      orphansRemoved,
      phases,
      seconds: Math.round(performance.now() - t0) / 1000,
    };
  } finally {
    duck.close();
  }
};

const prefixed = (rows: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(rows).map(([k, v]) => [`rows.${k}`, v]));

const buildDims = async (duck: Duck, lakeDir: string, m: Manifest, date: string, dates: string[]): Promise<void> => {
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

/**
 * Views over the published files in lake/warehouse.duckdb for analysts (`duckdb lake/warehouse.duckdb`).
 * DuckDB allows one writer per file: when an analyst holds it open, the build still succeeds and
 * says the catalog was not refreshed.
 */
export const refreshCatalog = async (ledger: WarehouseLedger, lakeDir: string): Promise<string> => {
  const file = catalogPath(lakeDir);
  let duck: Duck | undefined;
  try {
    duck = await Duck.open(file, { threads: 1 });
    await createViews(
      duck,
      ledger,
      lakeDir,
      WAREHOUSE_TABLES.map((t) => t.name),
    );
    // reconcile writes its table outside the build ledger, one file per date (reconciliation-writer.ts).
    const recon = path.join(warehouseDir(lakeDir), FACT_RECONCILIATION.name);
    if (existsSync(recon))
      await duck
        .run(
          `CREATE OR REPLACE VIEW ${ident(FACT_RECONCILIATION.name)} AS SELECT * FROM read_parquet(${literal(path.join(recon, '*', '*.parquet'))})`,
        )
        .catch(() => undefined); // no file yet: no view, as for the other tables
    return file;
  } catch (err) {
    return `not refreshed: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    duck?.close();
  }
};

export interface BackfillOptions extends Omit<BatchOptions, 'date' | 'onProgress'> {
  readonly from: string;
  readonly to: string;
  readonly onDate?: (p: { date: string; index: number; total: number; result?: BatchResult }) => void;
  readonly onProgress?: (p: BatchProgress) => void;
}

/** Build from..to in date order; each date starts from the one before (stops at the first failure). */
export const runBackfill = async (config: Config, opts: BackfillOptions): Promise<BatchResult[]> => {
  const from = checkDate(opts.from, '--from');
  const to = checkDate(opts.to, '--to');
  if (from > to) throw new CryptolambdaError('INVALID_ARGUMENT', `--from ${from} is after --to ${to}`);
  const dates = dateRange(from, to);
  const out: BatchResult[] = [];
  for (const [i, date] of dates.entries()) {
    opts.onDate?.({ date, index: i, total: dates.length });
    const r = await runBatch(config, {
      date,
      ...(opts.allowEmpty === undefined ? {} : { allowEmpty: opts.allowEmpty }),
      ...(opts.tiers === undefined ? {} : { tiers: opts.tiers }),
      ...(opts.onProgress === undefined ? {} : { onProgress: opts.onProgress }),
      ...(opts.beforePublish === undefined ? {} : { beforePublish: opts.beforePublish }),
      ...(opts.orphanMinAgeMs === undefined ? {} : { orphanMinAgeMs: opts.orphanMinAgeMs }),
    });
    out.push(r);
    opts.onDate?.({ date, index: i + 1, total: dates.length, result: r });
  }
  return out;
};

/** Published files of a warehouse table (for tests and tools). */
export const warehouseTableFiles = async (lakeDir: string, table: string): Promise<string[]> =>
  tableFiles(await readLedger(lakeDir), lakeDir, table);

export { warehouseDir };
