import { DuckDBDataChunk, INTEGER, VARCHAR } from '@duckdb/node-api';
import type { BatchPositionRow, BatchRewardRow } from '../../core/serving/reconcile.js';
import { FACT_PORTFOLIO_DAILY, FACT_REWARD_DAILY } from '../../core/warehouse/schema.js';
import { ident } from '../duckdb/db.js';
import { parquetSource, type WarehouseReader } from './warehouse-reader.js';

/** A user in reconcile's scope: the speed-layer partition whose `days:<D>` set holds it, or null. */
export interface ScopeUser {
  readonly userId: string;
  readonly partition: number | null;
}

/** One page of the scope: its users in order and their batch facts of the date. */
export interface ScopePage {
  readonly users: readonly ScopeUser[];
  readonly positions: BatchPositionRow[];
  readonly rewards: BatchRewardRow[];
}

let seq = 0;

/**
 * The users `reconcile --date D` compares, so that it can go through them in pages instead of
 * holding the day: the batch's users of D (a fact_reward_daily row, or a position with events that
 * day) and the speed layer's (members of `days:<D>`, streamed in here page by page), one row each,
 * numbered in user order in a table of the warehouse reader's DuckDB connection. That table (a user
 * id and two integers a user, kept by DuckDB, not the JS heap) is the only thing that grows with the
 * day's users; each page then reads its users' facts with a user-range filter that the Parquet
 * statistics of the user-sorted fact files prune.
 */
export class ReconcileScope {
  private constructor(
    private readonly reader: WarehouseReader,
    private readonly date: string,
    private readonly table: string,
    private readonly speedTable: string,
    /** Users in scope. */
    readonly users: number,
    /** Of them, members of the speed layer's `days:<D>`. */
    readonly speedUsers: number,
    /** fact_portfolio_daily + fact_reward_daily rows of D (0: the build has no user facts). */
    readonly batchRows: number,
  ) {}

  static async open(
    reader: WarehouseReader,
    date: string,
    speedMembers: AsyncIterable<{ readonly partition: number; readonly users: readonly string[] }>,
  ): Promise<ReconcileScope> {
    const n = ++seq;
    const table = `_recon_scope_${process.pid}_${n}`;
    const speedTable = `_recon_speed_${process.pid}_${n}`;
    const duck = reader.duck;
    await duck.run(`CREATE TABLE ${ident(speedTable)} (user_id VARCHAR, p INTEGER)`);
    try {
      const a = await duck.conn.createAppender(speedTable);
      try {
        for await (const page of speedMembers) {
          if (page.users.length === 0) continue;
          const chunk = DuckDBDataChunk.create([VARCHAR, INTEGER], page.users.length);
          chunk.setColumnValues(0, [...page.users]);
          chunk.setColumnValues(
            1,
            page.users.map(() => page.partition),
          );
          a.appendDataChunk(chunk);
        }
      } finally {
        a.closeSync();
      }
      const pos = reader.filesOf(FACT_PORTFOLIO_DAILY.name, [date]);
      const rw = reader.filesOf(FACT_REWARD_DAILY.name, [date]);
      const parts = [`SELECT user_id, p FROM ${ident(speedTable)}`];
      if (rw.length > 0) parts.push(`SELECT user_id, NULL FROM ${parquetSource(rw)} WHERE date = $1::DATE`);
      if (pos.length > 0)
        parts.push(`SELECT user_id, NULL FROM ${parquetSource(pos)} WHERE date = $1::DATE AND events_day > 0`);
      // rn numbers the users in order; the table is written in rn order, so a page's rn range reads
      // one stretch of it (DuckDB's min/max zone maps skip the rest).
      await duck.run(
        `CREATE TABLE ${ident(table)} AS
         SELECT row_number() OVER (ORDER BY user_id) AS rn, user_id, p FROM (
           SELECT user_id, min(p) AS p FROM (${parts.join(' UNION ALL ')}) GROUP BY user_id
         ) ORDER BY rn`,
        [date],
      );
      const [c] = await duck.rows<{ users: bigint; speed: bigint | null }>(
        `SELECT count(*) AS users, count(p) AS speed FROM ${ident(table)}`,
      );
      let batchRows = 0;
      for (const f of [pos, rw])
        if (f.length > 0) {
          const [r] = await duck.rows<{ n: bigint }>(
            `SELECT count(*) AS n FROM ${parquetSource(f)} WHERE date = $1::DATE`,
            [date],
          );
          batchRows += Number(r!.n);
        }
      return new ReconcileScope(reader, date, table, speedTable, Number(c!.users), Number(c!.speed ?? 0), batchRows);
    } catch (err) {
      await duck.run(`DROP TABLE IF EXISTS ${ident(speedTable)}`).catch(() => undefined);
      await duck.run(`DROP TABLE IF EXISTS ${ident(table)}`).catch(() => undefined);
      throw err;
    }
  }

  /** The scope in user order, `size` users a page, with their batch facts. */
  async *pages(size: number): AsyncGenerator<ScopePage> {
    for (let from = 0; from < this.users; from += size) {
      const to = Math.min(this.users, from + size);
      const rows = await this.reader.duck.rows<{ user_id: string; p: number | null }>(
        `SELECT user_id, p FROM ${ident(this.table)} WHERE rn > $1 AND rn <= $2 ORDER BY rn`,
        [BigInt(from), BigInt(to)],
      );
      const users = rows.map((r) => ({ userId: String(r.user_id), partition: r.p === null ? null : Number(r.p) }));
      if (users.length === 0) return;
      const slice = {
        first: users[0]!.userId,
        last: users.at(-1)!.userId,
        scope: { table: this.table, fromRn: from, toRn: to },
      };
      const [positions, rewards] = [
        await this.reader.positionRows(this.date, slice),
        await this.reader.rewardRows(this.date, slice),
      ];
      yield { users, positions, rewards };
    }
  }

  async close(): Promise<void> {
    await this.reader.duck.run(`DROP TABLE IF EXISTS ${ident(this.table)}`);
    await this.reader.duck.run(`DROP TABLE IF EXISTS ${ident(this.speedTable)}`);
  }
}
