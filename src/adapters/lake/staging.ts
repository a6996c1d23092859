import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { ident } from '../duckdb/db.js';

/**
 * Unpublished files live under `<zone>/_staging/` (lake/raw/_staging/…, lake/warehouse/_staging/…)
 * and move to their final path only when they are published. Hadoop-style readers (Spark, Hive,
 * Trino's Hive connector) skip paths that start with `_` or `.`, and the staging directory is
 * outside every table's LOCATION anyway, so an engine listing directories never reads a file a
 * crashed run left behind.
 */
export const STAGING = '_staging';

/** lake/<zone>/_staging/<rest> for a lake-relative `rel` = `<zone>/<rest>`. */
export const stagedPath = (lakeDir: string, rel: string): string => {
  const [zone, ...rest] = rel.split(path.sep);
  return path.join(lakeDir, zone!, STAGING, ...rest);
};

/**
 * Move staged files to their final paths (same filesystem: each rename is atomic). Called right
 * before the commit that lists them; a crash in between leaves complete files that no manifest
 * lists, which the next run's orphan sweep deletes.
 */
export const promote = async (lakeDir: string, rels: readonly string[]): Promise<void> => {
  for (const rel of rels) {
    const dest = path.join(lakeDir, rel);
    await mkdir(path.dirname(dest), { recursive: true });
    await rename(stagedPath(lakeDir, rel), dest);
  }
};

/** A UTC TIMESTAMPTZ (µs; Parquet TIMESTAMP(MICROS, isAdjustedToUTC=true)) from an epoch-ms column. */
export const utcTimestampSql = (msColumn: string): string => `timezone('UTC', epoch_ms(${ident(msColumn)}))`;
