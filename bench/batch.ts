/**
 * `batch` seconds and peak memory for a day of 100k users and 1M user events, built with 1, 2 and 4
 * shards (issue 16). Prints figures; not a test.
 *
 *   npx tsc -p bench/tsconfig.json && node .cryptolambda/bench/bench/batch.js [users] [transactions] [days] [shards,..]
 *
 * Users' events are spread with a Zipf-like skew (user rank r gets ~1/r of the events) plus one heavy
 * user holding 10% of each day, and land in the Kafka partition the producer would pick (murmur2 of
 * the user id over 12 partitions), as ingest writes them. Sharded builds run as child processes of
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
import { Duck } from '../src/adapters/duckdb/db.js';
import { commitManifest, type LakeFile, type Manifest } from '../src/adapters/lake/manifest.js';
import { type Lineage, RAW_TABLES } from '../src/adapters/lake/raw-tables.js';
import { writeRawFile } from '../src/adapters/lake/raw-writer.js';
import { readLedger } from '../src/adapters/lake/warehouse-store.js';
import { runBatch } from '../src/app/batch/run-batch.js';
import { resolveConfig } from '../src/config/config.js';
import type { PriceEvent, RewardEvent, TransactionEvent } from '../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../src/core/money/decimal.js';
import { partitionOf } from '../src/core/warehouse/shard.js';
import { report } from './report.js';

const USERS = Number(process.argv[2] ?? 100_000);
const TXS = Number(process.argv[3] ?? 1_000_000);
const DAYS = Number(process.argv[4] ?? 2);
const SHARDS = (process.argv[5] ?? '1,2,4').split(',').map(Number);
const PARTITIONS = 12;
const HEAVY = 'u-heavy';
const DAY0 = Date.UTC(2026, 0, 10);
const DAY_MS = 86_400_000;
const CHUNK = 250_000;
const ASSETS = ['BTC', 'ETH', 'SOL'];
const BASE: Record<string, bigint> = { BTC: 43_000n, ETH: 2_300n, SOL: 60n };

const lineage: Lineage = { topic: 'bench', partition: 0, offset: '0' };
const lineages = new Map<string, Lineage>();
/** The partition the producer would have sent the user's events to. */
const lineageOf = (userId: string): Lineage => {
  let l = lineages.get(userId);
  if (l === undefined) {
    l = { topic: 'raw.transactions', partition: partitionOf(userId, PARTITIONS), offset: '0' };
    lineages.set(userId, l);
  }
  return l;
};
const q = (units: bigint) => Decimal.fromUnits(units, QTY_SCALE);

/** Zipf-like: a uniform draw u maps to rank floor(USERS^u) - 1, so rank r has probability ~1/r. */
const userOf = (i: number): string => {
  if (i % 10 === 0) return HEAVY;
  const u = ((i * 2654435761) % 4294967296) / 4294967296;
  return `u${String(Math.min(USERS - 1, Math.floor(USERS ** u) - 1)).padStart(7, '0')}`;
};

/** Deterministic: event i of a day belongs to userOf(i); its kind follows i (+ day). */
const txOf = (day: number, i: number): TransactionEvent | RewardEvent => {
  const user = userOf(i);
  const round = Math.floor(i / 7);
  const kind = (round + day) % 5;
  // buy BTC, buy ETH, sell BTC, card spend in ETH, staking reward in SOL: few rejects, 3 positions a user.
  const asset = ASSETS[[0, 1, 0, 1, 2][kind]!]!;
  const t = DAY0 + day * DAY_MS + Math.floor((i / TXS) * (DAY_MS - 1));
  const price = Decimal.fromUnits(BASE[asset]! * 10_000n + BigInt((i * 7919) % 10_000), 4).rescale(PRICE_SCALE);
  const base = { eventId: `b${day}-${i}`, userId: user, asset, price, eventTime: t };
  if (kind === 4) return { kind: 'reward', rewardType: 'staking', quantity: q(10n ** 14n), ...base };
  return {
    kind: 'transaction',
    type: kind === 2 ? 'sell' : kind === 3 ? 'card_spend' : 'buy',
    quantity: q(kind === 0 || kind === 1 ? 10n ** 16n * BigInt(1 + (i % 9)) : 10n ** 15n),
    fee: Decimal.fromUnits(BigInt(i % 100) * 10n ** 10n, USD_SCALE),
    feeAsset: 'USD',
    ...base,
  };
};

const main = async (): Promise<void> => {
  const lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-bench-batch-'));
  const config = resolveConfig({ lakeDir }, { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: '' });
  console.log(
    `node ${process.version}, ${USERS.toLocaleString('en-US')} users, ${TXS.toLocaleString('en-US')} user events per day, ${DAYS} days`,
  );
  try {
    const duck = await Duck.open(':memory:', { threads: 2 });
    const files: LakeFile[] = [];
    const t0 = performance.now();
    let commit = 1;
    for (let day = 0; day < DAYS; day++) {
      const dt = new Date(DAY0 + day * DAY_MS).toISOString().slice(0, 10);
      for (let from = 0; from < TXS; from += CHUNK) {
        const txs: { event: TransactionEvent; lineage: Lineage }[] = [];
        const rws: { event: RewardEvent; lineage: Lineage }[] = [];
        for (let i = from; i < Math.min(TXS, from + CHUNK); i++) {
          const e = txOf(day, i);
          if (e.kind === 'transaction') txs.push({ event: e, lineage: lineageOf(e.userId) });
          else rws.push({ event: e, lineage: lineageOf(e.userId) });
        }
        for (const [table, rows] of [
          ['transactions', txs],
          ['rewards', rws],
        ] as const) {
          const rel = path.join('raw', table, `dt=${dt}`, `part-${commit}-${from}.parquet`);
          const { bytes } = await writeRawFile(
            duck,
            RAW_TABLES[table] as never,
            rows as never,
            path.join(lakeDir, rel),
          );
          files.push({ table, dt, path: rel, rows: rows.length, bytes, commit, minEventTime: 0, maxEventTime: 0 });
        }
      }
      const prices: { event: PriceEvent; lineage: Lineage }[] = [];
      for (let i = 0; i < 86_400; i++) {
        const a = ASSETS[i % 3]!;
        prices.push({
          event: {
            kind: 'price',
            eventId: `bench:${a}USDT:${day}-${i}`,
            symbol: `${a}USDT`,
            price: Decimal.fromUnits(
              BASE[a]! * 10_000n + BigInt((i * 104_729 + day * 31) % 20_000) - 10_000n,
              4,
            ).rescale(PRICE_SCALE),
            quantity: q(10n ** 17n),
            eventTime: DAY0 + day * DAY_MS + i * 1000,
            tradeId: String(i),
            source: 'synthetic',
          },
          lineage,
        });
      }
      const rel = path.join('raw', 'prices', `dt=${dt}`, `part-${commit}.parquet`);
      const { bytes } = await writeRawFile(duck, RAW_TABLES.prices, prices, path.join(lakeDir, rel));
      files.push({
        table: 'prices',
        dt,
        path: rel,
        rows: prices.length,
        bytes,
        commit,
        minEventTime: 0,
        maxEventTime: 0,
      });
      commit++;
    }
    duck.close();
    const parts = Object.fromEntries([...Array(PARTITIONS).keys()].map((p) => [String(p), '0']));
    const manifest: Manifest = {
      version: 1,
      commit,
      offsets: { 'raw.transactions': parts, 'raw.rewards': parts },
      files,
      updatedAt: new Date().toISOString(),
    };
    await commitManifest(lakeDir, manifest);
    const rawMb = files.reduce((n, f) => n + f.bytes, 0) / 1e6;
    console.log(
      `generated raw zone: ${files.length} files, ${rawMb.toFixed(1)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    const seconds = new Map<number, number>();
    for (const shards of SHARDS) {
      for (let day = 0; day < DAYS; day++) {
        const date = new Date(DAY0 + day * DAY_MS).toISOString().slice(0, 10);
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
