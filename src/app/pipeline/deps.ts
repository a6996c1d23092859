import path from 'node:path';
import { Duck, literal } from '../../adapters/duckdb/db.js';
import { readManifest } from '../../adapters/lake/manifest.js';
import { createViews, readLedger } from '../../adapters/lake/warehouse-store.js';
import { connectRedis } from '../../adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../adapters/redis/speed-keys.js';
import { readWatermarks } from '../../adapters/redis/speed-store.js';
import type { Config } from '../../config/config.js';
import { WAREHOUSE_TABLES } from '../../core/warehouse/schema.js';
import { runIngestRaw } from '../batch/ingest-raw.js';
import { runBatch } from '../batch/run-batch.js';
import { openServing } from '../serving/context.js';
import { reconcile } from '../serving/reconcile.js';
import { retireSpeedDay } from '../stream/retire.js';
import type { DailyDeps } from './daily.js';

/**
 * The speed layer's price watermark: the minimum over the partitions that hold one (the stream
 * writes each partition's watermark at every checkpoint; idle partitions never get an entry, so
 * they do not hold it back).
 */
export const speedWatermark = async (config: Config): Promise<number | undefined> => {
  const redis = await connectRedis(config, { name: 'pipeline-sensor' });
  try {
    const marks = await readWatermarks(redis, speedKeys(keyspaceFor(config.topicPrefix)));
    return marks.price ?? undefined;
  } finally {
    redis.disconnect();
  }
};

/** Event dates with at least one published raw file. */
export const rawDates = async (config: Config): Promise<string[]> => {
  const m = await readManifest(config.lakeDir);
  return [...new Set(m.files.map((f) => f.dt))].sort();
};

/**
 * DuckDB memory of the data-quality checks. Every check is one SQL aggregate over the Parquet views
 * (counts, GROUP BY for uniqueness, anti-joins for references, a bounded sample of violating rows),
 * so no row reaches JS; the GROUP BYs and joins of a day of millions of users are what could grow,
 * and under this cap DuckDB spills them to its temp directory instead.
 */
export const DQ_MEMORY_LIMIT = '1GB';

/** An in-memory DuckDB with a view per warehouse table over its published files. */
export const warehouseConnection = async (config: Config): Promise<Duck> => {
  const duck = await Duck.open(':memory:', { threads: 2, memoryLimit: DQ_MEMORY_LIMIT });
  try {
    await duck.run(`SET temp_directory = ${literal(path.join(config.stateDir, 'tmp', 'duckdb-dq'))}`);
    await createViews(
      duck,
      await readLedger(config.lakeDir),
      config.lakeDir,
      WAREHOUSE_TABLES.map((t) => t.name),
    );
    return duck;
  } catch (err) {
    duck.close();
    throw err;
  }
};

export const realDailyDeps = (config: Config): DailyDeps => ({
  watermark: () => speedWatermark(config),
  rawDates: () => rawDates(config),
  warehouse: () => warehouseConnection(config),
  // The run's stop signal reaches ingest and batch: they stop cleanly and say what they left.
  ingest: async (signal, log) => {
    let last = 0;
    const r = await runIngestRaw(config, {
      signal,
      onProgress: (p) => {
        if (Date.now() - last < 5000) return;
        last = Date.now();
        log(`${p.records}/${p.total} records read`);
      },
    });
    return { rows: r.records };
  },
  batch: async (date, log, { allowEmpty, signal }) => {
    const r = await runBatch(config, {
      date,
      allowEmpty,
      ...(signal === undefined ? {} : { signal }),
      onProgress: (p) => {
        if (p.phase === 'published') log(`${p.users} users, ${p.events} events published`);
      },
    });
    const rows = Object.values(r.rows).reduce((a, b) => a + b, 0);
    return {
      rows,
      detail: `${r.users} users (${r.activeUsers} active), ${r.events} events, ${r.rejects} rejects, ${r.seconds.toFixed(1)} s`,
    };
  },
  retire: (date, ttlSec) => retireSpeedDay(config, date, ttlSec),
  reconcile: async (date) => {
    const ctx = await openServing(config);
    try {
      const r = await reconcile(ctx, date);
      const s = r.summary;
      return {
        compared: s.fieldsMatched + s.fieldsMismatched + s.missingInBatch + s.missingInSpeed,
        mismatches: s.fieldsMismatched + s.missingInBatch + s.missingInSpeed,
        summary: `${s.users} users, ${s.fieldsMatched} fields matched, ${s.fieldsMismatched} mismatched, ${s.missingInBatch} missing in batch, ${s.missingInSpeed} missing in speed`,
      };
    } finally {
      ctx.close();
    }
  },
});
