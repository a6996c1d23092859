import { mkdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Duck, literal } from '../adapters/duckdb/db.js';
import { type PartitionRange, rangesToEnd, readRanges } from '../adapters/kafka/bounded-reader.js';
import { assertPartitionContract, withAdmin } from '../adapters/kafka/client.js';
import type { ConsumedRecord } from '../adapters/kafka/consumer.js';
import {
  commitManifest,
  type LakeFile,
  type Manifest,
  type OffsetGap,
  PARTITIONED_RAW_TABLES,
  rawFilePath,
  readManifest,
  removeUnlisted,
} from '../adapters/lake/manifest.js';
import { eventDate, type Lineage, RAW_TABLES, type RawTableName } from '../adapters/lake/raw-tables.js';
import { rawFileSelect, writeRawLakeFile } from '../adapters/lake/raw-writer.js';
import { promote, stagedPath } from '../adapters/lake/staging.js';
import { readLedger } from '../adapters/lake/warehouse-store.js';
import type { Config } from '../config/config.js';
import { CryptolambdaError, StoppedError, stopSignalName } from '../core/errors.js';
import type { DomainEvent } from '../core/events/types.js';
import { registerPending } from '../core/pending.js';
import { HighWaterMarks } from '../core/time/lateness.js';
import { topicName } from '../core/topics.js';

/**
 * The Kafka group of `ingest`, one per deployment (client id and topic prefix, as the stream's).
 * Its offsets are never used (the manifest holds them), but its members share partitions: two
 * deployments on one broker under the default client id used to join one group, and kafkajs's
 * assignor handed each member partitions of the other's topics, so both waited for ranges nobody
 * read until they were killed. One lake's concurrent runs are kept apart by the lake lock.
 */
export const ingestGroupId = (config: Config): string => `${config.clientId}.${config.topicPrefix}ingest`;

export type DecodeResult = { ok: true; event: DomainEvent } | { ok: false; reason: string };
export type Decoder = (table: RawTableName, value: Buffer) => DecodeResult;

export interface IngestProgress {
  readonly records: number;
  readonly total: number;
  readonly rejected: number;
  readonly files: number;
  readonly bytes: number;
}

export interface IngestOptions {
  readonly decode: Decoder;
  /** Malformed records (never dropped silently): the caller routes them to the dead-letter topic. */
  readonly onReject: (record: ConsumedRecord, reason: string) => Promise<void>;
  readonly progress?: (p: IngestProgress) => void;
  /** Publish (files + offsets) every this many rows, bounding memory on large backlogs. */
  readonly rowsPerCommit?: number;
  /** Test hook: called after the Parquet files of a commit are written, before the manifest is. */
  readonly beforePublish?: () => Promise<void>;
  /** Record offsets gone from Kafka as a gap in the manifest and go on, instead of failing with DATA_GAP. */
  readonly acceptGap?: boolean;
  /**
   * SIGINT/SIGTERM: stop reading at the next batch boundary, commit what was read (files + offsets,
   * as any publish), then throw a StoppedError saying what is left unread and where the next run
   * starts. Should the commit hang (a broker down while the dead letters flush), the CLI's stop
   * deadline prints what was read but not committed (registerPending).
   */
  readonly signal?: AbortSignal;
  /**
   * Read raw topics whose partition count breaks the contract (the raw zone does not depend on
   * it): only to drain them before `topics recreate` (docs/runbook.md, "Repartitioning").
   */
  readonly anyPartitionCount?: boolean;
}

export interface IngestResult {
  readonly records: number;
  readonly rejected: number;
  readonly commits: number;
  readonly files: { table: string; dt: string; rows: number; bytes: number }[];
  /** Event dates that received rows in this run (late rows reopen an old date for the batch). */
  readonly dates: string[];
  /** Of `dates`, those the warehouse had already built: they need a rebuild (manifest `late`). */
  readonly lateDates: string[];
  readonly orphansRemoved: number;
  readonly manifestCommit: number;
  /** Gaps accepted (and recorded in the manifest) by this run. */
  readonly gaps: OffsetGap[];
}

/**
 * Offsets below the log start are records ingest never saw: data loss, never skipped silently.
 * Without acceptGap the run stops before reading anything (DATA_GAP, exit 10).
 */
const checkGaps = (ranges: readonly PartitionRange[], accept: boolean): OffsetGap[] => {
  const at = new Date().toISOString();
  const gaps: OffsetGap[] = ranges
    .filter((r) => r.gapFrom !== undefined)
    .map((r) => ({
      topic: r.topic,
      partition: r.partition,
      from: r.gapFrom!.toString(),
      to: r.from.toString(),
      lost: Number(r.from - r.gapFrom!),
      at,
    }));
  if (gaps.length > 0 && !accept) {
    const lost = gaps.reduce((n, g) => n + g.lost, 0);
    const where = gaps.map((g) => `${g.topic}[${g.partition}] ${g.from}..${BigInt(g.to) - 1n}`).join(', ');
    throw new CryptolambdaError(
      'DATA_GAP',
      `${lost} offsets are gone from Kafka before ingest read them: ${where}`,
      'the raw zone would have a hole there: restore those records if you can, otherwise rerun with --accept-gap to record the loss in the manifest and continue (docs/runbook.md, "Gaps")',
    );
  }
  return gaps;
};

const TABLE_TOPICS: Record<RawTableName, 'prices' | 'transactions' | 'rewards'> = {
  prices: 'prices',
  transactions: 'transactions',
  rewards: 'rewards',
};

const rawDir = (lakeDir: string): string => path.join(lakeDir, 'raw');

/** Delete Parquet files a crashed run wrote but never published (not in the manifest). */
export const removeOrphans = (lakeDir: string, m: Manifest): Promise<number> =>
  removeUnlisted(rawDir(lakeDir), new Set(m.files.map((f) => path.join(lakeDir, f.path))));

/**
 * Kafka → Parquet raw zone, incrementally from the manifest's offsets up to the topics' ends at
 * start time. Each publish writes the new files, then atomically replaces the manifest with the
 * files AND the offsets they cover (see manifest.ts), so a crash and a re-run neither lose nor
 * duplicate a row.
 */
export const runIngest = async (config: Config, opts: IngestOptions): Promise<IngestResult> => {
  let manifest = await readManifest(config.lakeDir);
  const orphansRemoved = await removeOrphans(config.lakeDir, manifest);
  const topicOf = Object.fromEntries(
    (Object.keys(TABLE_TOPICS) as RawTableName[]).map((t) => [topicName(config.topicPrefix, TABLE_TOPICS[t]), t]),
  ) as Record<string, RawTableName>;
  // The raw zone and the warehouse read any partitioning, but a mismatch means the speed layer is
  // sharded wrongly; refuse here too so the operator fixes it before both layers drift.
  // `--any-partition-count` (step 2 of the repartition procedure) drains topics of another count.
  if (!opts.anyPartitionCount)
    await withAdmin(config, (admin) => assertPartitionContract(admin, config.topicPrefix, []));
  const ranges = await rangesToEnd(config, Object.keys(topicOf), (topic, p) => {
    const s = manifest.offsets[topic]?.[String(p)];
    return s === undefined ? undefined : BigInt(s);
  });
  // A stored offset past the log's end: the topic was deleted and created again behind the raw
  // zone's back. Reading on would skip the new topic's first records until its offsets pass the old
  // ones; `topics recreate` is the procedure that resets the manifest with the topics.
  const past = ranges.filter((r) => r.from > r.to);
  if (past.length > 0)
    throw new CryptolambdaError(
      'CONFLICT',
      `the raw-zone manifest's offsets are past the end of the log: ${past
        .map((r) => `${r.topic}[${r.partition}] next ${r.from}, log end ${r.to}`)
        .join(', ')} (the topics were recreated)`,
      'run `cryptolambda topics recreate` (docs/runbook.md, "Repartitioning"): it resets the manifest for new topics',
      { retriable: false },
    );
  const gaps = checkGaps(ranges, opts.acceptGap === true);
  const total = ranges.reduce((n, r) => n + Number(r.to - r.from), 0);
  const rowsPerCommit = opts.rowsPerCommit ?? 250_000;

  const duck = await Duck.open(':memory:', { threads: 2 });
  const buffers = new Map<string, { event: DomainEvent; lineage: Lineage }[]>();
  const read = new Map<string, Map<string, string>>(); // topic → partition → next offset
  // The lateness references of user rows (core/time/lateness.ts): per topic partition, in offset
  // order, continuing from the manifest's marks, committed with the offsets they belong to.
  const hwm = new HighWaterMarks(
    Object.entries(manifest.hwm ?? {}).flatMap(([t, parts]) =>
      Object.entries(parts).map(([p, ms]) => [`${t}|${p}`, Number(ms)] as const),
    ),
  );
  let buffered = 0;
  let records = 0;
  let rejected = 0;
  let commits = 0;
  let bytesTotal = 0;
  const written: IngestResult['files'] = [];
  const dates = new Set<string>();
  const lateDates = new Set<string>();
  const builds = (await readLedger(config.lakeDir)).builds;

  // Records read since the last manifest commit, per topic-partition: what a forced stop leaves.
  const uncommitted = new Map<string, number>();
  const unregister = registerPending(() => {
    if (uncommitted.size === 0) return undefined;
    const byTopic = new Map<string, number>();
    for (const [tp, n] of uncommitted) {
      const t = tp.slice(0, tp.lastIndexOf('|'));
      byTopic.set(t, (byTopic.get(t) ?? 0) + n);
    }
    const total = [...byTopic.values()].reduce((a, n) => a + n, 0);
    const from = [...uncommitted.keys()].sort().map((tp) => {
      const i = tp.lastIndexOf('|');
      const [t, p] = [tp.slice(0, i), tp.slice(i + 1)];
      return `${t}[${p}]@${manifest.offsets[t]?.[p] ?? ranges.find((r) => r.topic === t && String(r.partition) === p)?.from}`;
    });
    return (
      `ingest: ${total} record(s) read but not in a manifest commit (${[...byTopic].map(([t, n]) => `${t} ${n}`).join(', ')}); ` +
      `the next run re-reads them from the manifest's offsets ${from.join(' ')}`
    );
  });

  let gapsToRecord = gaps;
  const publish = async (): Promise<void> => {
    if (buffered === 0 && read.size === 0 && gapsToRecord.length === 0) return;
    const commit = manifest.commit + 1;
    const files: LakeFile[] = [];
    for (const [k, rows] of buffers) {
      const [table, dt, p] = k.split('|') as [RawTableName, string, string];
      const partition = p === '' ? undefined : Number(p);
      const rel = rawFilePath(table, dt, commit, partition);
      // Written under raw/_staging/ and moved into dt= only at publish (below).
      const file = await writeRawLakeFile(duck, RAW_TABLES[table] as never, rows as never, {
        rel,
        file: stagedPath(config.lakeDir, rel),
        dt,
        commit,
        partition,
        ...(table === 'prices' ? {} : { hwm: true as const }),
      });
      files.push(file);
      const bytes = file.bytes;
      written.push({ table, dt, rows: rows.length, bytes });
      bytesTotal += bytes;
      dates.add(dt);
    }
    await opts.beforePublish?.();
    await promote(
      config.lakeDir,
      files.map((f) => f.path),
    );
    const late: Record<string, number> = {};
    for (const [dt, c] of Object.entries(manifest.late ?? {})) {
      if ((builds[dt]?.rawCommit ?? 0) < c) late[dt] = c;
    }
    for (const f of files) {
      if (builds[f.dt] !== undefined) {
        late[f.dt] = commit;
        lateDates.add(f.dt);
      }
    }
    const offsets: Record<string, Record<string, string>> = {};
    for (const [t, parts] of Object.entries(manifest.offsets)) offsets[t] = { ...parts };
    for (const [t, parts] of read) offsets[t] = { ...(offsets[t] ?? {}), ...Object.fromEntries(parts) };
    // Every partition of a topic is named, an empty one too: the count of a user topic's partitions
    // is what sharded builds take the producer's murmur2 modulo from (userTopicPartitions).
    for (const r of ranges)
      if (r.from === r.to && r.gapFrom === undefined && offsets[r.topic]?.[String(r.partition)] === undefined)
        offsets[r.topic] = { ...(offsets[r.topic] ?? {}), [String(r.partition)]: r.from.toString() };
    const marks: Record<string, Record<string, string>> = {};
    for (const [k, ms] of hwm.entries()) {
      const [t, p] = k.split('|') as [string, string];
      const parts = marks[t] ?? {};
      parts[p] = String(ms);
      marks[t] = parts;
    }
    manifest = {
      version: 1,
      commit,
      offsets,
      files: [...manifest.files, ...files],
      updatedAt: new Date().toISOString(),
      ...(Object.keys(late).length > 0 ? { late } : {}),
      ...(manifest.gaps !== undefined || gapsToRecord.length > 0
        ? { gaps: [...(manifest.gaps ?? []), ...gapsToRecord] }
        : {}),
      ...(Object.keys(marks).length > 0 ? { hwm: marks } : {}),
    };
    await commitManifest(config.lakeDir, manifest);
    uncommitted.clear();
    gapsToRecord = [];
    commits++;
    buffers.clear();
    read.clear();
    buffered = 0;
  };

  try {
    const { stopped } = await readRanges(
      config,
      ingestGroupId(config),
      ranges,
      async (batch) => {
        for (const r of batch) {
          const table = topicOf[r.topic]!;
          const decoded = r.value
            ? opts.decode(table, r.value)
            : ({ ok: false, reason: 'empty message value' } as const);
          if (!decoded.ok) {
            await opts.onReject(r, decoded.reason);
            rejected++;
          } else {
            // User topics: one buffer (one file) per Kafka partition, so a shard reads only its files.
            const k = `${table}|${eventDate(decoded.event.eventTime)}|${PARTITIONED_RAW_TABLES.has(table) ? r.partition : ''}`;
            let list = buffers.get(k);
            if (!list) {
              list = [];
              buffers.set(k, list);
            }
            const lineage: Lineage = { topic: r.topic, partition: r.partition, offset: r.offset };
            const before =
              table === 'prices' ? undefined : hwm.next(`${r.topic}|${r.partition}`, decoded.event.eventTime);
            list.push({
              event: decoded.event,
              lineage: before === undefined ? lineage : { ...lineage, hwmMs: before },
            });
            buffered++;
          }
          let parts = read.get(r.topic);
          if (!parts) {
            parts = new Map();
            read.set(r.topic, parts);
          }
          parts.set(String(r.partition), (BigInt(r.offset) + 1n).toString());
          const tp = `${r.topic}|${r.partition}`;
          uncommitted.set(tp, (uncommitted.get(tp) ?? 0) + 1);
          records++;
        }
        opts.progress?.({ records, total, rejected, files: written.length, bytes: bytesTotal });
        if (buffered >= rowsPerCommit) await publish();
      },
      opts.signal,
    );
    if (stopped) {
      // A clean stop: commit what was read, then say what was not read and where the next run starts.
      await publish();
      throw stoppedIngest(opts.signal!, ranges, manifest, records);
    }
    // Ranges that ended on markers or gaps still advance to their end; an accepted gap moves the
    // stored offset to the log start even when nothing is left to read.
    for (const r of ranges) {
      if (r.to > r.from || r.gapFrom !== undefined) {
        const parts = read.get(r.topic) ?? new Map<string, string>();
        const cur = BigInt(parts.get(String(r.partition)) ?? r.from.toString());
        if (cur < r.to) parts.set(String(r.partition), r.to.toString());
        read.set(r.topic, parts);
      }
    }
    await publish();
  } finally {
    unregister();
    duck.close();
  }
  opts.progress?.({ records, total, rejected, files: written.length, bytes: bytesTotal });
  return {
    records,
    rejected,
    commits,
    files: written,
    dates: [...dates].sort(),
    lateDates: [...lateDates].sort(),
    orphansRemoved,
    manifestCommit: manifest.commit,
    gaps,
  };
};

/**
 * The one line of an ingest stopped by a signal after its final commit: what it committed, what it
 * did not read (per topic, with the offsets the next run starts at), nothing left unacknowledged.
 */
const stoppedIngest = (
  signal: AbortSignal,
  ranges: readonly PartitionRange[],
  manifest: Manifest,
  records: number,
): StoppedError => {
  const left = new Map<string, { n: bigint; from: string[] }>();
  for (const r of ranges) {
    const next = BigInt(manifest.offsets[r.topic]?.[String(r.partition)] ?? r.from.toString());
    if (next >= r.to) continue;
    const t = left.get(r.topic) ?? { n: 0n, from: [] };
    t.n += r.to - next;
    t.from.push(`[${r.partition}]@${next}`);
    left.set(r.topic, t);
  }
  const unread =
    left.size === 0
      ? 'nothing left unread'
      : `not read yet: ${[...left].map(([t, v]) => `${t} ${v.n} from ${v.from.join(' ')}`).join(', ')}`;
  return new StoppedError(
    stopSignalName(signal),
    `ingest committed the ${records} record(s) it had read (manifest commit ${manifest.commit}); nothing was left unacknowledged; ${unread}`,
    "run ingest again: it reads on from the manifest's offsets",
  );
};

/** Remove the whole raw zone (used by tests and a from-scratch rebuild). */
export const resetRawZone = async (lakeDir: string): Promise<void> => {
  await rm(rawDir(lakeDir), { recursive: true, force: true });
};

export interface CompactResult {
  readonly partitions: number;
  readonly filesBefore: number;
  readonly filesAfter: number;
  readonly manifestCommit: number;
}

/**
 * Merge each (table, dt, Kafka partition) group's small files into one, sorted like the originals.
 * User-topic files written before files were indexed by partition (several partitions each) are
 * split into one file per partition, even alone: `ingest --compact` moves an older lake to the
 * layout a shard reads selectively. The new manifest lists the merged files instead of their inputs
 * (offsets unchanged); inputs are deleted only after that commit, so readers always see either the
 * old files or the new ones, never both.
 */
export const compactRawZone = async (config: Config, minFiles = 2): Promise<CompactResult> => {
  const m = await readManifest(config.lakeDir);
  await removeOrphans(config.lakeDir, m);
  const groups = new Map<string, LakeFile[]>();
  for (const f of m.files) {
    const k = `${f.table}|${f.dt}|${f.partition ?? ''}`;
    groups.set(k, [...(groups.get(k) ?? []), f]);
  }
  const unindexed = (g: readonly LakeFile[]) =>
    PARTITIONED_RAW_TABLES.has(g[0]!.table) && g[0]!.partition === undefined;
  const targets = [...groups.values()].filter((g) => g.length >= minFiles || unindexed(g));
  if (targets.length === 0)
    return { partitions: 0, filesBefore: m.files.length, filesAfter: m.files.length, manifestCommit: m.commit };
  const commit = m.commit + 1;
  const duck = await Duck.open(':memory:', { threads: 2 });
  const replaced = new Set<string>();
  const merged: LakeFile[] = [];
  try {
    for (const group of targets) {
      const first = group[0]!;
      const table = RAW_TABLES[first.table as RawTableName];
      const inputs = group.map((f) => literal(path.join(config.lakeDir, f.path))).join(', ');
      // Column by column (union_by_name): files written before a column existed still merge, and
      // the derived timestamps are recomputed, never copied from whichever file came first.
      const source = `read_parquet([${inputs}], union_by_name = true)`;
      // Keep the newest input commit: compaction adds no new data, so builds stay valid.
      const newest = Math.max(...group.map((f) => f.commit));
      // No input has `_hwm_ms` (all written before it existed): the merged file has it as NULL.
      const missing = first.table !== 'prices' && !group.some((f) => f.hwm) ? new Set(['_hwm_ms']) : undefined;
      const hwm = first.table === 'prices' ? {} : { hwm: true as const };
      const write = async (partition: number | undefined, where: string) => {
        const rel = rawFilePath(first.table, first.dt, commit, partition, 'c');
        const staged = stagedPath(config.lakeDir, rel);
        await mkdir(path.dirname(staged), { recursive: true });
        await duck.run(
          `COPY (${rawFileSelect(table as never, `${source} ${where}`, missing)} ORDER BY ${table.orderBy}) TO ${literal(`${staged}.tmp`)} (FORMAT parquet, COMPRESSION zstd)`,
        );
        await rename(`${staged}.tmp`, staged);
        return { rel, bytes: (await stat(staged)).size };
      };
      if (unindexed(group)) {
        const parts = await duck.rows<{ p: number; n: bigint; lo: bigint; hi: bigint }>(
          `SELECT _partition AS p, count(*) AS n, min(event_time_ms) AS lo, max(event_time_ms) AS hi FROM ${source} GROUP BY ALL ORDER BY p`,
        );
        for (const x of parts) {
          const p = Number(x.p);
          const { rel, bytes } = await write(p, `WHERE _partition = ${p}`);
          merged.push({
            table: first.table,
            dt: first.dt,
            path: rel,
            rows: Number(x.n),
            bytes,
            commit: newest,
            minEventTime: Number(x.lo),
            maxEventTime: Number(x.hi),
            partition: p,
            ...hwm,
          });
        }
      } else {
        const { rel, bytes } = await write(first.partition, '');
        merged.push({
          table: first.table,
          dt: first.dt,
          path: rel,
          rows: group.reduce((n, f) => n + f.rows, 0),
          bytes,
          commit: newest,
          minEventTime: Math.min(...group.map((f) => f.minEventTime)),
          maxEventTime: Math.max(...group.map((f) => f.maxEventTime)),
          ...(first.partition === undefined ? {} : { partition: first.partition }),
          ...hwm,
        });
      }
      for (const f of group) replaced.add(f.path);
    }
  } finally {
    duck.close();
  }
  const next: Manifest = {
    ...m,
    commit,
    files: [...m.files.filter((f) => !replaced.has(f.path)), ...merged],
    updatedAt: new Date().toISOString(),
  };
  await promote(
    config.lakeDir,
    merged.map((f) => f.path),
  );
  await commitManifest(config.lakeDir, next);
  for (const p of replaced) await unlink(path.join(config.lakeDir, p)).catch(() => undefined);
  return {
    partitions: targets.length,
    filesBefore: m.files.length,
    filesAfter: next.files.length,
    manifestCommit: commit,
  };
};
