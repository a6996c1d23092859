import path from 'node:path';
import { type DuckDBDataChunk, DuckDBVarCharVector, type DuckDBVector } from '@duckdb/node-api';
import { CryptolambdaError } from '../../core/errors.js';
import { eventToRaw } from '../../core/events/json.js';
import type { PriceEvent, UserEvent } from '../../core/events/types.js';
import { assetOf, validatePrice, validateReward, validateTransaction } from '../../core/events/validate.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../../core/money/decimal.js';
import type { LotRow } from '../../core/portfolio/lots.js';
import type { WindowPartsIn } from '../../core/speed/user-ledger.js';
import { dayStart } from '../../core/time/date.js';
import { isTooLate, tooLateReason } from '../../core/time/lateness.js';
import { CORRELATION_WINDOWS, datesEnding } from '../../core/warehouse/correlations.js';
import { dayEnd, type RejectFact } from '../../core/warehouse/day-build.js';
import { FACT_PRICE_DAILY } from '../../core/warehouse/schema.js';
import {
  assignPartitions,
  ONE_SHARD,
  type PartitionPlan,
  partitionOf,
  type ShardSpec,
  shardOfPartition,
  shardOfUser,
} from '../../core/warehouse/shard.js';
import { type Duck, fromDuckDecimal, literal } from '../duckdb/db.js';
import type { LakeFile, Manifest } from './manifest.js';
import {
  type CellRead,
  cellReaders,
  int64Reader,
  streamChunks,
  streamRows,
  unitsReader,
  varcharReader,
} from './warehouse-rows.js';
import type { FileUsers, WarehouseLedger } from './warehouse-store.js';

/**
 * The batch layer's reads over the raw zone (lake/raw) and the published warehouse: every SQL the
 * build runs on them lives here. File names are quoted with DuckDB's own quoting; values are bound.
 */
export const filesWhere = (m: Manifest, table: string, pred: (dt: string) => boolean): LakeFile[] =>
  m.files.filter((f) => f.table === table && pred(f.dt));

export const parquetList = (lakeDir: string, files: readonly { path: string }[]): string =>
  `[${files.map((f) => literal(path.join(lakeDir, f.path))).join(', ')}]`;

/**
 * Partitions of the user topics the raw zone was ingested from (the manifest's offsets name them),
 * the modulus of the producer's murmur2 partitioning. 0 when unknown (no user offsets).
 */
export const userTopicPartitions = (m: Manifest): number => {
  let n = 0;
  for (const [topic, parts] of Object.entries(m.offsets))
    if (topic.endsWith('raw.transactions') || topic.endsWith('raw.rewards')) {
      // Ingest names every partition, an empty one too; a manifest from before that may lack some,
      // so the highest partition named bounds the count from below as well.
      const named = Object.keys(parts);
      n = Math.max(n, named.length, ...named.map((p) => Number(p) + 1));
    }
  return n;
};

// Columns of the merged stream: user_id, k (0 snapshot, 1 event), then the event columns, then
// state, then the lateness reference ingest stamped (`_hwm_ms`, core/time/lateness.ts).
const EVENT_COLS =
  'user_id, 1 AS k, src, event_id, type, asset, quantity, price, fee, fee_asset, event_time_ms, ref, _partition, NULL::VARCHAR AS state_json, hwm';

/**
 * The manifest commit from which a user table's raw files come from topics partitioned as they are
 * now: the last `topics recreate` of its topic (repartitioning), 0 when never recreated. Rows of
 * older files carry the old topics' `_partition`, which says nothing about today's murmur2 % P.
 */
const currentSince = (m: Manifest, table: 'transactions' | 'rewards'): number =>
  Math.max(0, ...(m.recreated ?? []).filter((r) => r.topic.endsWith(`raw.${table}`)).map((r) => r.commit));

/**
 * The user-topic files of `table` a shard opens: those dated as `pred` selects whose Kafka partition
 * (LakeFile.partition) belongs to the shard, plus every file the index cannot place: files not
 * indexed by partition (an older lake; the shard filters their rows by `_partition`) and files from
 * before the last `topics recreate` (their partition is the old topics'; the shard keeps its users
 * by murmur2). One shard of N opens about 1/N of the files of the current topics.
 */
export const shardUserFiles = (
  m: Manifest,
  table: 'transactions' | 'rewards',
  pred: (dt: string) => boolean,
  shard: ShardSpec,
  plan: PartitionPlan = shardPlan(m, pred, shard.of),
): LakeFile[] => {
  const since = currentSince(m, table);
  return filesWhere(m, table, pred).filter(
    (f) =>
      shard.of <= 1 ||
      f.partition === undefined ||
      f.commit < since ||
      shardOfPartition(f.partition, shard.of, plan) === shard.index,
  );
};

/**
 * The partitions of the current user topics over `shards` shards, balanced on the events of the
 * dates read (`pred`): the manifest's rows of each partition's files (core assignPartitions). Files
 * not indexed by partition weigh nothing (an older lake; all unknown gives partition % shards).
 * Every shard of a build derives the same plan: the same manifest commit and dates.
 */
export const shardPlan = (m: Manifest, pred: (dt: string) => boolean, shards: number): PartitionPlan => {
  const n = userTopicPartitions(m);
  const loads = new Array<number>(n).fill(0);
  for (const table of ['transactions', 'rewards'] as const) {
    const since = currentSince(m, table);
    for (const f of filesWhere(m, table, pred))
      if (f.partition !== undefined && f.commit >= since && f.partition < n) loads[f.partition]! += f.rows;
  }
  return assignPartitions(loads, shards);
};

/**
 * The user rows travel typed: src as its index here (in the order of the names, so ordering by it
 * orders as the names do), amounts as DECIMAL at the raw zone's scales (read as bigint units: no
 * text to format, decode and parse per cell; core validation takes them as Decimals).
 */
const SOURCES = ['rewards', 'transactions'] as const;
const QTY_SQL = (c: string) => `CAST(${c} AS DECIMAL(38, ${QTY_SCALE})) AS ${c}`;
const PRICE_SQL = (c: string) => `CAST(${c} AS DECIMAL(38, ${PRICE_SCALE})) AS ${c}`;

/**
 * A DECIMAL cell as an exact Decimal: one already (cellReaders) or the node API's value (streamRows).
 * Null stays null: the validator says what is missing.
 */
const decimalCell = (v: CellRead): Decimal | null =>
  v === null ? null : v instanceof Decimal ? v : fromDuckDecimal(v);

/**
 * `era` 'current': files from the topics as partitioned now (filtered by `where`); 'legacy': files
 * from before the last recreation, unfiltered and with `_partition` -1 (the caller selects their
 * users by murmur2 of the user id); 'all': every file, filtered by `where`.
 */
const userEventsSql = (
  lakeDir: string,
  m: Manifest,
  pred: (dt: string) => boolean,
  where: string,
  era: 'all' | 'current' | 'legacy' = 'all',
  shard: ShardSpec = ONE_SHARD,
  plan?: PartitionPlan,
): string[] => {
  const pick = (table: 'transactions' | 'rewards') =>
    shardUserFiles(m, table, pred, shard, plan).filter(
      (f) => era === 'all' || (era === 'current') === f.commit >= currentSince(m, table),
    );
  const part = era === 'legacy' ? '-1 AS _partition' : '_partition';
  const w = era === 'legacy' ? '' : where;
  const parts: string[] = [];
  const select = {
    transactions: `${SOURCES.indexOf('transactions')} AS src, event_id, user_id, type, asset, ${QTY_SQL('quantity')}, ${PRICE_SQL('price')}, ${QTY_SQL('fee')}, fee_asset, event_time_ms, NULL::VARCHAR AS ref, ${part}`,
    rewards: `${SOURCES.indexOf('rewards')} AS src, event_id, user_id, reward_type AS type, asset, ${QTY_SQL('quantity')}, ${PRICE_SQL('price')}, NULL::DECIMAL(38, ${QTY_SCALE}) AS fee, NULL::VARCHAR AS fee_asset, event_time_ms, ref_event_id AS ref, ${part}`,
  };
  for (const table of ['transactions', 'rewards'] as const) {
    const files = pick(table);
    // Files written before `_hwm_ms` existed are read apart: their rows have no lateness reference.
    for (const [group, hwm] of [
      [files.filter((f) => f.hwm === true), '_hwm_ms AS hwm'],
      [files.filter((f) => f.hwm !== true), 'NULL::BIGINT AS hwm'],
    ] as const) {
      if (group.length > 0)
        parts.push(
          `SELECT ${EVENT_COLS} FROM (SELECT ${select[table]}, ${hwm} FROM read_parquet(${parquetList(lakeDir, group)}) ${w})`,
        );
    }
  }
  return parts;
};

/** A raw row's lateness reference (`_hwm_ms`), undefined when it has none. */
const hwmOf = (v: CellRead): number | undefined => (v === null || v === undefined ? undefined : Number(v));

/** One raw user row → a validated core event, or a reason. */
const toEvent = (r: CellRead[]): { ok: true; event: UserEvent } | { ok: false; reason: string; raw: object } => {
  const [, , src, eventId, type, asset, q, p, f, feeAsset, t, ref] = r;
  const userId = r[0];
  const quantity = decimalCell(q!);
  const price = decimalCell(p!);
  const fee = decimalCell(f!);
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

/** A per-user file of the previous date a shard may read: its path, and whose rows it holds. */
export interface SnapshotFile {
  readonly path: string;
  readonly users?: FileUsers;
}

/**
 * Whether `f` cannot hold a user of the partitions `own` of `of`: it was written by a shard of other
 * partitions of the same partitioning. A file of another partition count (the topics were
 * recreated since), or one that does not say whose rows it holds, may hold anyone's.
 */
export const holdsNoneOf = (f: SnapshotFile, of: number, own: ReadonlySet<number>): boolean =>
  f.users !== undefined && f.users.of === of && f.users.partitions.every((p) => !own.has(p));

/**
 * What a shard's read hands over, row by row: `begin` opens a user (with its previous snapshot
 * row, if any; return false to stop reading), then its events in (eventTime, eventId) order and
 * its raw rows of the date the core refuses, then `end`. Nothing of a user is collected here: a
 * heavy user's million events stream through one at a time.
 */
export interface ShardUserVisitor {
  /**
   * `lots`: the open lots of a snapshot stored apart (fact_lot_daily of its date) by asset, handed
   * over; `window`: the parts of its windows stored apart (snapshot_user_window of its date).
   */
  begin(
    userId: string,
    stateJson: string | undefined,
    lots?: ReadonlyMap<string, LotRow[]>,
    window?: WindowPartsIn,
  ): boolean;
  event(e: UserEvent): void;
  invalid(r: RejectFact): void;
  /** May return a promise (the build writes staged rows between users): the read waits for it. */
  end(): void | Promise<void>;
}

/**
 * Stream a shard's users in user_id order, each with its previous snapshot row and its raw events
 * in event order, from ONE query (snapshot rows and events merged and sorted by DuckDB, which
 * spills to disk when needed): memory holds one row chunk and the visitor's one user, not the
 * platform. Events are read only from the shard's Kafka partitions (shardPlan, `_partition IN (…)`, every
 * raw row carries it); snapshot rows are kept by the same murmur2 partition of their user id, and
 * every event row is checked against it, so a raw zone not partitioned by user id is refused
 * instead of splitting a user over two shards.
 */
export const streamShardUsers = async (
  duck: Duck,
  lakeDir: string,
  m: Manifest,
  opts: {
    snapshotFiles: readonly SnapshotFile[];
    /** fact_lot_daily files of the snapshot's date: the open lots of states stored with `lotsApart`. */
    lotFiles?: readonly SnapshotFile[];
    /** snapshot_user_window files of the snapshot's date: the window parts of states stored with `windowApart`. */
    windowFiles?: readonly SnapshotFile[];
    eventDates: (dt: string) => boolean;
    date: string;
    shard: ShardSpec;
    /** Told the raw files the shard opens (before it reads them): for the shard's stats and tests. */
    onRawFiles?: (files: readonly LakeFile[]) => void;
    /** Told the user-topic partitions the shard takes (shardPlan) and their count, before it reads. */
    onPlan?: (partitions: readonly number[], of: number) => void;
    /** Told how many of the previous date's per-user files the shard opens (the others hold none of its users). */
    onPreviousFiles?: (opened: number, total: number) => void;
    /** The user lateness (`speed.userLateness`): rows TOO_LATE by it are rejected, never applied. */
    latenessMs: number;
    /**
     * Read of the open lots only the head each queue's disposals of the date can reach (lotHeadsSql);
     * the others stay in the files, which this is told (the build copies those lots forward).
     */
    lotHeads?: (files: readonly string[]) => void;
  },
  visit: ShardUserVisitor,
): Promise<void> => {
  const { shard } = opts;
  const sharded = shard.of > 1;
  const partitions = userTopicPartitions(m);
  if (sharded && partitions === 0)
    throw new CryptolambdaError(
      'NO_DATA',
      'the raw zone names no user-topic partitions (manifest offsets): cannot shard by user',
      'build with one shard (--shards 1)',
    );
  // The shard's partitions (balanced on the dates' events, shardPlan). Files indexed by partition
  // are already the shard's; the filter only cuts older, mixed files.
  const plan = shardPlan(m, opts.eventDates, shard.of);
  const own = plan.flatMap((s, p) => (s === shard.index ? [p] : []));
  opts.onPlan?.(own, partitions);
  // Of the previous date's per-user files, a shard opens those that can hold its users: a sharded
  // build's files say whose rows they hold (FileUsers); the other shards' files are never opened.
  const ownSet = new Set(own);
  const readable = (files: readonly SnapshotFile[] | undefined): string[] =>
    (files ?? []).filter((f) => !sharded || !holdsNoneOf(f, partitions, ownSet)).map((f) => path.join(lakeDir, f.path));
  const snapshotPaths = readable(opts.snapshotFiles);
  const lotPaths = readable(opts.lotFiles);
  const windowPaths = readable(opts.windowFiles);
  opts.onPreviousFiles?.(
    snapshotPaths.length + lotPaths.length + windowPaths.length,
    opts.snapshotFiles.length + (opts.lotFiles?.length ?? 0) + (opts.windowFiles?.length ?? 0),
  );
  const where = sharded ? `WHERE _partition IN (${own.length > 0 ? own.join(', ') : 'NULL'})` : '';
  opts.onRawFiles?.([
    ...shardUserFiles(m, 'transactions', opts.eventDates, shard, plan),
    ...shardUserFiles(m, 'rewards', opts.eventDates, shard, plan),
  ]);
  // After a repartition (`topics recreate`), older raw files carry the old topics' partitions: a
  // shard reads them whole and keeps its users by murmur2 of the user id (a legacy row has -1).
  const parts = sharded
    ? [
        ...userEventsSql(lakeDir, m, opts.eventDates, where, 'current', shard, plan),
        ...userEventsSql(lakeDir, m, opts.eventDates, where, 'legacy', shard, plan),
      ]
    : userEventsSql(lakeDir, m, opts.eventDates, where);
  const eventsOnly = parts.join(' UNION ALL ');
  const mine = (userId: string) => !sharded || shardOfUser(userId, partitions, shard.of, plan) === shard.index;
  // The previous snapshot is NOT sorted by DuckDB with the events: a heavy user's state is one
  // VARCHAR of 100+ MB that a sort pins whole with everything else (out of memory at a million
  // users). Every snapshot file was written sorted by user_id, so its rows come in file order and
  // are merged here, by user id, with each other and with the sorted events.
  const chains = await snapshotChains(duck, snapshotPaths);
  const sources = chains.map((files) => snapshotRows(duck, files, mine));
  // The open lots of those states are rows of the same date's fact_lot_daily (written sorted by
  // user id too, in parts of the same user ranges), merged the same way: no user's lots are ever
  // one value, so neither DuckDB nor the JSON parser holds a heavy user's millions of lots at once.
  opts.lotHeads?.(lotPaths);
  const lotSources =
    opts.lotHeads === undefined
      ? (await snapshotChains(duck, lotPaths)).map((files) => lotGroups(duck, readsOf(files, LOT_COLS), mine))
      : lotPaths.length === 0 || parts.length === 0
        ? []
        : [
            lotGroups(
              duck,
              [{ label: 'the heads of the previous lots', sql: lotHeadsSql(lotPaths, eventsOnly) }],
              mine,
            ),
          ];
  // A heavy user's window entries likewise: parts of bounded size, in the same user order.
  const windowChains = await snapshotChains(duck, windowPaths);
  const windowSources = windowChains.map((files) => windowGroups(duck, readsOf(files, WINDOW_COLS), mine));
  const snap = attachGroups(
    attachGroups(
      mergeByUser(sources, mine, 'snapshot_user_state'),
      mergeByUser(lotSources, mine, 'fact_lot_daily'),
      'open lots',
      'fact_lot_daily',
      (row, g) => ({ ...row, lots: g.lots }),
    ),
    mergeByUser(windowSources, mine, 'snapshot_user_window'),
    'window parts',
    'snapshot_user_window',
    (row, g) => ({ ...row, window: g }),
  );
  try {
    await readMerged(duck, snap, mine, parts, eventsOnly, opts, visit, partitions);
  } finally {
    await snap.return(undefined);
    for (const src of [...sources, ...lotSources, ...windowSources]) await src.return(undefined);
  }
};

interface SnapshotRow {
  readonly userId: string;
  readonly stateJson: string;
  readonly lots?: Map<string, LotRow[]>;
  readonly window?: WindowGroup;
}

/** One user's rows of snapshot_user_window: the parts' JSON texts per kind, in part order. */
interface WindowGroup extends WindowPartsIn {
  readonly userId: string;
  readonly recent: string[];
  readonly spends: string[];
}

/**
 * A chain of files sorted by user id (as the build writes them, checked) read as one group per
 * user: `open` starts a user's group, `add` puts row `i` of a chunk's vectors into it.
 */
async function* userGroups<G extends { readonly userId: string }>(
  duck: Duck,
  /** Queries whose rows come sorted by user id (their first column), one after the other. */
  reads: readonly GroupRead[],
  /** The users whose rows are read (a shard's): another user's rows are skipped before any cell but its id. */
  keep: (userId: string) => boolean,
  what: string,
  open: (userId: string) => G,
  /** `str`: the VARCHAR columns' cell readers (varcharReader), undefined for other columns. */
  add: (
    g: G,
    v: readonly DuckDBVector[],
    i: number,
    file: string,
    str: readonly (((row: number) => string | null) | undefined)[],
    chunk: DuckDBDataChunk,
  ) => void,
): AsyncGenerator<G> {
  let cur: G | undefined;
  /** The user of the rows read last, and whether they are kept (then `cur` is its group). */
  let last: string | undefined;
  let kept = false;
  for (const { label: file, sql } of reads)
    for await (const chunk of streamChunks(duck, sql)) {
      const v = Array.from({ length: chunk.columnCount }, (_, c) => chunk.getColumnVector(c));
      const str = v.map((x, c) => (x instanceof DuckDBVarCharVector ? varcharReader(chunk, c) : undefined));
      for (let i = 0; i < chunk.rowCount; i++) {
        const userId = String(str[0]!(i));
        if (userId !== last) {
          if (last !== undefined && userId < last)
            throw new CryptolambdaError(
              'INTERNAL',
              `${what} file ${file} is not sorted by user_id after the files before it (${userId} after ${last})`,
            );
          if (cur !== undefined) yield cur;
          last = userId;
          kept = keep(userId);
          cur = kept ? open(userId) : undefined;
        }
        if (kept) add(cur!, v, i, file, str, chunk);
      }
    }
  if (cur !== undefined) yield cur;
}

/** One query of userGroups: `label` names it in errors (a file's path, or what the query reads). */
interface GroupRead {
  readonly label: string;
  readonly sql: string;
}

/** A chain of files, each read whole in file order: its columns `cols`. */
const readsOf = (files: readonly string[], cols: readonly string[]): GroupRead[] =>
  files.map((file) => ({ label: file, sql: `SELECT ${cols.join(', ')} FROM read_parquet(${literal(file)})` }));

const WINDOW_COLS = ['user_id', 'kind', 'entries_json'];

/** A chain of snapshot_user_window files as one group of parts per user. */
const windowGroups = (
  duck: Duck,
  reads: readonly GroupRead[],
  keep: (userId: string) => boolean,
): AsyncGenerator<WindowGroup> =>
  userGroups<WindowGroup>(
    duck,
    reads,
    keep,
    'window',
    (userId) => ({ userId, recent: [], spends: [] }),
    (g, v, i, file, str) => {
      const kind = String(str[1]!(i));
      if (kind !== 'recent' && kind !== 'spends')
        throw new CryptolambdaError('INTERNAL', `window file ${file}: unknown kind ${kind} of user ${g.userId}`);
      g[kind].push(String(v[2]!.getItem(i)));
    },
  );

/** One user's rows of fact_lot_daily, by asset. */
interface LotGroup {
  readonly userId: string;
  readonly lots: Map<string, LotRow[]>;
}

const LOT_COLS = [
  'user_id',
  'asset',
  'lot_id',
  'seq',
  'acquired_at_ms',
  'original_quantity',
  'original_cost',
  'quantity',
  'cost',
];

/** A lot cell that must not be NULL (the columns are NOT NULL; a file that has one is not ours). */
const lotCell = <T>(x: T | null, file: string, column: string, userId: string): T => {
  if (x === null) throw new CryptolambdaError('INTERNAL', `lot file ${file}: ${column} is NULL (user ${userId})`);
  return x;
};

/**
 * An amount from which a queue's reach is not summed (its queue is read whole): DuckDB's SUM of
 * DECIMAL(38, 18) fails past 1.7e20, and amounts below 1e11 reach that only past 1.7e9 disposals of
 * one user and asset in a day.
 */
const HUGE_UNITS = '100000000000';

/**
 * The lots of `lotFiles` that the date's disposals can reach, sorted by (user, asset, seq), in
 * LOT_COLS. A disposal of an asset (sell, card spend, withdrawal: its quantity; any event: a fee
 * paid in the asset) takes lots in the method's order, so over the date a queue gives up at most
 * the sum of those quantities (positive ones: a row with another is invalid and applies nothing)
 * from its head: its reach, exact (the raw amounts are DECIMAL(38, 18), the lots' scale). A lot is
 * loaded when the lots before it in the method's order (fifo and average: by seq; lifo: newest
 * first) hold less than the reach; then every lot a disposal takes is loaded, the queue knows the
 * others are away (LotsAway, whose own check refuses a disposal that would reach them) and the
 * build copies them forward in DuckDB. hifo's order is not by seq: its queues with disposals are
 * loaded whole, as is a queue with an amount of HUGE_UNITS or more that day (a queue's own lots
 * sum to its position, which fits the column).
 */
const lotHeadsSql = (lotFiles: readonly string[], eventsOnly: string): string => `
  WITH reach AS (
    SELECT user_id, asset,
      CASE WHEN NOT bool_or(coalesce(quantity, 0) >= ${HUGE_UNITS} OR coalesce(fee, 0) >= ${HUGE_UNITS}) THEN
        coalesce(sum(quantity) FILTER (WHERE type IN ('sell', 'card_spend', 'withdrawal') AND quantity > 0 AND quantity < ${HUGE_UNITS}), 0)
        + coalesce(sum(fee) FILTER (WHERE fee_asset = asset AND fee > 0 AND fee < ${HUGE_UNITS}), 0) END AS reach
    FROM (${eventsOnly})
    WHERE user_id IS NOT NULL AND asset IS NOT NULL AND (type IN ('sell', 'card_spend', 'withdrawal') OR fee_asset = asset)
    GROUP BY user_id, asset),
  heads AS (
    SELECT l.*, r.reach, coalesce(sum(l.quantity) OVER (
        PARTITION BY l.user_id, l.asset ORDER BY CASE WHEN l.cost_method = 'lifo' THEN -l.seq ELSE l.seq END
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM read_parquet([${lotFiles.map(literal).join(', ')}]) l
    JOIN reach r ON r.user_id = l.user_id AND r.asset = l.asset AND (r.reach IS NULL OR r.reach > 0))
  SELECT ${LOT_COLS.join(', ')} FROM heads WHERE cost_method = 'hifo' OR reach IS NULL OR before < reach
  ORDER BY user_id, asset, seq`;

/** fact_lot_daily rows (LOT_COLS) as one group of rows per user, by asset. */
const lotGroups = (
  duck: Duck,
  reads: readonly GroupRead[],
  keep: (userId: string) => boolean,
): AsyncGenerator<LotGroup> => {
  /** The cell readers of the chunk being read (made once per chunk, on its first kept row). */
  let at: DuckDBDataChunk | undefined;
  let cells!: ReturnType<typeof lotCells>;
  return userGroups<LotGroup>(
    duck,
    reads,
    keep,
    'lot',
    (userId) => ({ userId, lots: new Map() }),
    (g, _v, i, file, str, chunk) => {
      if (chunk !== at) {
        at = chunk;
        cells = lotCells(chunk);
      }
      const asset = String(str[1]!(i));
      let rows = g.lots.get(asset);
      if (rows === undefined) {
        rows = [];
        g.lots.set(asset, rows);
      }
      const u = g.userId;
      rows.push({
        lotId: String(str[2]!(i)),
        seq: Number(lotCell(cells.seq(i), file, 'seq', u)),
        acquiredAt: Number(lotCell(cells.acquiredAt(i), file, 'acquired_at_ms', u)),
        q0: lotCell(cells.q0(i), file, 'original_quantity', u),
        c0: lotCell(cells.c0(i), file, 'original_cost', u),
        q: lotCell(cells.q(i), file, 'quantity', u),
        c: lotCell(cells.c(i), file, 'cost', u),
      });
    },
  );
};

/**
 * A fact_lot_daily chunk's cells (LOT_COLS): the BIGINTs as numbers, the amounts as integer units
 * at the core's scales, read from the cells (int64Reader, unitsReader) without the node API's
 * BigInts per cell: a day's build reads back every open lot (millions at a million users).
 */
const lotCells = (chunk: DuckDBDataChunk) => ({
  seq: int64Reader(chunk, 3),
  acquiredAt: int64Reader(chunk, 4),
  q0: unitsReader(chunk, 5, QTY_SCALE),
  c0: unitsReader(chunk, 6, USD_SCALE),
  q: unitsReader(chunk, 7, QTY_SCALE),
  c: unitsReader(chunk, 8, USD_SCALE),
});

/**
 * The snapshot rows with their users' groups of a table stored beside them (open lots, window
 * parts) attached by `put`; both streams in user id order. A group without a snapshot row is refused.
 */
async function* attachGroups<G extends { readonly userId: string }>(
  snap: AsyncGenerator<SnapshotRow>,
  groups: AsyncGenerator<G>,
  what: string,
  table: string,
  put: (row: SnapshotRow, g: G) => SnapshotRow,
): AsyncGenerator<SnapshotRow> {
  const orphan = (userId: string) =>
    new CryptolambdaError('INTERNAL', `${table} holds ${what} of ${userId}, who has no snapshot_user_state row`);
  let l = await groups.next();
  try {
    for await (const row of snap) {
      if (!l.done && l.value.userId < row.userId) throw orphan(l.value.userId);
      if (!l.done && l.value.userId === row.userId) {
        const group = l.value;
        l = await groups.next();
        yield put(row, group);
      } else yield row;
    }
    if (!l.done) throw orphan(l.value.userId);
  } finally {
    await groups.return(undefined);
  }
}

/**
 * The snapshot files as chains of disjoint, increasing user-id ranges (by their Parquet min/max
 * statistics): one previous shard's parts form one chain. Each chain is read as ONE stream, so the
 * merge keeps one file open per chain, not one per part (at a million users a day has dozens of
 * parts, and an open scan each ran DuckDB out of memory). Without statistics, a file per chain.
 */
const snapshotChains = async (duck: Duck, files: readonly string[]): Promise<string[][]> => {
  if (files.length <= 1) return files.map((f) => [f]);
  const stats = await duck.rows<{ file_name: string; lo: string | null; hi: string | null }>(
    `SELECT file_name, min(stats_min_value) AS lo, max(stats_max_value) AS hi FROM parquet_metadata([${files.map(literal).join(', ')}]) WHERE path_in_schema = 'user_id' GROUP BY file_name`,
  );
  const byFile = new Map(stats.map((r) => [r.file_name, r]));
  const ranged = files.map((f) => ({ f, lo: byFile.get(f)?.lo, hi: byFile.get(f)?.hi }));
  if (ranged.some((x) => x.lo == null || x.hi == null)) return files.map((f) => [f]);
  ranged.sort((x, y) => (x.lo! < y.lo! ? -1 : x.lo! > y.lo! ? 1 : 0));
  const chains: { files: string[]; hi: string }[] = [];
  for (const x of ranged) {
    const c = chains.find((ch) => ch.hi < x.lo!);
    if (c) {
      c.files.push(x.f);
      c.hi = x.hi!;
    } else chains.push({ files: [x.f], hi: x.hi! });
  }
  return chains.map((c) => c.files);
};

/** A chain of snapshot files' rows in file order, checked sorted by user id (as the build writes them). */
async function* snapshotRows(
  duck: Duck,
  files: readonly string[],
  /** The users whose states are read (a shard's): another user's state is never decoded. */
  keep: (userId: string) => boolean,
): AsyncGenerator<SnapshotRow> {
  let prev: string | undefined;
  for (const file of files)
    for await (const chunk of streamChunks(duck, `SELECT user_id, state_json FROM read_parquet(${literal(file)})`)) {
      const users = varcharReader(chunk, 0);
      const states = chunk.getColumnVector(1);
      for (let i = 0; i < chunk.rowCount; i++) {
        const userId = String(users(i));
        if (prev !== undefined && userId <= prev)
          throw new CryptolambdaError(
            'INTERNAL',
            `snapshot file ${file} is not sorted by user_id after the files before it (${userId} after ${prev})`,
          );
        prev = userId;
        if (keep(userId)) yield { userId, stateJson: String(states.getItem(i)) };
      }
    }
}

/** K streams sorted by user id (one row or group a user) merged, keeping the users `keep` selects. */
async function* mergeByUser<T extends { readonly userId: string }>(
  sources: readonly AsyncGenerator<T>[],
  keep: (userId: string) => boolean,
  table: string,
): AsyncGenerator<T> {
  const heads = await Promise.all(sources.map((src) => src.next()));
  let last: string | undefined;
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i]!;
      if (!h.done && (best < 0 || h.value.userId < (heads[best]!.value as T).userId)) best = i;
    }
    if (best < 0) return;
    const row = heads[best]!.value as T;
    heads[best] = await sources[best]!.next();
    if (row.userId === last)
      throw new CryptolambdaError('INTERNAL', `user ${row.userId} has rows in two ${table} files`);
    last = row.userId;
    if (keep(row.userId)) yield row;
  }
}

const readMerged = async (
  duck: Duck,
  snap: AsyncGenerator<SnapshotRow>,
  mine: (userId: string) => boolean,
  parts: readonly string[],
  eventsOnly: string,
  opts: { date: string; shard: ShardSpec; latenessMs: number },
  visit: ShardUserVisitor,
  partitions: number,
): Promise<void> => {
  const { shard, date } = opts;
  const sharded = shard.of > 1;
  let head = (await snap.next()).value as SnapshotRow | undefined;
  const end = async () => {
    const writing = visit.end();
    if (writing) await writing;
  };
  /** The users with a snapshot row and no events, up to `upTo` (exclusive; undefined: all). */
  const snapshotOnly = async (upTo?: string): Promise<boolean> => {
    while (head !== undefined && (upTo === undefined || head.userId < upTo)) {
      if (!visit.begin(head.userId, head.stateJson, head.lots, head.window)) return false;
      await end();
      head = (await snap.next()).value as SnapshotRow | undefined;
    }
    return true;
  };
  if (parts.length === 0) {
    await snapshotOnly();
    return;
  }
  // The events of a user come in the ledger's order (core compareEvents: event time, then event id;
  // valid event ids are ASCII, where DuckDB's byte order is JavaScript's), src last so that rows
  // sharing both (a duplicate) come in the same order on every run. By position (EVENT_COLS):
  // 1 user_id, 2 k, 11 event_time_ms, 4 event_id, 3 src.
  const sql = `${parts.join(' UNION ALL ')} ORDER BY 1, 2, 11, 4, 3`;
  let cur: string | undefined;
  let eventRows = 0;
  // One row array, refilled from the chunk's column vectors: no array per row (see streamChunks).
  const COLS = 15;
  const r: CellRead[] = new Array(COLS).fill(null);
  let userPartition: number | undefined;
  let stopped = false;
  const from = dayStart(date);
  const to = dayEnd(date);
  read: for await (const chunk of streamChunks(duck, sql)) {
    const cells = cellReaders(chunk);
    for (let row = 0; row < chunk.rowCount; row++) {
      const userId = String(cells[0]!(row));
      const isEvent = cells[1]!(row) === 1;
      if (isEvent) {
        for (let c = 2; c < COLS; c++) if (c !== 13) r[c] = cells[c]!(row);
        r[2] = SOURCES[Number(r[2])]!;
      } else r[13] = cells[13]!(row);
      r[0] = userId;
      const legacy = isEvent && Number(r[12]) === -1;
      if (isEvent) eventRows++;
      if ((!isEvent || legacy) && !mine(userId)) continue;
      if (cur !== userId) {
        if (cur !== undefined) await end();
        cur = userId;
        userPartition = undefined;
        // Users before this one that have a snapshot and no events, then this one's snapshot row.
        if (!(await snapshotOnly(userId))) {
          stopped = true;
          break read;
        }
        let stateJson: string | undefined;
        let lots: Map<string, LotRow[]> | undefined;
        let window: WindowPartsIn | undefined;
        if (head !== undefined && head.userId === userId) {
          stateJson = head.stateJson;
          lots = head.lots;
          window = head.window;
          head = (await snap.next()).value as SnapshotRow | undefined;
        }
        if (!visit.begin(userId, stateJson, lots, window)) {
          stopped = true;
          break read;
        }
      }
      if (!isEvent) continue;
      // murmur2 once per user (rows come grouped by user), compared on every row.
      if (sharded && !legacy && userPartition === undefined) userPartition = partitionOf(userId, partitions);
      if (sharded && !legacy && userPartition !== Number(r[12]))
        throw new CryptolambdaError(
          'INTERNAL',
          `raw row ${String(r[3])} of user ${userId} is in partition ${String(r[12])}, not ${userPartition} (murmur2 of the user id over ${partitions} partitions): the raw zone is not partitioned by user`,
          'build with one shard (--shards 1)',
        );
      const v = toEvent(r);
      // The date's range in epoch ms (no Date and string per row).
      const t = Number(r[10]);
      const ofDate = t >= from && t <= to;
      const ref = hwmOf(r[14]!);
      if (v.ok && isTooLate(v.event.eventTime, ref, opts.latenessMs)) {
        // The speed layer dead-lettered it by the same rule: applied by neither layer (on any date).
        if (ofDate)
          visit.invalid({
            eventId: v.event.eventId,
            userId,
            sourceTable: String(r[2]),
            code: 'TOO_LATE',
            reason: tooLateReason(
              v.event.eventTime,
              ref!,
              opts.latenessMs,
              `${String(r[2])} partition ${String(r[12])}`,
            ),
            eventJson: JSON.stringify(eventToRaw(v.event)),
          });
      } else if (v.ok) visit.event(v.event);
      else if (ofDate)
        // A raw row the core validators refuse (the raw zone holds what ingest's decoder accepted).
        visit.invalid({
          eventId: String(r[3]),
          userId,
          sourceTable: String(r[2]),
          code: 'INVALID',
          reason: v.reason,
          eventJson: JSON.stringify(v.raw),
        });
    }
  }
  if (stopped) return;
  if (cur !== undefined) await end();
  if (!(await snapshotOnly())) return;
  // Every raw row must have been seen: a stream cut short would silently drop users.
  if (eventsOnly === '') return;
  const [{ n }] = (await duck.rows<{ n: bigint }>(`SELECT count(*) AS n FROM (${eventsOnly})`)) as [{ n: bigint }];
  if (BigInt(eventRows) !== n)
    throw new CryptolambdaError(
      'INTERNAL',
      `read ${eventRows} raw user rows, the raw zone holds ${n}: stream ended early`,
    );
};

/**
 * The raw zone's user events dated after `after` of the users `keep` selects, in (event time, event
 * id) order: what `stream --bootstrap-from-batch` replays on top of the batch's snapshot of `after`.
 * Users are selected by the caller (murmur2 of the user id: the partition the speed layer keys them
 * by, whatever partition a row was ingested from, so a repartitioned log bootstraps too). Rows the
 * core validators refuse are counted, not yielded (the live stream dead-lettered them).
 */
export async function* streamUserEventsAfter(
  duck: Duck,
  lakeDir: string,
  m: Manifest,
  opts: { after: string; keep: (userId: string) => boolean; onInvalid?: (reason: string) => void },
): AsyncGenerator<{ table: 'transactions' | 'rewards'; event: UserEvent; hwmBefore: number | undefined }> {
  const parts = userEventsSql(lakeDir, m, (dt) => dt > opts.after, '');
  if (parts.length === 0) return;
  for await (const r of streamRows(duck, `${parts.join(' UNION ALL ')} ORDER BY event_time_ms, event_id, src`)) {
    if (!opts.keep(String(r[0]))) continue;
    r[2] = SOURCES[Number(r[2])]!;
    const v = toEvent(r);
    if (v.ok)
      yield { table: r[2] === 'transactions' ? 'transactions' : 'rewards', event: v.event, hwmBefore: hwmOf(r[14]!) };
    else opts.onInvalid?.(v.reason);
  }
}

/** Symbols of the price files dated `from` or later, with the Kafka partitions they were ingested from. */
export const priceSymbols = async (
  duck: Duck,
  lakeDir: string,
  m: Manifest,
  from: string,
): Promise<{ symbol: string; partition: number }[]> => {
  const f = filesWhere(m, 'prices', (dt) => dt >= from);
  if (f.length === 0) return [];
  const rows = await duck.rows<{ symbol: string; p: number }>(
    `SELECT DISTINCT symbol, _partition AS p FROM read_parquet(${parquetList(lakeDir, f)}) ORDER BY symbol, p`,
  );
  return rows.map((r) => ({ symbol: r.symbol, partition: Number(r.p) }));
};

/**
 * The raw zone's trades of the given symbols in the files dated `from` or later. `offset` order
 * (one source partition) is the order the live stream read them in, so the rebuilt candles (lateness
 * and finality depend on arrival order) and last prices are the ones it made; `time` order
 * (event time, id) is for symbols gathered from several source partitions (a repartitioned log).
 */
export async function* streamPrices(
  duck: Duck,
  lakeDir: string,
  m: Manifest,
  opts: { from: string; symbols: readonly string[]; order: 'offset' | 'time'; onInvalid?: (reason: string) => void },
): AsyncGenerator<PriceEvent> {
  const f = filesWhere(m, 'prices', (dt) => dt >= opts.from);
  if (f.length === 0 || opts.symbols.length === 0) return;
  const order = opts.order === 'offset' ? '_partition, _offset' : 'event_time_ms, event_id, _partition, _offset';
  const sql = `SELECT event_id, symbol, CAST(price AS VARCHAR), CAST(quantity AS VARCHAR), event_time_ms, trade_id, source
     FROM read_parquet(${parquetList(lakeDir, f)}) WHERE symbol IN (${opts.symbols.map(literal).join(', ')}) ORDER BY ${order}`;
  for await (const r of streamRows(duck, sql)) {
    const [eventId, symbol, price, quantity, t, tradeId, source] = r;
    const v = validatePrice({
      kind: 'price',
      eventId,
      symbol,
      price,
      quantity,
      eventTime: typeof t === 'bigint' ? Number(t) : t,
      tradeId,
      source,
    });
    if (v.ok) yield v.event;
    else opts.onInvalid?.(v.reason);
  }
}

/** Last trade price per asset (of <asset>USDT) at or before the end of `date`, over every price file dated <= date. */
export const valuationCloses = async (
  duck: Duck,
  lakeDir: string,
  m: Manifest,
  date: string,
): Promise<Map<string, Decimal>> => {
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

/** Fill stage_fact_price_daily (created by the caller) with the date's OHLCV per symbol. */
export const stagePriceDaily = async (duck: Duck, lakeDir: string, m: Manifest, date: string): Promise<void> => {
  const priceFiles = filesWhere(m, 'prices', (dt) => dt === date);
  if (priceFiles.length === 0) return;
  await duck.run(
    `INSERT INTO stage_fact_price_daily
     SELECT $1::DATE, symbol, regexp_extract(symbol, '^(.+)USDT$', 1),
            first(price ORDER BY event_time_ms, event_id), max(price), min(price),
            first(price ORDER BY event_time_ms DESC, event_id DESC), sum(quantity), count(*)
     FROM ${dedupedPrices(lakeDir, priceFiles)} GROUP BY symbol`,
    [date],
  );
};

/**
 * Daily closes per asset for the correlation windows ending at `date`: fact_price_daily.close of
 * the published builds in the window, D's own from this build's staging table, and for window dates
 * never built, the same close rule over their raw prices (so a first run or a gap still has them).
 */
export const windowCloses = async (
  duck: Duck,
  lakeDir: string,
  m: Manifest,
  ledger: WarehouseLedger,
  date: string,
): Promise<Map<string, Map<string, Decimal>>> => {
  const window = datesEnding(date, Math.max(...CORRELATION_WINDOWS) + 1).slice(0, -1);
  const built = window.filter((d) => ledger.builds[d] !== undefined);
  const published = built.flatMap((d) => ledger.builds[d]!.files.filter((f) => f.table === FACT_PRICE_DAILY.name));
  const unbuilt = new Set(window.filter((d) => ledger.builds[d] === undefined));
  const raw = filesWhere(m, 'prices', (dt) => unbuilt.has(dt));
  const sources = [
    'SELECT symbol, CAST(date AS VARCHAR) AS d, CAST(close AS VARCHAR) AS close FROM stage_fact_price_daily',
    ...(published.length
      ? [
          `SELECT symbol, CAST(date AS VARCHAR), CAST(close AS VARCHAR) FROM read_parquet(${parquetList(lakeDir, published)})`,
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
