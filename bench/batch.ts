/**
 * `batch` seconds and peak memory for a day of 100k users and 1M user events, built with 1, 2 and 4
 * shards (issue 16). Prints figures; not a test.
 *
 *   npx tsc -p bench/tsconfig.json && node .cryptolambda/bench/bench/batch.js [users] [transactions] [days] [shards,..]
 *
 * The days come from bench/zipf-day.ts: Zipf-like activity plus one heavy user holding 10% of each
 * day, in the partitions the producer would pick. Sharded builds run as child processes of
 * the built CLI (`npm run build` first): their peak RSS is reported by each shard.
 *
 * The events are written straight into a throw-away raw zone (the same Parquet writer and manifest
 * `ingest` uses) instead of going through Kafka: producing and ingesting 1M Avro records would
 * measure the producer and ingest (bench/ingest.ts does that), not the batch. Day 1 is built from
 * history (nothing before it), each later day from the previous day's snapshot, so the second
 * figure includes carrying every user's state forward.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { readLedger } from '../src/adapters/lake/warehouse-store.js';
import { runBatch } from '../src/app/batch/run-batch.js';
import { resolveConfig } from '../src/config/config.js';
import { report } from './report.js';
import { writeZipfDays, zipfDate } from './zipf-day.js';

const USERS = Number(process.argv[2] ?? 100_000);
const TXS = Number(process.argv[3] ?? 1_000_000);
const DAYS = Number(process.argv[4] ?? 2);
const SHARDS = (process.argv[5] ?? '1,2,4').split(',').map(Number);

const main = async (): Promise<void> => {
  const lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-bench-batch-'));
  const config = resolveConfig({ lakeDir }, { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: '' });
  console.log(
    `node ${process.version}, ${USERS.toLocaleString('en-US')} users, ${TXS.toLocaleString('en-US')} user events per day, ${DAYS} days`,
  );
  try {
    const raw = await writeZipfDays(lakeDir, { users: USERS, txs: TXS, days: DAYS });
    console.log(`generated raw zone: ${raw.files} files, ${raw.rawMb.toFixed(1)} MB in ${raw.seconds.toFixed(1)} s`);

    const seconds = new Map<number, number>();
    for (const shards of SHARDS) {
      for (let day = 0; day < DAYS; day++) {
        const date = zipfDate(day);
        const r = await runBatch(config, { date, shards });
        const stats = (await readLedger(lakeDir)).builds[date]!.stats;
        const rss = Math.round(process.resourceUsage().maxRSS / 1024);
        const peak = Math.max(rss, stats.shardPeakRssMb ?? 0);
        const how = r.fromHistory ? 'from history' : 'from snapshot';
        if (day === DAYS - 1) seconds.set(shards, r.seconds);
        report('batch', `seconds, ${shards} shard(s), ${how}`, r.seconds, 's', `${r.users} users, ${r.events} events`);
        report(
          'batch',
          `peak rss MB, ${shards} shard(s), ${how}`,
          peak,
          'MB',
          'max of the publishing process and any shard',
        );
        console.log(
          `batch ${date} ${shards} shard(s) (${how}): ${r.seconds.toFixed(1)} s  ` +
            `${r.users.toLocaleString('en-US')} users, ${r.events.toLocaleString('en-US')} events ` +
            `(${Math.round(r.events / r.seconds).toLocaleString('en-US')} events/s), ${r.rejects.toLocaleString('en-US')} rejects, ` +
            `portfolio rows ${r.rows.fact_portfolio_daily?.toLocaleString('en-US')}, peak rss ${peak} MB ` +
            `(this process ${rss}, largest shard ${stats.shardPeakRssMb ?? 0}); phases ${JSON.stringify(r.phases)}`,
        );
      }
    }
    const one = seconds.get(SHARDS[0]!);
    for (const [n, s] of seconds)
      if (one !== undefined && n !== SHARDS[0]) {
        console.log(`speed-up ${n} shards vs ${SHARDS[0]}: ${(one / s).toFixed(2)}x`);
        report('batch', `speed-up ${n} vs ${SHARDS[0]} shard(s)`, one / s, 'x', `${os.cpus().length} cores`);
      }
  } finally {
    rmSync(lakeDir, { recursive: true, force: true });
  }
};

await main();
