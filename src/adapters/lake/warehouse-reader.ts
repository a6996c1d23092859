import path from 'node:path';
import type { DuckDBValue } from '@duckdb/node-api';
import { CryptolambdaError } from '../../core/errors.js';
import type { PriceEvent, UserEvent } from '../../core/events/types.js';
import { validateReward, validateTransaction } from '../../core/events/validate.js';
import { PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../../core/money/decimal.js';
import type { Disposal, DisposalKind } from '../../core/portfolio/lot-accounting.js';
import { LotSummarizer, type LotSummary, type OpenLot, summarizeLots } from '../../core/portfolio/lots.js';
import type { BatchPositionRow, BatchRewardRow } from '../../core/serving/reconcile.js';
import { type DayRewards, inlineLots, inlineWindow, type UserStateJson } from '../../core/speed/user-ledger.js';
import {
  BATCH_REJECTS,
  FACT_ASSET_CORRELATION,
  FACT_LOT_DAILY,
  FACT_PORTFOLIO_DAILY,
  FACT_PRICE_DAILY,
  FACT_REALIZED_GAIN,
  FACT_REWARD_DAILY,
  SNAPSHOT_USER_STATE,
  SNAPSHOT_USER_WINDOW,
} from '../../core/warehouse/schema.js';
import { Duck, fromDuckDecimal, ident, literal } from '../duckdb/db.js';
import { readManifest } from './manifest.js';
import { streamRows } from './warehouse-rows.js';
import { readLedger, type WarehouseLedger } from './warehouse-store.js';

/**
 * The serving layer's reads of the warehouse (published per-date Parquet, see warehouse-store.ts)
 * and of the raw zone (ohlcv's older candles). Every value that comes from a user is a bound
 * parameter; only file paths from the ledger / manifest are inlined (DuckDB cannot bind them).
 * Point lookups read only the files of the dates they need; facts are sorted by user_id with small
 * row groups, so a `user_id = $1` filter skips most of each file through the Parquet statistics.
 */
export const parquetSource = (paths: readonly string[]): string =>
  `read_parquet([${paths.map(literal).join(', ')}], union_by_name = true)`;

const num = (v: unknown): number => Number(v as bigint | number);

/**
 * Some users of a date, for the readers that go through a whole day in pages (reconcile): user_id
 * in [first, last] (which lets the Parquet statistics skip the other row groups, facts being sorted
 * by user) and, with `scope`, only the users of rows (fromRn, toRn] of that scope table (see
 * reconcile-scope.ts), so users outside the day's scope that sort in between are not read.
 */
export interface UserSlice {
  readonly first: string;
  readonly last: string;
  readonly scope?: { readonly table: string; readonly fromRn: number; readonly toRn: number };
}

/** The SQL condition of a slice, its parameters numbered from `$next`. */
const sliceWhere = (slice: UserSlice | undefined, next: number): { sql: string; params: DuckDBValue[] } => {
  if (slice === undefined) return { sql: '', params: [] };
  let sql = ` AND user_id BETWEEN $${next} AND $${next + 1}`;
  const params: DuckDBValue[] = [slice.first, slice.last];
  if (slice.scope !== undefined) {
    sql += ` AND user_id IN (SELECT user_id FROM ${ident(slice.scope.table)} WHERE rn > $${next + 2} AND rn <= $${next + 3})`;
    params.push(BigInt(slice.scope.fromRn), BigInt(slice.scope.toRn));
  }
  return { sql, params };
};

/** A fact_lot_daily row as the core's open lot. */
const lotOf = (r: Record<string, unknown>): OpenLot => ({
  lotId: String(r.lot_id),
  seq: num(r.seq),
  acquiredAt: num(r.acquired_at_ms),
  originalQuantity: fromDuckDecimal(r.original_quantity).rescale(QTY_SCALE),
  originalCost: fromDuckDecimal(r.original_cost).rescale(USD_SCALE),
  quantity: fromDuckDecimal(r.quantity).rescale(QTY_SCALE),
  cost: fromDuckDecimal(r.cost).rescale(USD_SCALE),
});

export interface CorrelationRow {
  readonly assetA: string;
  readonly assetB: string;
  readonly windowDays: number;
  readonly observations: number;
  /** Exact decimal string, null when undefined (flat series). */
  readonly correlation: string | null;
}

export type TopMetric = 'pnl' | 'spend' | 'rewards';

export interface TopRow {
  readonly userId: string;
  /** The ranked amount (USD, exact). */
  readonly value: string;
  readonly detail: Record<string, string>;
}

/** A fact_reward_daily row as the ledger's day aggregate (the speed layer's `rw:<user>:<day>`). */
export const dayRewardsOf = (b: BatchRewardRow): DayRewards => ({
  spend: b.spend.rescale(USD_SCALE),
  cashbackOwed: b.cashbackOwed.rescale(USD_SCALE),
  cashbackCapped: b.cashbackCapped.rescale(USD_SCALE),
  cashbackPaid: b.cashbackPaid.rescale(USD_SCALE),
  stakingIncome: b.stakingIncome.rescale(USD_SCALE),
  realizedPnl: b.realizedPnl.rescale(USD_SCALE),
  tier: b.tier,
  spend30d: b.spend30d.rescale(USD_SCALE),
  events: b.events,
  rejected: b.rejected,
});

export class WarehouseReader {
  private constructor(
    readonly duck: Duck,
    readonly lakeDir: string,
    readonly ledger: WarehouseLedger,
  ) {}

  static async open(lakeDir: string): Promise<WarehouseReader> {
    const ledger = await readLedger(lakeDir);
    const duck = await Duck.open(':memory:', { threads: 2 });
    // Published files are immutable (a rebuild writes new names and swaps the ledger), so caching
    // their footers is safe; it halves a point lookup that would otherwise re-read the metadata.
    await duck.run('SET parquet_metadata_cache = true');
    return new WarehouseReader(duck, lakeDir, ledger);
  }

  /**
   * A reader of the same ledger on its own DuckDB connection, for concurrent streamed reads
   * (one connection streams one result at a time). close() it; the parent's database stays open.
   */
  async session(): Promise<WarehouseReader> {
    return new WarehouseReader(await this.duck.connection(), this.lakeDir, this.ledger);
  }

  close(): void {
    this.duck.close();
  }

  /** Built dates, ascending. */
  dates(): string[] {
    return Object.keys(this.ledger.builds).sort();
  }

  /** The batch cutoff: the latest built date, or null before any build. */
  cutoff(): string | null {
    return this.dates().at(-1) ?? null;
  }

  builtAt(date: string): string | null {
    return this.ledger.builds[date]?.builtAt ?? null;
  }

  /** Published files of a per-date table, for the given dates (every built date when omitted). */
  filesOf(table: string, dates?: readonly string[]): string[] {
    const want = dates === undefined ? null : new Set(dates);
    return Object.values(this.ledger.builds)
      .filter((b) => want === null || want.has(b.date))
      .flatMap((b) => b.files)
      .filter((f) => f.table === table)
      .map((f) => path.join(this.lakeDir, f.path));
  }

  private async query<T>(
    table: string,
    dates: readonly string[] | undefined,
    sql: (src: string) => string,
    params: DuckDBValue[],
  ): Promise<T[]> {
    const f = this.filesOf(table, dates);
    if (f.length === 0) return [];
    return this.duck.rows<T>(sql(parquetSource(f)), params);
  }

  /**
   * The user's core state after `date` (the cutoff). The batch writes a snapshot row for every user
   * it knows at every built date (carried forward), so only that date's files are read; a build
   * without snapshot files falls back to the latest earlier date that has them. Never a scan of all
   * dates: a user the batch does not know costs one pruned lookup.
   */
  async snapshot(userId: string, date: string): Promise<UserStateJson | null> {
    const withFiles = this.dates().filter((d) => d <= date && this.filesOf(SNAPSHOT_USER_STATE.name, [d]).length > 0);
    const from = withFiles.at(-1);
    if (from === undefined) return null;
    const pre = this.preloaded;
    if (pre !== undefined && pre.date === from) {
      const hit = pre.rows.get(userId);
      if (hit !== undefined) return this.withLotRows(JSON.parse(hit) as UserStateJson, from);
      // A complete preload knows every user of the date: a miss is "no row", not "not loaded".
      if (pre.complete) return null;
    }
    const rows = await this.query<{ state_json: string }>(
      SNAPSHOT_USER_STATE.name,
      [from],
      (src) => `SELECT state_json FROM ${src} WHERE user_id = $1 AND date = $2::DATE`,
      [userId, from],
    );
    return rows.length === 0 ? null : this.withLotRows(JSON.parse(rows[0]!.state_json) as UserStateJson, from);
  }

  /**
   * A snapshot state stored with its open lots apart (the batch writes them as fact_lot_daily rows
   * of the same date, not in the JSON), with its lots put back inline; other states as they are.
   */
  private async withLotRows(j: UserStateJson, date: string): Promise<UserStateJson> {
    const whole = await this.withWindowParts(j, date);
    if (whole.lotsApart === undefined) return whole;
    const rows = (await this.lotRows(date, j.userId)) ?? new Map<string, OpenLot[]>();
    return inlineLots(whole, (asset) => rows.get(`${j.userId}|${asset}`));
  }

  /** A snapshot state stored with its windows apart (snapshot_user_window parts) or its ids in columns, put back inline. */
  private async withWindowParts(j: UserStateJson, date: string): Promise<UserStateJson> {
    if (j.windowApart === undefined) return inlineWindow(j, { recent: [], spends: [] });
    const rows = await this.query<{ kind: string; entries_json: string }>(
      SNAPSHOT_USER_WINDOW.name,
      [date],
      (src) => `SELECT kind, entries_json FROM ${src} WHERE user_id = $1 AND date = $2::DATE ORDER BY kind, part`,
      [j.userId, date],
    );
    return inlineWindow(j, {
      recent: rows.filter((r) => r.kind === 'recent').map((r) => r.entries_json),
      spends: rows.filter((r) => r.kind === 'spends').map((r) => r.entries_json),
    });
  }

  private preloaded?: { date: string; rows: Map<string, string>; complete: boolean };

  /**
   * For a long-running server: hold the snapshot rows of the newest date with snapshot files (the
   * one every portfolio read needs) in memory, up to `maxBytes` of state JSON, so a lookup is a map
   * read instead of a Parquet row-group decompression. The build is immutable for the life of this
   * reader (a new build opens a new reader), so the copy can never be stale. Users past the cap are
   * still read from Parquet. One scan of the date's files, in user order.
   */
  async preloadSnapshots(
    maxBytes: number,
  ): Promise<{ date: string; users: number; bytes: number; complete: boolean } | null> {
    const from = this.dates()
      .filter((d) => this.filesOf(SNAPSHOT_USER_STATE.name, [d]).length > 0)
      .at(-1);
    if (from === undefined || maxBytes <= 0) return null;
    const rows = await this.query<{ user_id: string; state_json: string }>(
      SNAPSHOT_USER_STATE.name,
      [from],
      (src) => `SELECT user_id, state_json FROM ${src} WHERE date = $1::DATE`,
      [from],
    );
    const map = new Map<string, string>();
    let bytes = 0;
    let complete = true;
    for (const r of rows) {
      // UTF-16 in memory: two bytes a character, plus the key.
      const size = 2 * (r.state_json.length + r.user_id.length) + 64;
      if (bytes + size > maxBytes) {
        complete = false;
        break;
      }
      bytes += size;
      map.set(r.user_id, r.state_json);
    }
    this.preloaded = { date: from, rows: map, complete };
    return { date: from, users: map.size, bytes, complete };
  }

  private readonly closeCache = new Map<string, Promise<Map<string, string>>>();

  /** Close prices (symbol -> exact decimal string) of `date` from fact_price_daily; cached per reader. */
  closes(date: string): Promise<Map<string, string>> {
    let p = this.closeCache.get(date);
    if (p === undefined) {
      p = this.readCloses(date);
      this.closeCache.set(date, p);
    }
    return p;
  }

  private async readCloses(date: string): Promise<Map<string, string>> {
    const rows = await this.query<{ symbol: string; close: unknown }>(
      FACT_PRICE_DAILY.name,
      [date],
      (src) => `SELECT symbol, close FROM ${src} WHERE date = $1::DATE`,
      [date],
    );
    return new Map(rows.map((r) => [r.symbol, fromDuckDecimal(r.close).rescale(PRICE_SCALE).toString()]));
  }

  /** fact_portfolio_daily rows of `date` (with their open lots), of the slice's users when given. */
  async positionRows(date: string, slice?: UserSlice): Promise<BatchPositionRow[]> {
    const w = sliceWhere(slice, 2);
    const rows = await this.query<Record<string, unknown>>(
      FACT_PORTFOLIO_DAILY.name,
      [date],
      (src) =>
        `SELECT user_id, asset, quantity_held, staked, cost_basis, realized_pnl, fees_paid, reward_income, event_count, events_day FROM ${src} WHERE date = $1::DATE${w.sql}`,
      [date, ...w.params],
    );
    const lots = await this.lotSummaries(date, slice);
    return rows.map((r) => ({
      ...(lots === null ? {} : { lots: lots.get(`${r.user_id}|${r.asset}`) ?? summarizeLots([]) }),
      userId: String(r.user_id),
      asset: String(r.asset),
      quantity: fromDuckDecimal(r.quantity_held),
      staked: fromDuckDecimal(r.staked),
      costBasis: fromDuckDecimal(r.cost_basis),
      realizedPnl: fromDuckDecimal(r.realized_pnl),
      feesPaid: fromDuckDecimal(r.fees_paid),
      rewardIncome: fromDuckDecimal(r.reward_income),
      eventCount: num(r.event_count),
      eventsDay: num(r.events_day),
    }));
  }

  /**
   * What reconcile compares of the open lots of `date` (fact_lot_daily), by `${user}|${asset}`,
   * folded as the rows stream in acquisition order: memory holds one summary a position, not the
   * lots (a heavy user has hundreds of thousands). Null for a build made before lots existed.
   */
  async lotSummaries(date: string, slice?: UserSlice): Promise<Map<string, LotSummary> | null> {
    const f = this.filesOf(FACT_LOT_DAILY.name, [date]);
    if (f.length === 0) return null;
    const w = sliceWhere(slice, 2);
    const out = new Map<string, LotSummary>();
    let key: string | null = null;
    let acc = new LotSummarizer();
    for await (const rows of this.duck.stream<Record<string, unknown>>(
      `SELECT user_id, asset, lot_id, seq, acquired_at_ms, original_quantity, original_cost, quantity, cost
       FROM ${parquetSource(f)} WHERE date = $1::DATE${w.sql} ORDER BY user_id, asset, seq`,
      [date, ...w.params],
    )) {
      for (const r of rows) {
        const k = `${r.user_id}|${r.asset}`;
        if (k !== key) {
          if (key !== null) out.set(key, acc.summary());
          key = k;
          acc = new LotSummarizer();
        }
        acc.add(lotOf(r));
      }
    }
    if (key !== null) out.set(key, acc.summary());
    return out;
  }

  /**
   * Open lots of `date` by `${user}|${asset}` (fact_lot_daily), of one user or a slice of users, or
   * null for a build made before lots existed (then reconcile does not compare lots).
   */
  async lotRows(date: string, who?: string | UserSlice): Promise<Map<string, OpenLot[]> | null> {
    if (this.filesOf(FACT_LOT_DAILY.name, [date]).length === 0) return null;
    const w = typeof who === 'string' ? { sql: ' AND user_id = $2', params: [who] } : sliceWhere(who, 2);
    const rows = await this.query<Record<string, unknown>>(
      FACT_LOT_DAILY.name,
      [date],
      (src) =>
        `SELECT user_id, asset, lot_id, seq, acquired_at_ms, original_quantity, original_cost, quantity, cost FROM ${src}
         WHERE date = $1::DATE${w.sql} ORDER BY user_id, asset, seq`,
      [date, ...w.params],
    );
    const out = new Map<string, OpenLot[]>();
    for (const r of rows) {
      const k = `${r.user_id}|${r.asset}`;
      let l = out.get(k);
      if (l === undefined) {
        l = [];
        out.set(k, l);
      }
      l.push(lotOf(r));
    }
    return out;
  }

  /** One user's fact_realized_gain rows with date in [from, to], in disposal order. */
  async gainRows(userId: string, from: string, to: string): Promise<Disposal[]> {
    const dates = this.dates().filter((d) => d >= from && d <= to);
    const rows = await this.query<Record<string, unknown>>(
      FACT_REALIZED_GAIN.name,
      dates,
      (src) => `SELECT * FROM ${src} WHERE user_id = $1 ORDER BY disposed_at_ms, event_id, piece`,
      [userId],
    );
    return rows.map((r) => ({
      eventId: String(r.event_id),
      userId: String(r.user_id),
      asset: String(r.asset),
      kind: String(r.kind) as DisposalKind,
      piece: num(r.piece),
      lotId: String(r.lot_id),
      acquiredAt: num(r.acquired_at_ms),
      disposedAt: num(r.disposed_at_ms),
      quantity: fromDuckDecimal(r.quantity).rescale(QTY_SCALE),
      proceeds: fromDuckDecimal(r.proceeds).rescale(USD_SCALE),
      costBasis: fromDuckDecimal(r.cost_basis).rescale(USD_SCALE),
      gain: fromDuckDecimal(r.gain).rescale(USD_SCALE),
    }));
  }

  private static rewardRow(r: Record<string, unknown>): BatchRewardRow {
    return {
      userId: String(r.user_id),
      spend: fromDuckDecimal(r.spend),
      cashbackOwed: fromDuckDecimal(r.cashback_owed),
      cashbackCapped: fromDuckDecimal(r.cashback_capped),
      cashbackPaid: fromDuckDecimal(r.cashback_paid),
      stakingIncome: fromDuckDecimal(r.staking_income),
      realizedPnl: fromDuckDecimal(r.realized_pnl),
      tier: String(r.tier_at_time),
      spend30d: fromDuckDecimal(r.rolling_30d_spend),
      events: num(r.events),
      rejected: num(r.rejected),
    };
  }

  /**
   * Every user's snapshot_user_state of `date` (their complete core state after it), streamed in
   * user id order a chunk at a time: memory holds one chunk, not the platform.
   */
  async *snapshotStates(
    date: string,
    keep: (userId: string) => boolean = () => true,
  ): AsyncGenerator<{ userId: string; state: UserStateJson }> {
    const f = this.filesOf(SNAPSHOT_USER_STATE.name, [date]);
    if (f.length === 0) return;
    // The open lots of states stored with `lotsApart` are the date's fact_lot_daily rows, streamed
    // beside the states in the same user order and put back inline one user at a time.
    const lots = this.besideStates(
      FACT_LOT_DAILY.name,
      date,
      'user_id, asset, lot_id, seq, acquired_at_ms, original_quantity, original_cost, quantity, cost',
      'user_id, asset, seq',
    );
    let lot = await lots.next();
    // A heavy user's window parts (states stored with `windowApart`), in the same user order.
    const parts = this.besideStates(
      SNAPSHOT_USER_WINDOW.name,
      date,
      'user_id, kind, entries_json',
      'user_id, kind, part',
    );
    let part = await parts.next();
    try {
      for await (const r of streamRows(
        this.duck,
        `SELECT user_id, state_json FROM ${parquetSource(f)} WHERE date = $1::DATE ORDER BY user_id`,
        [date],
      )) {
        const userId = String(r[0]);
        const mine = new Map<string, OpenLot[]>();
        for (; lot !== undefined && String(lot[0]) <= userId; lot = await lots.next()) {
          if (String(lot[0]) < userId)
            throw new CryptolambdaError(
              'INTERNAL',
              `fact_lot_daily of ${date} holds open lots of ${String(lot[0])}, who has no snapshot_user_state row`,
            );
          if (!keep(userId)) continue;
          const [, asset, lotId, seq, at, q0, c0, q, c] = lot;
          const l = mine.get(String(asset)) ?? [];
          mine.set(String(asset), l);
          l.push(
            lotOf({
              lot_id: lotId,
              seq,
              acquired_at_ms: at,
              original_quantity: q0,
              original_cost: c0,
              quantity: q,
              cost: c,
            }),
          );
        }
        const window = { recent: [] as string[], spends: [] as string[] };
        for (; part !== undefined && String(part[0]) <= userId; part = await parts.next()) {
          if (String(part[0]) < userId)
            throw new CryptolambdaError(
              'INTERNAL',
              `snapshot_user_window of ${date} holds window parts of ${String(part[0])}, who has no snapshot_user_state row`,
            );
          if (keep(userId)) window[String(part[1]) === 'recent' ? 'recent' : 'spends'].push(String(part[2]));
        }
        if (!keep(userId)) continue;
        const state = inlineWindow(JSON.parse(String(r[1])) as UserStateJson, window);
        yield { userId, state: inlineLots(state, (asset) => mine.get(asset)) };
      }
    } finally {
      await lots.close();
      await parts.close();
    }
  }

  /**
   * A table's rows of `date` streamed in user order beside the snapshot states (none when the date
   * has no file of it). `select` and `order` are this module's constants, never input.
   */
  private besideStates(table: string, date: string, select: string, order: string) {
    const files = this.filesOf(table, [date]);
    const rows =
      files.length === 0
        ? undefined
        : streamRows(
            this.duck,
            `SELECT ${select} FROM ${parquetSource(files)} WHERE date = $1::DATE ORDER BY ${order}`,
            [date],
          );
    return {
      next: async (): Promise<DuckDBValue[] | undefined> => {
        const n = await rows?.next();
        return n === undefined || n.done ? undefined : n.value;
      },
      close: async (): Promise<void> => {
        await rows?.return(undefined);
      },
    };
  }

  /** event id → user id of the date's batch_rejects with code TOO_LATE (core/time/lateness.ts). */
  async tooLate(date: string): Promise<Map<string, string>> {
    const rows = await this.query<{ event_id: string; user_id: string | null }>(
      BATCH_REJECTS.name,
      [date],
      (src) => `SELECT event_id, user_id FROM ${src} WHERE date = $1::DATE AND code = 'TOO_LATE'`,
      [date],
    );
    return new Map(rows.map((r) => [r.event_id, r.user_id ?? '']));
  }

  /** fact_reward_daily rows of `date`, of the slice's users when given. */
  async rewardRows(date: string, slice?: UserSlice): Promise<BatchRewardRow[]> {
    const w = sliceWhere(slice, 2);
    const rows = await this.query<Record<string, unknown>>(
      FACT_REWARD_DAILY.name,
      [date],
      (src) => `SELECT * FROM ${src} WHERE date = $1::DATE${w.sql}`,
      [date, ...w.params],
    );
    return rows.map(WarehouseReader.rewardRow);
  }

  /** One user's fact_reward_daily rows with date in [from, to]. */
  async rewardDays(userId: string, from: string, to: string): Promise<{ date: string; day: DayRewards }[]> {
    const dates = this.dates().filter((d) => d >= from && d <= to);
    const rows = await this.query<Record<string, unknown>>(
      FACT_REWARD_DAILY.name,
      dates,
      (src) => `SELECT CAST(date AS VARCHAR) AS d, * FROM ${src} WHERE user_id = $1 ORDER BY date`,
      [userId],
    );
    return rows.map((r) => {
      return { date: String(r.d), day: dayRewardsOf(WarehouseReader.rewardRow(r)) };
    });
  }

  async correlations(date: string, windowDays?: number): Promise<CorrelationRow[]> {
    const rows = await this.query<Record<string, unknown>>(
      FACT_ASSET_CORRELATION.name,
      [date],
      (src) =>
        `SELECT asset_a, asset_b, window_days, observations, CAST(correlation AS VARCHAR) AS correlation FROM ${src}
         WHERE date = $1::DATE AND ($2::INTEGER IS NULL OR window_days = $2::INTEGER)
         ORDER BY window_days, asset_a, asset_b`,
      [date, windowDays ?? null],
    );
    return rows.map((r) => ({
      assetA: String(r.asset_a),
      assetB: String(r.asset_b),
      windowDays: num(r.window_days),
      observations: num(r.observations),
      correlation: r.correlation === null ? null : String(r.correlation),
    }));
  }

  /**
   * Top users of `date`: pnl = realized + unrealized P&L over every position at the end of the date
   * (cumulative); spend = card spend and rewards = cashback paid + staking income, summed over the
   * `days` days ending at `date`. Ties broken by user id, so the ranking is deterministic.
   */
  async top(by: TopMetric, date: string, days: number, limit: number): Promise<TopRow[]> {
    if (by === 'pnl') {
      const rows = await this.query<Record<string, unknown>>(
        FACT_PORTFOLIO_DAILY.name,
        [date],
        (src) =>
          `SELECT user_id, sum(realized_pnl) AS realized, sum(coalesce(unrealized_pnl, 0)) AS unrealized,
                  sum(coalesce(market_value, 0)) AS market_value
           FROM ${src} WHERE date = $1::DATE GROUP BY user_id
           ORDER BY realized + unrealized DESC, user_id LIMIT $2`,
        [date, limit],
      );
      return rows.map((r) => {
        const realized = fromDuckDecimal(r.realized);
        const unrealized = fromDuckDecimal(r.unrealized);
        return {
          userId: String(r.user_id),
          value: realized.add(unrealized).rescale(USD_SCALE).toString(),
          detail: {
            realizedPnl: realized.rescale(USD_SCALE).toString(),
            unrealizedPnl: unrealized.rescale(USD_SCALE).toString(),
            marketValue: fromDuckDecimal(r.market_value).rescale(USD_SCALE).toString(),
          },
        };
      });
    }
    const first = new Date(Date.parse(`${date}T00:00:00Z`) - (days - 1) * 86_400_000).toISOString().slice(0, 10);
    const dates = this.dates().filter((d) => d >= first && d <= date);
    const rows = await this.query<Record<string, unknown>>(
      FACT_REWARD_DAILY.name,
      dates,
      (src) =>
        `SELECT user_id, sum(spend) AS spend, sum(cashback_paid) AS cashback, sum(staking_income) AS staking,
                sum(cashback_owed) AS owed
         FROM ${src} WHERE date BETWEEN $1::DATE AND $2::DATE GROUP BY user_id
         ORDER BY ${by === 'spend' ? 'spend' : 'cashback + staking'} DESC, user_id LIMIT $3`,
      [first, date, limit],
    );
    return rows.map((r) => {
      const spend = fromDuckDecimal(r.spend).rescale(USD_SCALE);
      const cashback = fromDuckDecimal(r.cashback).rescale(USD_SCALE);
      const staking = fromDuckDecimal(r.staking).rescale(USD_SCALE);
      return {
        userId: String(r.user_id),
        value: (by === 'spend' ? spend : cashback.add(staking)).toString(),
        detail: {
          spend: spend.toString(),
          cashbackOwed: fromDuckDecimal(r.owed).rescale(USD_SCALE).toString(),
          cashbackPaid: cashback.toString(),
          stakingIncome: staking.toString(),
        },
      };
    });
  }

  /** Raw-zone trades of a symbol with event time in [from, to), from the committed manifest's files. */
  async trades(symbol: string, from: number, to: number): Promise<PriceEvent[]> {
    const m = await readManifest(this.lakeDir);
    const f = m.files
      .filter((x) => x.table === 'prices' && x.maxEventTime >= from && x.minEventTime < to)
      .map((x) => path.join(this.lakeDir, x.path));
    if (f.length === 0) return [];
    const rows = await this.duck.rows<Record<string, unknown>>(
      `SELECT event_id, symbol, price, quantity, event_time_ms, trade_id, source FROM ${parquetSource(f)}
       WHERE symbol = $1 AND event_time_ms >= $2 AND event_time_ms < $3`,
      [symbol, BigInt(from), BigInt(to)],
    );
    return rows.map((r) => ({
      kind: 'price',
      eventId: String(r.event_id),
      symbol: String(r.symbol),
      price: fromDuckDecimal(r.price),
      quantity: fromDuckDecimal(r.quantity),
      eventTime: num(r.event_time_ms),
      tradeId: String(r.trade_id),
      source: r.source as PriceEvent['source'],
    }));
  }

  /**
   * One user's raw-zone events with event time <= `to` (ms), validated by the core as the batch
   * does (a row the validators refuse is skipped: the batch records it in batch_rejects).
   */
  async userEvents(userId: string, to: number): Promise<UserEvent[]> {
    const m = await readManifest(this.lakeDir);
    const of = (table: string) =>
      m.files.filter((x) => x.table === table && x.minEventTime <= to).map((x) => path.join(this.lakeDir, x.path));
    const out: UserEvent[] = [];
    const tx = of('transactions');
    if (tx.length > 0) {
      const rows = await this.duck.rows<Record<string, unknown>>(
        `SELECT event_id, type, asset, CAST(quantity AS VARCHAR) AS quantity, CAST(price AS VARCHAR) AS price,
                CAST(fee AS VARCHAR) AS fee, fee_asset, event_time_ms FROM ${parquetSource(tx)}
         WHERE user_id = $1 AND event_time_ms <= $2`,
        [userId, BigInt(to)],
      );
      for (const r of rows) {
        const v = validateTransaction({
          kind: 'transaction',
          eventId: r.event_id,
          userId,
          type: r.type,
          asset: r.asset,
          quantity: r.quantity,
          price: r.price,
          fee: r.fee,
          feeAsset: r.fee_asset,
          eventTime: num(r.event_time_ms),
        });
        if (v.ok) out.push(v.event);
      }
    }
    const rw = of('rewards');
    if (rw.length > 0) {
      const rows = await this.duck.rows<Record<string, unknown>>(
        `SELECT event_id, reward_type, asset, CAST(quantity AS VARCHAR) AS quantity, CAST(price AS VARCHAR) AS price,
                event_time_ms, ref_event_id FROM ${parquetSource(rw)} WHERE user_id = $1 AND event_time_ms <= $2`,
        [userId, BigInt(to)],
      );
      for (const r of rows) {
        const v = validateReward({
          kind: 'reward',
          eventId: r.event_id,
          userId,
          rewardType: r.reward_type,
          asset: r.asset,
          quantity: r.quantity,
          price: r.price,
          eventTime: num(r.event_time_ms),
          ...(r.ref_event_id === null || r.ref_event_id === undefined ? {} : { refEventId: r.ref_event_id }),
        });
        if (v.ok) out.push(v.event);
      }
    }
    return out;
  }
}
