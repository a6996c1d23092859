import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Duck, ident, literal } from '../../adapters/duckdb/db.js';
import { readManifest } from '../../adapters/lake/manifest.js';
import { streamShardUsers, valuationCloses } from '../../adapters/lake/raw-zone-reader.js';
import { SHARD_TIER_TABLE, type ShardBuild, writeShardBuild } from '../../adapters/lake/shard-store.js';
import { type CellValue, Staging } from '../../adapters/lake/warehouse-rows.js';
import {
  type FileUsers,
  readLedger,
  type WarehouseFile,
  writeStagedTables,
  writeTableFile,
} from '../../adapters/lake/warehouse-store.js';
import { type Config, tiersOf } from '../../config/config.js';
import { CryptolambdaError, StoppedError, stopSignalName } from '../../core/errors.js';
import type { Disposal } from '../../core/portfolio/lot-accounting.js';
import type { TierDef } from '../../core/rewards/tiers.js';
import { type UserStateJson, userFromJson, userToJson, windowParts } from '../../core/speed/user-ledger.js';
import { type RejectFact, UserDayBuilder, type UserDayEnd, type UserDaySink } from '../../core/warehouse/day-build.js';
import { carryForwardValid, previousDate } from '../../core/warehouse/pending.js';
import {
  BATCH_REJECTS,
  FACT_LOT_DAILY,
  FACT_PORTFOLIO_DAILY,
  FACT_REALIZED_GAIN,
  FACT_REWARD_DAILY,
  SNAPSHOT_USER_STATE,
  SNAPSHOT_USER_WINDOW,
  type TableDef,
} from '../../core/warehouse/schema.js';
import { type ShardSpec, shardLabel } from '../../core/warehouse/shard.js';

/** The per-user tables a shard writes; prices, correlations and dimensions are built once at publish. */
export const SHARD_TABLES: readonly TableDef[] = [
  FACT_PORTFOLIO_DAILY,
  FACT_REWARD_DAILY,
  FACT_LOT_DAILY,
  FACT_REALIZED_GAIN,
  SNAPSHOT_USER_STATE,
  SNAPSHOT_USER_WINDOW,
  BATCH_REJECTS,
];

/**
 * DuckDB memory of one shard's build, in two instances (the JavaScript heap comes on top: one
 * user's state and a row chunk at a time): the reader sorts the shard's events and snapshot rows
 * and spills above its limit; the writer stages rows and writes them as part files. Apart, the
 * write of a part never competes with the pinned blocks of the read it interrupts: in one
 * instance of 1 GB that failed on a million users (DuckDB out of memory on a 34 MB block).
 */
export const SHARD_READER_MEMORY_MB = 640;
export const SHARD_WRITER_MEMORY_MB = 384;
/**
 * A user's state is ONE snapshot_user_state VARCHAR, which DuckDB pins whole to sort and write it (a
 * heavy user's, with a million events a day, was over 100 MB): both caps grow by this many copies of
 * the largest state they handle (the reader's from the previous build's record of it), or DuckDB
 * runs out of memory on that one block. Measured (bench/batch.ts, 1M users / 10M events, the heavy
 * user's 1M events, day 2 from day 1's snapshot, --shards 2): 4 copies ran the reader out of memory
 * (1.0 GiB cap, "failed to allocate 64.0 MiB"); 8 copies build the day (190.7 s, peak 6.0 GB).
 * A state is bounded now (its lots are fact_lot_daily rows, a heavy user's windows are
 * snapshot_user_window parts: under 40 KB at that bench), so the raise is a few MB; it stays for a
 * previous snapshot written before, whose heavy states are still one large value.
 */
const STATE_COPIES = 8;
const mb = (chars: number): number => Math.ceil(chars / 2 ** 20);

/**
 * The open lots a date's build did not load (LotsAway: its disposals cannot reach them), per user
 * and asset: the seqs [lo, hi] of the previous date's fact_lot_daily rows that are copied forward
 * with the new date by DuckDB, `n` of them. Staged beside each part, never a table of the lake.
 */
const LOTS_AWAY: TableDef = {
  name: 'lots_away',
  perDate: false,
  key: ['user_id', 'asset'],
  doc: 'Open lots copied forward in DuckDB, per user and asset.',
  columns: [
    { name: 'user_id', type: 'VARCHAR', doc: 'User id.', nullable: false },
    { name: 'asset', type: 'VARCHAR', doc: 'Asset.', nullable: false },
    { name: 'lo', type: 'BIGINT', doc: 'Lowest seq away.', nullable: false },
    { name: 'hi', type: 'BIGINT', doc: 'Highest seq away.', nullable: false },
    { name: 'n', type: 'BIGINT', doc: 'Lots away.', nullable: false },
  ],
};

/** Staged bytes (estimated) after which a shard writes its staged rows as part files. */
export const STAGED_PART_BYTES = 128 * 1024 * 1024;
/** Estimated staged bytes of a fact row (a few DECIMAL(38) and short strings). */
const ROW_BYTES = 160;

export interface ShardOptions {
  readonly tiers?: readonly TierDef[];
  readonly onProgress?: (users: number, events: number) => void;
  /** DuckDB threads of this shard (default 1 when several shards share the machine). */
  readonly threads?: number;
  /** Stop between users (the caller reports what was left unpublished); nothing is written then. */
  readonly signal?: AbortSignal;
  /** Staged bytes per part file (default STAGED_PART_BYTES; tests make it small to write many parts). */
  readonly partBytes?: number;
}

/**
 * Build one shard of date D: the users of the Kafka partitions the shard plan gives shard i (shardPlan:
 * balanced on the partitions' events). Streams the previous
 * date's end state and D's events of those users from one sorted query (memory: one user), applies
 * the core ledger, stages the shard's rows and writes them as Parquet files that no reader sees
 * until `publishShards` names them in the ledger. Re-running a shard replaces it.
 */
export const buildShard = async (
  config: Config,
  date: string,
  shard: ShardSpec,
  opts: ShardOptions = {},
): Promise<ShardBuild> => {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  // The configured tier table (the stream reads the same one), unless a caller passes its own.
  const tiers = opts.tiers ?? tiersOf(config);
  const lakeDir = config.lakeDir;
  const manifest = await readManifest(lakeDir);
  const ledger = await readLedger(lakeDir);
  const prev = ledger.builds[previousDate(date)];
  const fromSnapshot = prev !== undefined && carryForwardValid(manifest.files, prev);
  const phases: Record<string, number> = {};
  // DuckDB holds the sorted merge of the shard's events and every staged row until the files are
  // written; capped, it spills them to a temp directory of this run instead of growing with the shard.
  const tmp = path.join(config.stateDir, 'tmp', `duckdb-batch-${date}-${shard.index}-of-${shard.of}-${process.pid}`);
  await mkdir(tmp, { recursive: true });
  const threads = opts.threads ?? (shard.of > 1 ? 1 : 2);
  const prevState = fromSnapshot ? Number(prev.stats.shardMaxStateChars ?? 0) : 0;
  const readerMb = SHARD_READER_MEMORY_MB + STATE_COPIES * mb(prevState);
  const duck = await Duck.open(':memory:', { threads, memoryLimit: `${readerMb}MB` });
  let writerMb = SHARD_WRITER_MEMORY_MB;
  const out = await Duck.open(':memory:', { threads, memoryLimit: `${writerMb}MB` });
  let maxStateChars = 0;
  /** A connection of `out` that writes the staged parts, and the part it is writing (at most one). */
  let partWriter: Duck | undefined;
  let writing: Promise<void> | undefined;
  try {
    await duck.run(`SET temp_directory = ${literal(path.join(tmp, 'read'))}`);
    await out.run(`SET temp_directory = ${literal(path.join(tmp, 'write'))}`);
    const closes = await valuationCloses(duck, lakeDir, manifest, date);
    // Each part's rows are staged in tables of their own generation (stage_<table>_<gen>), so a part
    // is written on a connection of its own while the next part's rows are staged (see writeParts).
    let gen = 0;
    const stageName = (d: { name: string }, g: number): string => `stage_${d.name}_${g}`;
    const stage = new Map<string, Staging>();
    for (const d of SHARD_TABLES) stage.set(d.name, await Staging.create(out, d, stageName(d, gen)));
    // The lots left away of the users staged in this part (LOTS_AWAY), their number and user range.
    let away = await Staging.create(out, LOTS_AWAY, stageName(LOTS_AWAY, gen));
    let awayLots = 0;
    /** The previous lots read into JavaScript and those copied forward, over the shard. */
    let lotsRead = 0;
    let lotsCopied = 0;
    let firstUser: string | undefined;
    let lastUser: string | undefined;
    /** The previous date's lot files the shard read the heads of (streamShardUsers' lotHeads). */
    let previousLotFiles: readonly string[] = [];
    partWriter = await out.connection();
    /** The writer cap the states staged since the last part need (see STATE_COPIES). */
    let stagedNeedMb = SHARD_WRITER_MEMORY_MB;
    await out.run('CREATE OR REPLACE TABLE stage_user_tier (user_id VARCHAR NOT NULL, tier VARCHAR NOT NULL)');
    // On a connection of its own: it stays open while the main connection writes staged parts.
    const tierConn = await out.instance.connect();
    const tierStage = await tierConn.createAppender('stage_user_tier');
    const files: WarehouseFile[] = [];
    // Rough bytes staged since the last part was written (rows at ROW_BYTES, plus each state's JSON).
    let staged = 0;
    /**
     * Write what is staged as one part file per table and start the staging tables afresh: DuckDB
     * then holds at most STAGED_PART_BYTES of rows, not the shard's day (at a million users the
     * snapshot JSON alone is gigabytes). Users arrive in user_id order, so the parts of a table
     * cover disjoint user ranges, each sorted by the table's key. `all`: every table, even empty.
     */
    const writeParts = async (all: boolean): Promise<void> => {
      const carry = awayLots > 0 ? { lots: awayLots, from: firstUser!, to: lastUser!, table: away.name } : undefined;
      const written = SHARD_TABLES.filter(
        (d) => all || stage.get(d.name)!.rows > 0 || (carry !== undefined && d === FACT_LOT_DAILY),
      );
      for (const s of stage.values()) s.close();
      away.close();
      // One part in flight at most: DuckDB then holds two parts' rows, not more.
      await writing;
      writing = undefined;
      const g = gen;
      const job = (async () => {
        const w = partWriter!;
        if (carry !== undefined)
          await copyLotsForward(w, previousLotFiles, stageName(FACT_LOT_DAILY, g), carry, date, config.costBasis);
        files.push(...(await writeStagedTables(w, lakeDir, date, written, (d) => stageName(d, g))));
        for (const d of [...SHARD_TABLES, LOTS_AWAY]) await w.run(`DROP TABLE ${ident(stageName(d, g))}`);
        // A cap raised for a large state is needed only until that state is written: back to what
        // the rows staged since need, so DuckDB does not keep (and the shard's RSS does not carry)
        // the raised cap's buffers for the rest of the shard. The next large state raises it again.
        const want = Math.max(SHARD_WRITER_MEMORY_MB, stagedNeedMb);
        if (writerMb > want) {
          writerMb = want;
          await w.run(`SET memory_limit = '${writerMb}MB'`);
        }
      })();
      staged = 0;
      stagedNeedMb = SHARD_WRITER_MEMORY_MB;
      lotsCopied += awayLots;
      awayLots = 0;
      firstUser = undefined;
      if (all) return job;
      // The next part's rows are staged while this one is written (the main thread waited for
      // DuckDB's sort and Parquet encoding of every part before; a tenth of a shard's wall time).
      writing = job;
      job.catch(() => undefined); // handled where `writing` is awaited
      gen++;
      for (const d of SHARD_TABLES) stage.set(d.name, await Staging.create(out, d, stageName(d, gen)));
      away = await Staging.create(out, LOTS_AWAY, stageName(LOTS_AWAY, gen));
    };
    const stats = { users: 0, activeUsers: 0, events: 0, rejectsByCode: {} as Record<string, number> };
    let rawFiles = 0;
    let previousFiles = 0;
    let partitions: number[] = [];
    /** Whose rows the shard's files hold (a sharded build's: its partitions), for the next date's shards. */
    let users: FileUsers | undefined;

    // One user at a time, streamed: its gains and rejects are staged as they happen, its end state
    // and end-of-day rows when its last event is read; nothing of a user outlives it.
    let rejectsOfUser = 0;
    const sink: UserDaySink = {
      gain: (g) => {
        staged += ROW_BYTES;
        stageGain(stage.get(FACT_REALIZED_GAIN.name)!, date, g);
      },
      reject: (x) => {
        rejectsOfUser++;
        staged += ROW_BYTES + x.eventJson.length;
        stageReject(stage.get(BATCH_REJECTS.name)!, date, x, stats.rejectsByCode);
      },
    };
    let user: UserDayBuilder | undefined;
    await streamShardUsers(
      duck,
      lakeDir,
      manifest,
      {
        snapshotFiles: fromSnapshot ? prev.files.filter((f) => f.table === SNAPSHOT_USER_STATE.name) : [],
        lotFiles: fromSnapshot ? prev.files.filter((f) => f.table === FACT_LOT_DAILY.name) : [],
        windowFiles: fromSnapshot ? prev.files.filter((f) => f.table === SNAPSHOT_USER_WINDOW.name) : [],
        eventDates: fromSnapshot ? (dt) => dt === date : (dt) => dt <= date,
        date,
        shard,
        onRawFiles: (f) => {
          rawFiles = f.length;
        },
        onPlan: (p, of) => {
          partitions = [...p];
          users = shard.of > 1 && of > 0 ? { of, partitions } : undefined;
        },
        onPreviousFiles: (n) => {
          previousFiles = n;
        },
        // The same lateness as the speed layer's (one rule for both layers, core/time/lateness.ts).
        latenessMs: config.speed.userLateness,
        // Of the previous lots only those the date's disposals can reach come through JavaScript;
        // the others are copied forward in DuckDB (copyLotsForward).
        ...(fromSnapshot
          ? {
              lotHeads: (f: readonly string[]) => {
                previousLotFiles = f;
              },
            }
          : {}),
      },
      {
        begin: (userId, stateJson, lots, window) => {
          if (opts.signal?.aborted) return false;
          if (lots !== undefined) for (const rows of lots.values()) lotsRead += rows.length;
          const start =
            stateJson === undefined
              ? undefined
              : userFromJson(
                  JSON.parse(stateJson) as UserStateJson,
                  config.costBasis,
                  (asset) => lots?.get(asset),
                  window,
                  true,
                );
          user = new UserDayBuilder(userId, start, date, sink, tiers, config.costBasis);
          rejectsOfUser = 0;
          return true;
        },
        event: (e) => user!.apply(e),
        invalid: (x) => sink.reject(x),
        end: () => {
          const u = user!;
          user = undefined;
          const r = u.finish(closes);
          // The open lots are not in the JSON: they are the fact_lot_daily rows staged with it, where
          // the next date's build reads them back (a heavy user's lots as one value were 100s of MB);
          // nor are a heavy user's window entries: they are snapshot_user_window parts (windowParts).
          const json = userToJson(r.state, true, 'large');
          const apart = json.windowApart !== undefined;
          const stateJson = JSON.stringify(json);
          const stageEnd = (): boolean => {
            staged += stageUserEnd(stage, date, u.userId, r, stateJson, apart);
            staged += stateJson.length + (r.lotCount + r.portfolio.length + 3) * ROW_BYTES;
            for (const [asset, q] of r.state.lots) {
              const a = q.away;
              if (a === undefined) continue;
              away.appendRow({ user_id: u.userId, asset, lo: a.lo, hi: a.hi, n: a.count });
              awayLots += a.count;
            }
            firstUser ??= u.userId;
            lastUser = u.userId;
            tierStage.appendVarchar(u.userId);
            tierStage.appendVarchar(r.tierAtEnd);
            tierStage.endRow();
            stats.users++;
            if (r.events > 0 || rejectsOfUser > 0) stats.activeUsers++;
            stats.events += r.events;
            if (stats.users % 5000 === 0) opts.onProgress?.(stats.users, stats.events);
            return staged >= (opts.partBytes ?? STAGED_PART_BYTES);
          };
          maxStateChars = Math.max(maxStateChars, stateJson.length);
          const need = SHARD_WRITER_MEMORY_MB + STATE_COPIES * mb(stateJson.length);
          stagedNeedMb = Math.max(stagedNeedMb, need);
          if (need <= writerMb) return stageEnd() ? writeParts(false) : undefined;
          // Raise the writer's cap before DuckDB sees this state (see STATE_COPIES).
          return (async () => {
            writerMb = need;
            await out.run(`SET memory_limit = '${writerMb}MB'`);
            if (stageEnd()) await writeParts(false);
          })();
        },
      },
    );
    tierStage.closeSync();
    tierConn.closeSync();
    if (opts.signal?.aborted)
      throw new StoppedError(
        stopSignalName(opts.signal),
        `shard ${shard.index}/${shard.of} of ${date} stopped after ${stats.users} user(s), nothing written`,
      );
    phases.replaying = Math.round(performance.now() - t0) / 1000;

    const t1 = performance.now();
    await writeParts(true);
    const tierFile = await writeTableFile(
      out,
      lakeDir,
      SHARD_TIER_TABLE,
      date,
      'SELECT * FROM stage_user_tier',
      'user_id',
    );
    phases.writing = Math.round(performance.now() - t1) / 1000;
    const build: ShardBuild = {
      version: 1,
      date,
      shard,
      rawCommit: manifest.commit,
      basis: fromSnapshot ? prev.builtAt : 'history',
      builtAt: new Date().toISOString(),
      files: users === undefined ? files : files.map((f) => ({ ...f, users })),
      tierFile,
      stats,
      partitions,
      rawFiles,
      previousFiles,
      phases,
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      cpuSeconds: cpuSecondsSince(cpu0),
      maxStateChars,
      lotsRead,
      lotsCopied,
    };
    await writeShardBuild(lakeDir, build);
    return build;
  } catch (err) {
    if (err instanceof CryptolambdaError) throw err;
    throw new CryptolambdaError('INTERNAL', `shard ${shardLabel(shard)} of ${date}: ${(err as Error).message}`);
  } finally {
    // A part still being written (the build failed or stopped meanwhile) ends before its instance.
    await writing?.catch(() => undefined);
    partWriter?.close();
    duck.close();
    out.close();
    await rm(tmp, { recursive: true, force: true });
  }
};

/**
 * Copy the lots left away (LotsAway) of a part's users forward: the previous date's rows named by
 * the part's LOTS_AWAY table, with the new date, into the part's staged fact_lot_daily (the same
 * rows JavaScript would have staged: a lot nothing reached is unchanged but for its date). Their
 * number must be the states' count, or the part is refused.
 */
const copyLotsForward = async (
  w: Duck,
  previousFiles: readonly string[],
  stageTable: string,
  carry: { lots: number; from: string; to: string; table: string },
  date: string,
  costMethod: string,
): Promise<void> => {
  if (previousFiles.length === 0)
    throw new CryptolambdaError(
      'INTERNAL',
      `${carry.lots} lot(s) left away but no previous lot file to copy them from`,
    );
  const [res] = await w.rows<{ Count: bigint | number }>(
    `INSERT INTO ${ident(stageTable)} (date, user_id, asset, cost_method, lot_id, seq, acquired_at_ms, original_quantity, original_cost, quantity, cost)
     SELECT CAST(${literal(date)} AS DATE), l.user_id, l.asset, ${literal(costMethod)}, l.lot_id, l.seq, l.acquired_at_ms,
            l.original_quantity, l.original_cost, l.quantity, l.cost
     FROM read_parquet([${previousFiles.map(literal).join(', ')}]) l
     JOIN ${ident(carry.table)} a ON a.user_id = l.user_id AND a.asset = l.asset AND l.seq BETWEEN a.lo AND a.hi
     WHERE l.user_id BETWEEN ${literal(carry.from)} AND ${literal(carry.to)}`,
  );
  const copied = Number(res?.Count ?? -1);
  if (copied !== carry.lots)
    throw new CryptolambdaError(
      'INTERNAL',
      `copied ${copied} open lot(s) of users ${carry.from}..${carry.to} forward, their states name ${carry.lots}`,
    );
};

const cpuSecondsSince = (from: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(from);
  return Math.round((d.user + d.system) / 1e4) / 100;
};

/** A realized gain row of the date (fact_realized_gain). */
const stageGain = (st: Staging, date: string, g: Disposal): void =>
  st.appendRow({
    date,
    user_id: g.userId,
    asset: g.asset,
    event_id: g.eventId,
    kind: g.kind,
    piece: g.piece,
    lot_id: g.lotId,
    acquired_at_ms: g.acquiredAt,
    disposed_at_ms: g.disposedAt,
    quantity: g.quantity,
    proceeds: g.proceeds,
    cost_basis: g.costBasis,
    gain: g.gain,
  });

/** A rejected, duplicate, invalid or too-late event of the date (batch_rejects). */
const stageReject = (st: Staging, date: string, x: RejectFact, rejectsByCode: Record<string, number>): void => {
  st.appendRow({
    date,
    event_id: x.eventId,
    user_id: x.userId,
    source_table: x.sourceTable,
    code: x.code,
    reason: x.reason,
    event_json: x.eventJson,
  });
  rejectsByCode[x.code] = (rejectsByCode[x.code] ?? 0) + 1;
};

/**
 * A user's end-of-date rows, appended by column name (core/warehouse/schema.ts). Returns the
 * characters of the window parts staged (`windowApart`: the state's ids and spends as parts).
 */
const stageUserEnd = (
  stage: Map<string, Staging>,
  date: string,
  userId: string,
  r: UserDayEnd,
  stateJson: string,
  windowApart: boolean,
): number => {
  // Straight from the queues' records, one lot at a time (a heavy user holds millions), through ONE
  // row object whose cells are rewritten per lot: appendRow copies them into the chunk at once and
  // keeps nothing (a row object per lot was the largest allocation site of staging).
  const lots = stage.get(FACT_LOT_DAILY.name)!;
  const row: Record<string, CellValue> = {
    date,
    user_id: userId,
    asset: '',
    cost_method: r.state.costMethod,
    lot_id: '',
    seq: 0,
    acquired_at_ms: 0,
    // Units at QTY_SCALE / USD_SCALE, the columns' own scales (warehouse-rows.ts, CellValue).
    original_quantity: 0n,
    original_cost: 0n,
    quantity: 0n,
    cost: 0n,
  };
  r.forEachLot((asset, l) => {
    row.asset = asset;
    row.lot_id = l.lotId;
    row.seq = l.seq;
    row.acquired_at_ms = l.acquiredAt;
    row.original_quantity = l.q0;
    row.original_cost = l.c0;
    row.quantity = l.q;
    row.cost = l.c;
    lots.appendRow(row);
  });
  for (const f of r.portfolio) {
    const p = f.position;
    stage.get(FACT_PORTFOLIO_DAILY.name)!.appendRow({
      date,
      user_id: userId,
      asset: p.asset,
      quantity_held: p.quantity,
      staked: p.staked,
      cost_basis: p.costBasis,
      avg_cost_basis: f.avgCostBasis,
      realized_pnl: p.realizedPnl,
      realized_pnl_day: f.realizedPnlDay,
      fees_paid: p.feesPaid,
      reward_income: p.rewardIncome,
      event_count: p.eventCount,
      events_day: f.eventsDay,
      last_event_time_ms: p.lastEventTime,
      last_event_id: p.lastEventId,
      close_price: f.closePrice,
      market_value: f.marketValue,
      unrealized_pnl: f.unrealizedPnl,
    });
  }
  if (r.rewards) {
    const d = r.rewards;
    stage.get(FACT_REWARD_DAILY.name)!.appendRow({
      date,
      user_id: userId,
      spend: d.spend,
      cashback_owed: d.cashbackOwed,
      cashback_capped: d.cashbackCapped,
      cashback_paid: d.cashbackPaid,
      staking_income: d.stakingIncome,
      realized_pnl: d.realizedPnl,
      tier_at_time: d.tier,
      rolling_30d_spend: d.spend30d,
      events: d.events,
      rejected: d.rejected,
    });
  }
  stage.get(SNAPSHOT_USER_STATE.name)!.appendRow({ date, user_id: userId, state_json: stateJson });
  let chars = 0;
  if (windowApart)
    for (const p of windowParts(r.state)) {
      stage.get(SNAPSHOT_USER_WINDOW.name)!.appendRow({
        date,
        user_id: userId,
        kind: p.kind,
        part: p.part,
        entries_json: p.entries,
      });
      chars += p.entries.length + ROW_BYTES;
    }
  return chars;
};
