/**
 * `reconcile --date D` and the pipeline's data-quality checks of one built day, at 10k and 100k users
 * (1M with BENCH_RECONCILE_1M=1), ten user events a user and one heavy user holding 10% of the day
 * (bench/zipf-day.ts), issue 16. Prints seconds and peak RSS per size and the ratio between sizes;
 * not a test.
 *
 *   npm run build && npx tsc -p bench/tsconfig.json && node .cryptolambda/bench/bench/reconcile.js [users,..]
 *
 * Per size: the raw zone is generated, `batch --date D` builds it (2 shards, child processes of the
 * built CLI), and the speed layer's end-of-day state of D is written into Redis under a fresh
 * keyspace *from the batch's own facts* (book, open lots and day aggregate of every user, in the
 * key layout and JSON the stream writes): running `stream` over millions of events would measure
 * the speed layer, not reconcile, and a copy of the facts makes the day clean by construction, so
 * reconcile must compare every field of every user and find nothing. Reconcile and the DQ checks
 * then run each in a child process of their own, so the peak RSS is theirs alone (the generator and
 * the seeding are not in it).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromDuckDecimal } from '../src/adapters/duckdb/db.js';
import { parquetSource, WarehouseReader } from '../src/adapters/lake/warehouse-reader.js';
import { connectRedis } from '../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../src/adapters/redis/speed-keys.js';
import { runBatch } from '../src/app/batch/run-batch.js';
import { warehouseConnection } from '../src/app/pipeline/deps.js';
import { runChecks } from '../src/app/pipeline/dq-runner.js';
import { openServing } from '../src/app/serving/context.js';
import { reconcile } from '../src/app/serving/reconcile.js';
import { type Config, resolveConfig } from '../src/config/config.js';
import { QTY_SCALE, USD_SCALE } from '../src/core/money/decimal.js';
import { userPartition } from '../src/core/partitioning.js';
import { defaultChecks } from '../src/core/pipeline/dq.js';
import { lotToJson, type OpenLot } from '../src/core/portfolio/lots.js';
import { FACT_PORTFOLIO_DAILY, FACT_REWARD_DAILY } from '../src/core/warehouse/schema.js';
import { report } from './report.js';
import { writeZipfDays, zipfDate } from './zipf-day.js';

const EVENTS_PER_USER = 10;
const DATE = zipfDate(0);
const SEED_PAGE = 5000;

const configFor = (lakeDir: string, prefix: string): Config =>
  resolveConfig({ lakeDir }, { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: prefix });

const rssMb = (): number => Math.round(process.resourceUsage().maxRSS / 1024);

/** The speed layer's state of D for every user of the batch's facts of D (see the header). */
const seedSpeed = async (config: Config): Promise<number> => {
  const reader = await WarehouseReader.open(config.lakeDir);
  const redis = await connectRedis(config, { name: 'bench-reconcile-seed' });
  const keys = speedKeys(keyspaceFor(config.topicPrefix));
  try {
    const pos = parquetSource(reader.filesOf(FACT_PORTFOLIO_DAILY.name, [DATE]));
    const rw = parquetSource(reader.filesOf(FACT_REWARD_DAILY.name, [DATE]));
    const users = (
      await reader.duck.rows<{ user_id: string }>(
        `SELECT user_id FROM (SELECT user_id FROM ${rw} UNION SELECT user_id FROM ${pos} WHERE events_day > 0) ORDER BY user_id`,
      )
    ).map((r) => String(r.user_id));
    for (let i = 0; i < users.length; i += SEED_PAGE) {
      const page = users.slice(i, i + SEED_PAGE);
      const slice = { first: page[0]!, last: page.at(-1)! };
      const positions = await reader.duck.rows<Record<string, unknown>>(
        `SELECT * FROM ${pos} WHERE date = $1::DATE AND user_id BETWEEN $2 AND $3`,
        [DATE, slice.first, slice.last],
      );
      const lots: Map<string, OpenLot[]> = (await reader.lotRows(DATE, slice)) ?? new Map();
      const rewards = await reader.rewardRows(DATE, slice);
      // A pipeline is one string in ioredis: flush before a heavy user's books make it too long.
      let p = redis.pipeline();
      let bytes = 0;
      const flushIfLarge = async (added: number): Promise<void> => {
        bytes += added;
        if (bytes < 32 * 1024 * 1024) return;
        await p.exec();
        p = redis.pipeline();
        bytes = 0;
      };
      for (const r of positions) {
        const u = String(r.user_id);
        const asset = String(r.asset);
        const open = lots.get(`${u}|${asset}`) ?? [];
        const json = {
          userId: u,
          asset,
          quantity: fromDuckDecimal(r.quantity_held).rescale(QTY_SCALE).toString(),
          staked: fromDuckDecimal(r.staked).rescale(QTY_SCALE).toString(),
          costBasis: fromDuckDecimal(r.cost_basis).rescale(USD_SCALE).toString(),
          realizedPnl: fromDuckDecimal(r.realized_pnl).rescale(USD_SCALE).toString(),
          feesPaid: fromDuckDecimal(r.fees_paid).rescale(USD_SCALE).toString(),
          rewardIncome: fromDuckDecimal(r.reward_income).rescale(USD_SCALE).toString(),
          eventCount: Number(r.event_count),
          lastEventTime: Number(r.last_event_time_ms),
          lastEventId: String(r.last_event_id),
          lots: {
            method: config.costBasis,
            nextSeq: open.reduce((m, l) => Math.max(m, l.seq + 1), 0),
            lots: open.map(lotToJson),
          },
        };
        const value = JSON.stringify(json);
        p.hset(keys.endOfDay(u, DATE), asset, value);
        await flushIfLarge(value.length);
      }
      for (const r of rewards) {
        const usd = (d: typeof r.spend) => d.rescale(USD_SCALE).toString();
        p.set(
          keys.dayRewards(r.userId, DATE),
          JSON.stringify({
            spend: usd(r.spend),
            cashbackOwed: usd(r.cashbackOwed),
            cashbackCapped: usd(r.cashbackCapped),
            cashbackPaid: usd(r.cashbackPaid),
            stakingIncome: usd(r.stakingIncome),
            realizedPnl: usd(r.realizedPnl),
            tier: r.tier,
            spend30d: usd(r.spend30d),
            events: r.events,
            rejected: r.rejected,
          }),
        );
      }
      for (const u of page) p.sadd(keys.dayUsers(DATE, userPartition(u)), u);
      await p.exec();
    }
    return users.length;
  } finally {
    redis.disconnect();
    reader.close();
  }
};

const dropKeyspace = async (config: Config): Promise<void> => {
  const redis = await connectRedis(config, { name: 'bench-reconcile-clean' });
  try {
    const match = `${keyspaceFor(config.topicPrefix)}*`;
    let cursor = '0';
    do {
      const [next, found] = await (redis as import('ioredis').Redis).scan(cursor, 'MATCH', match, 'COUNT', 5000);
      cursor = next;
      if (found.length > 0) await redis.unlink(...found);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
};

interface ChildResult {
  seconds: number;
  /** User + system CPU of the child: the figure least disturbed by other load on a shared machine. */
  cpuSeconds: number;
  rssMb: number;
  detail: Record<string, unknown>;
}

/** Run in a child process: one reconcile or one DQ run, measured alone. */
const child = async (what: string, lakeDir: string, prefix: string): Promise<void> => {
  const config = configFor(lakeDir, prefix);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let detail: Record<string, unknown>;
  if (what === 'reconcile') {
    const ctx = await openServing(config);
    try {
      const pageUsers = process.env.BENCH_RECONCILE_PAGE ? Number(process.env.BENCH_RECONCILE_PAGE) : undefined;
      const r = await reconcile(ctx, DATE, pageUsers === undefined ? {} : { pageUsers });
      detail = { ...r.summary, rowsWritten: r.rowsWritten, findings: r.findings.length, omitted: r.findingsOmitted };
    } finally {
      ctx.close();
    }
  } else {
    const duck = await warehouseConnection(config);
    try {
      const r = await runChecks(duck, defaultChecks(), DATE);
      detail = {
        passed: r.passed,
        checks: r.results.length,
        failed: r.results.filter((x) => !x.passed).map((x) => `${x.id}${x.error ? `: ${x.error}` : ''}`),
      };
    } finally {
      duck.close();
    }
  }
  const cpu = process.cpuUsage(cpu0);
  const out: ChildResult = {
    seconds: (performance.now() - t0) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    rssMb: rssMb(),
    detail,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
};

const runChild = (what: string, lakeDir: string, prefix: string): ChildResult => {
  const r = spawnSync(
    process.execPath,
    [
      ...(process.env.BENCH_CHILD_ARGS ?? '').split(' ').filter(Boolean),
      fileURLToPath(import.meta.url),
      '--child',
      what,
      lakeDir,
      prefix,
    ],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (r.status !== 0) throw new Error(`${what} child exited ${r.status ?? r.signal}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ChildResult;
};

const main = async (): Promise<void> => {
  const sizes = process.argv[2]
    ? process.argv[2].split(',').map(Number)
    : [10_000, 100_000, ...(process.env.BENCH_RECONCILE_1M === '1' ? [1_000_000] : [])];
  console.log(
    `node ${process.version}, reconcile + DQ of one built day: ${sizes.map((n) => n.toLocaleString('en-US')).join(', ')} users, ${EVENTS_PER_USER} events a user, one heavy user with 10%`,
  );
  const measured: { users: number; reconcile: ChildResult; dq: ChildResult }[] = [];
  for (const users of sizes) {
    const lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-bench-recon-'));
    const prefix = `bench-recon-${process.pid}-${users}.`;
    const config = configFor(lakeDir, prefix);
    try {
      const raw = await writeZipfDays(lakeDir, { users, txs: users * EVENTS_PER_USER, days: 1 });
      const b = await runBatch(config, { date: DATE, shards: 2 });
      const seeded = await seedSpeed(config);
      console.log(
        `${users.toLocaleString('en-US')} users: raw ${raw.rawMb.toFixed(1)} MB in ${raw.seconds.toFixed(1)} s, ` +
          `batch ${b.seconds.toFixed(1)} s (${b.users.toLocaleString('en-US')} users, ${b.events.toLocaleString('en-US')} events), ` +
          `speed state of ${seeded.toLocaleString('en-US')} users seeded`,
      );
      const rec = runChild('reconcile', lakeDir, prefix);
      const dq = runChild('dq', lakeDir, prefix);
      console.log(
        `  reconcile ${rec.seconds.toFixed(1)} s (cpu ${rec.cpuSeconds.toFixed(1)} s), peak rss ${rec.rssMb} MB: ${JSON.stringify(rec.detail)}\n` +
          `  dq        ${dq.seconds.toFixed(1)} s (cpu ${dq.cpuSeconds.toFixed(1)} s), peak rss ${dq.rssMb} MB: ${JSON.stringify(dq.detail)}`,
      );
      if (rec.detail.clean !== true) throw new Error(`reconcile of a day seeded from its own facts is not clean`);
      const note = `${Number(rec.detail.users).toLocaleString('en-US')} users of the day, ${b.events.toLocaleString('en-US')} events`;
      report('reconcile', `seconds, ${users} users`, rec.seconds, 's', note);
      report('reconcile', `cpu seconds, ${users} users`, rec.cpuSeconds, 's', 'user + system');
      report('reconcile', `peak rss MB, ${users} users`, rec.rssMb, 'MB', `${rec.detail.rowsWritten} rows written`);
      report('reconcile', `dq seconds, ${users} users`, dq.seconds, 's', `${dq.detail.checks} checks`);
      report('reconcile', `dq peak rss MB, ${users} users`, dq.rssMb, 'MB', '');
      measured.push({ users, reconcile: rec, dq });
    } finally {
      // BENCH_KEEP=1 leaves the day for running the children by hand (--child reconcile <lake> <prefix>).
      if (process.env.BENCH_KEEP === '1') console.log(`  kept: --child reconcile ${lakeDir} ${prefix}`);
      else {
        await dropKeyspace(config);
        rmSync(lakeDir, { recursive: true, force: true });
      }
    }
  }
  for (let i = 1; i < measured.length; i++) {
    const a = measured[i - 1]!;
    const b = measured[i]!;
    const x = `${b.users / a.users}x users`;
    const line = (what: string, ra: ChildResult, rb: ChildResult) => {
      const t = rb.seconds / ra.seconds;
      const c = rb.cpuSeconds / ra.cpuSeconds;
      const m = rb.rssMb / ra.rssMb;
      console.log(
        `${what} ${b.users} vs ${a.users} users (${x}): time ${t.toFixed(2)}x, cpu ${c.toFixed(2)}x, peak rss ${m.toFixed(2)}x`,
      );
      report('reconcile', `${what} cpu ratio ${b.users}/${a.users}`, c, 'x', x);
      report('reconcile', `${what} time ratio ${b.users}/${a.users}`, t, 'x', x);
      report('reconcile', `${what} rss ratio ${b.users}/${a.users}`, m, 'x', x);
    };
    line('reconcile', a.reconcile, b.reconcile);
    line('dq', a.dq, b.dq);
  }
};

if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4]!, process.argv[5]!);
else await main();
