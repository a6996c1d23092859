import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ManifestSchema, parseLakeFile } from './lake-schemas.js';

/** One Parquet file of the raw zone, visible to readers only once a committed manifest lists it. */
export interface LakeFile {
  /** Logical topic key (prices | transactions | rewards). */
  readonly table: string;
  /** Event date, YYYY-MM-DD (UTC): the dt= partition. */
  readonly dt: string;
  /** Path relative to the lake dir. */
  readonly path: string;
  readonly rows: number;
  readonly bytes: number;
  /** The manifest commit that published it. */
  readonly commit: number;
  readonly minEventTime: number;
  readonly maxEventTime: number;
  /**
   * The one Kafka partition of a user topic (transactions, rewards) whose rows the file holds:
   * ingest writes one file per partition per commit, so a batch shard (a set of partitions) opens
   * only its own files. Absent on price files and on user files written before this index existed
   * (those hold several partitions and a shard filters their rows by `_partition`).
   */
  readonly partition?: number;
  /** User files: the rows carry `_hwm_ms` (files written before that column existed do not). */
  readonly hwm?: true;
}

/**
 * The raw zone's single source of truth: which files exist and which Kafka offsets they cover.
 * Publishing = atomically replacing this file (write temp, fsync, rename). Files and offsets
 * therefore change together or not at all: a crash after writing Parquet but before the rename
 * leaves orphan files that no reader sees and the next run deletes, and the next run re-reads
 * from the old offsets — nothing lost, nothing doubled.
 */
export interface Manifest {
  readonly version: 1;
  readonly commit: number;
  /** physical topic → partition → next offset to ingest. */
  readonly offsets: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly files: readonly LakeFile[];
  readonly updatedAt: string;
  /**
   * Dates that received rows after the warehouse had built them (late events): date → the commit
   * that last added rows. Written in the same atomic replace as the files; entries go once a build
   * of the date has read that commit. `pendingDates` (core/warehouse/pending.ts) derives the same
   * from file commits vs build commits, including the dates after it that carry its positions.
   */
  readonly late?: Readonly<Record<string, number>>;
  /**
   * Offsets that were gone from Kafka (retention, deleted records) when ingest reached them and
   * that the operator accepted as lost (`ingest --accept-gap`): the raw zone has a hole there.
   */
  readonly gaps?: readonly OffsetGap[];
  /**
   * Per user topic and partition, the event-time high-water mark (ms) of the decoded records below
   * the committed offset: where the next run's lateness references continue (core/time/lateness.ts).
   */
  readonly hwm?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /**
   * Topics deleted and created again (`topics recreate`, the repartition procedure) once the raw
   * zone held everything they held: from `commit` on, their offsets count from 0 in the new topic.
   */
  readonly recreated?: readonly TopicRecreation[];
}

/** One `topics recreate` of a topic: the old topic's end offsets, the new partition count. */
export interface TopicRecreation {
  readonly topic: string;
  readonly partitions: number;
  readonly previousPartitions: number;
  /** partition → the old topic's next offset (everything below it is in the raw zone). */
  readonly previousOffsets: Readonly<Record<string, string>>;
  /** The manifest commit that started the new topic's offsets at 0. */
  readonly commit: number;
  readonly at: string;
}

/** A recorded hole in the log: offsets [from, to) of topic-partition were never ingested. */
export interface OffsetGap {
  readonly topic: string;
  readonly partition: number;
  readonly from: string;
  readonly to: string;
  readonly lost: number;
  /** When the gap was accepted (ISO). */
  readonly at: string;
}

/** User topics: their files are written one Kafka partition each (LakeFile.partition). */
export const PARTITIONED_RAW_TABLES: ReadonlySet<string> = new Set(['transactions', 'rewards']);

/**
 * Where a raw file goes, relative to the lake: raw/<table>/dt=<dt>/part-<commit>[-p<partition>]-<id>.parquet.
 * The partition is in the name and the manifest, not a `p=` directory: the raw tables are Hive
 * tables PARTITIONED BY (dt) (sql/hive_ddl.sql), whose partition discovery (MSCK REPAIR) refuses
 * directories below dt=, and the manifest is the index every reader goes through anyway.
 */
export const rawFilePath = (table: string, dt: string, commit: number, partition?: number, tag = ''): string =>
  path.join(
    'raw',
    table,
    `dt=${dt}`,
    `part-${String(commit).padStart(6, '0')}${partition === undefined ? '' : `-p${partition}`}-${tag}${randomUUID().slice(0, 8)}.parquet`,
  );

export const EMPTY_MANIFEST: Manifest = { version: 1, commit: 0, offsets: {}, files: [], updatedAt: '' };

export const manifestPath = (lakeDir: string): string => path.join(lakeDir, 'raw', '_manifest.json');

export const readManifest = async (lakeDir: string): Promise<Manifest> => {
  try {
    const file = manifestPath(lakeDir);
    return parseLakeFile(ManifestSchema, file, await readFile(file, 'utf8')) as Manifest;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_MANIFEST;
    throw err;
  }
};

/** Write-then-rename with fsync of the file and its directory: the commit point of the raw zone. */
export const writeFileAtomic = async (file: string, content: string): Promise<void> => {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
};

export const commitManifest = async (lakeDir: string, next: Manifest): Promise<void> => {
  await writeFileAtomic(manifestPath(lakeDir), `${JSON.stringify(next, null, 1)}\n`);
};

/**
 * Delete the Parquet files under `root` that `listed` does not name (absolute paths), plus any
 * `.parquet.tmp` left by an interrupted write: what a crashed run wrote but never published.
 * `minAgeMs` spares files younger than that (a concurrent writer may be about to publish them).
 */
export const removeUnlisted = async (
  root: string,
  listed: ReadonlySet<string>,
  minAgeMs = 0,
  now: number = Date.now(),
): Promise<number> => {
  let removed = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if ((e.name.endsWith('.parquet') && !listed.has(p)) || e.name.endsWith('.parquet.tmp')) {
        if (minAgeMs > 0) {
          const st = await stat(p).catch(() => undefined);
          if (st === undefined || now - st.mtimeMs < minAgeMs) continue;
        }
        await unlink(p).catch(() => undefined);
        removed++;
      }
    }
  };
  await walk(root);
  return removed;
};
