/**
 * `batch` seconds and peak memory for a day of 100k users and 1M user events, built with 1, 2 and 4
 * shards, and the same day built the many-machines way: N `batch --date D --shard i/N` processes
 * started together (as an Indexed Job or Airflow would) plus one `batch publish`, checked equal to
 * the one-shard build table by table (issue 16). Prints figures and a table; not a test.
 *
 *   npm run build && npx tsc -p bench/tsconfig.json && node .cryptolambda/bench/bench/batch.js [users] [events] [days] [shards,..]
 *
 * The days come from bench/zipf-day.ts: Zipf-like activity plus one heavy user holding 10% of each
 * day, in the partitions the producer would pick and one raw file per partition (as ingest writes).
 * Sharded builds run as child processes of the built CLI (`npm run build` first): their peak RSS is
 * reported by each shard.
 *
 * The events are written straight into a throw-away raw zone (the same Parquet writer and manifest
 * `ingest` uses) instead of going through Kafka: producing and ingesting 1M Avro records would
 * measure the producer and ingest (bench/ingest.ts does that), not the batch. Day 1 is built from
 * history (nothing before it), each later day from the previous day's snapshot, so a later day's
 * figure includes carrying every user's state forward. The table reports the last day.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duck, literal } from '../src/adapters/duckdb/db.js';
import { readLedger } from '../src/adapters/lake/warehouse-store.js';
import { runBatch, SHARD_NODE_FLAGS } from '../src/app/batch/run-batch.js';
import { resolveConfig } from '../src/config/config.js';
import { report } from './report.js';
import { writeZipfDays, zipfDate } from './zipf-day.js';

const USERS = Number(process.argv[2] ?? 100_000);
const TXS = Number(process.argv[3] ?? 1_000_000);
const DAYS = Number(process.argv[4] ?? 2);
const SHARDS = (process.argv[5] ?? '1,2,4').split(',').map(Number);

const here = path.dirname(fileURLToPath(import.meta.url));
/** bin/run.js of the checkout (this file runs from .cryptolambda/bench/bench/ or bench/). */
const cli = (): string => {
  for (let dir = here; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const bin = path.join(dir, 'bin', 'run.js');
    if (existsSync(bin)) return bin;
  }
  throw new Error('bin/run.js not found');
};

/** One CLI process; resolves with its stdout, rejects with its last stderr line. */
const runCli = (args: string[], lakeDir: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli(), ...args], {
      // As deploy/ runs a shard (NODE_OPTIONS carries the shard's V8 flags, see run-batch.ts).
      env: {
        ...process.env,
        CRYPTOLAMBDA_LAKE_DIR: lakeDir,
        CRYPTOLAMBDA_TOPIC_PREFIX: '',
        NO_COLOR: '1',
        NODE_OPTIONS: SHARD_NODE_FLAGS.join(' '),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('utf8');
    });
    child.stderr.on('data', (b: Buffer) => {
      err = (err + b.toString('utf8')).slice(-4000);
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')}: exit ${code}: ${err.trim().split('\n').pop()}`)),
    );
  });

/**
 * Every table of the date's build as (rows, sum of row hashes): order-independent, so shards that
 * write their users in other files compare equal exactly when the row multisets are equal.
 */
const digest = async (lakeDir: string, date: string): Promise<Record<string, string>> => {
  const build = (await readLedger(lakeDir)).builds[date]!;
  const byTable = new Map<string, string[]>();
  for (const f of build.files) byTable.set(f.table, [...(byTable.get(f.table) ?? []), path.join(lakeDir, f.path)]);
  const duck = await Duck.open(':memory:', { threads: 2 });
  try {
    const out: Record<string, string> = {};
    for (const [table, files] of [...byTable].sort()) {
      const [r] = await duck.rows<{ n: bigint; h: bigint }>(
        `SELECT count(*) AS n, sum(hash(x)::HUGEINT) AS h FROM read_parquet([${files.map(literal).join(', ')}]) x`,
      );
      out[table] = `${r!.n}:${r!.h}`;
    }
    return out;
  } finally {
    duck.close();
  }
};

const diff = (a: Record<string, string>, b: Record<string, string>): string[] =>
  [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((t) => a[t] !== b[t]);

interface Row {
  shards: number;
  how: string;
  seconds: number;
  /** CPU seconds of all shards (JavaScript and DuckDB threads), not counting publish. */
  cpu: number;
  peakMb: number;
  equal: string;
}

const main = async (): Promise<void> => {
  const lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-bench-batch-'));
  const config = resolveConfig({ lakeDir }, { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: '' });
  console.log(
    `node ${process.version}, ${os.availableParallelism()} cores, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ' ',
      )}; ${USERS.toLocaleString('en-US')} users, ${TXS.toLocaleString('en-US')} user events per day, ${DAYS} days`,
  );
  const rows: Row[] = [];
  try {
    const raw = await writeZipfDays(lakeDir, { users: USERS, txs: TXS, days: DAYS });
    console.log(`generated raw zone: ${raw.files} files, ${raw.rawMb.toFixed(1)} MB in ${raw.seconds.toFixed(1)} s`);
    const last = zipfDate(DAYS - 1);
    let baseline: Record<string, string> | undefined;
    const seconds = new Map<number, number>();
    let cpu = 0;
    for (const shards of SHARDS) {
      // `batch --date D --shards N`: one command, shards as its child processes, one publish.
      let peak = 0;
      for (let day = 0; day < DAYS; day++) {
        const date = zipfDate(day);
        const r = await runBatch(config, { date, shards });
        const stats = (await readLedger(lakeDir)).builds[date]!.stats;
        const rss = Math.round(process.resourceUsage().maxRSS / 1024);
        // The shards' own peak (one shard runs in this process, whose peak includes the generator).
        peak = shards === 1 ? rss : (stats.shardPeakRssMb ?? 0);
        const how = r.fromHistory ? 'from history' : 'from snapshot';
        cpu = Number(stats.shardCpuSeconds ?? 0);
        if (day === DAYS - 1) seconds.set(shards, r.seconds);
        report('batch', `seconds, ${shards} shard(s), ${how}`, r.seconds, 's', `${r.users} users, ${r.events} events`);
        report('batch', `shard CPU seconds, ${shards} shard(s), ${how}`, cpu, 's', 'all shards, JS + DuckDB threads');
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
            `(${Math.round(r.events / r.seconds).toLocaleString('en-US')} events/s; ${cpu.toFixed(1)} CPU-s, ` +
            `${Math.round(r.events / Math.max(cpu, 0.01)).toLocaleString('en-US')} events per CPU-s), ${r.rejects.toLocaleString('en-US')} rejects, ` +
            `portfolio rows ${r.rows.fact_portfolio_daily?.toLocaleString('en-US')}, peak rss ${peak} MB ` +
            `(this process ${rss}, largest shard ${stats.shardPeakRssMb ?? 0}); phases ${JSON.stringify(r.phases)}`,
        );
      }
      const d = await digest(lakeDir, last);
      baseline ??= d;
      const eq = diff(baseline, d);
      rows.push({
        shards,
        how: '--shards N',
        seconds: seconds.get(shards)!,
        cpu,
        peakMb: peak,
        equal: shards === SHARDS[0] ? 'baseline' : eq.length === 0 ? 'equal' : `DIFFERS: ${eq.join(', ')}`,
      });
      if (shards === 1) continue;
      // The many-machines contract: N shard processes at once, then publish (last day only; the
      // earlier days stay as built above, so it starts from the same snapshot).
      const t0 = performance.now();
      const builds = await Promise.all(
        [...Array(shards).keys()].map((i) =>
          runCli(['batch', '--date', last, '--shard', `${i}/${shards}`, '--json'], lakeDir),
        ),
      );
      const tShards = (performance.now() - t0) / 1000;
      await runCli(['batch', 'publish', '--date', last, '--json'], lakeDir);
      const s = (performance.now() - t0) / 1000;
      const shardOut = builds.map(
        (b) => (JSON.parse(b) as { shard: { peakRssMb: number; cpuSeconds?: number } }).shard,
      );
      const shardPeak = Math.max(...shardOut.map((x) => x.peakRssMb));
      const shardCpu = shardOut.reduce((a, x) => a + (x.cpuSeconds ?? 0), 0);
      const eq2 = diff(baseline, await digest(lakeDir, last));
      report('batch', `seconds, ${shards} shard processes + publish`, s, 's', `shards ${tShards.toFixed(1)} s`);
      console.log(
        `batch ${last} ${shards} shard processes + publish: ${s.toFixed(1)} s (shards ${tShards.toFixed(1)} s)`,
      );
      rows.push({
        shards,
        how: 'N x --shard i/N + publish',
        seconds: s,
        cpu: shardCpu,
        peakMb: shardPeak,
        equal: eq2.length === 0 ? 'equal' : `DIFFERS: ${eq2.join(', ')}`,
      });
    }
    const one = seconds.get(SHARDS[0]!);
    for (const [n, s] of seconds)
      if (one !== undefined && n !== SHARDS[0]) {
        console.log(`speed-up ${n} shards vs ${SHARDS[0]}: ${(one / s).toFixed(2)}x`);
        report('batch', `speed-up ${n} vs ${SHARDS[0]} shard(s)`, one / s, 'x', `${os.cpus().length} cores`);
      }
    console.log(`\n${last}, ${USERS.toLocaleString('en-US')} users, ${TXS.toLocaleString('en-US')} events:`);
    console.log(
      `${'shards'.padStart(6)}  ${'how'.padEnd(26)} ${'seconds'.padStart(8)} ${'vs 1'.padStart(6)} ${'CPU-s'.padStart(7)} ${'peak MB'.padStart(8)}  output`,
    );
    for (const r of rows)
      console.log(
        `${String(r.shards).padStart(6)}  ${r.how.padEnd(26)} ${r.seconds.toFixed(1).padStart(8)} ${one === undefined ? '' : `${(one / r.seconds).toFixed(2)}x`.padStart(6)} ${r.cpu.toFixed(1).padStart(7)} ${String(r.peakMb).padStart(8)}  ${r.equal}`,
      );
    console.log(
      `load average after: ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    if (rows.some((r) => r.equal.startsWith('DIFFERS'))) process.exitCode = 1;
  } finally {
    rmSync(lakeDir, { recursive: true, force: true });
  }
};

await main();
