import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Duck, literal } from '../../../src/adapters/duckdb/db.js';
import { connectRedis } from '../../../src/adapters/redis/client.js';
import { runIngestRaw } from '../../../src/app/batch/ingest-raw.js';
import { runBatch } from '../../../src/app/batch/run-batch.js';
import { getTop } from '../../../src/app/serving/analytics.js';
import { openServing } from '../../../src/app/serving/context.js';
import { getOhlcv } from '../../../src/app/serving/ohlcv.js';
import { getPortfolio } from '../../../src/app/serving/portfolio.js';
import { reconcile } from '../../../src/app/serving/reconcile.js';
import { getRewards } from '../../../src/app/serving/rewards.js';
import type { Config } from '../../../src/config/config.js';
import type { DomainEvent, PriceEvent } from '../../../src/core/events/types.js';
import { buildCandles } from '../../../src/core/ohlcv/candle.js';
import { portfolioToJson } from '../../../src/core/serving/views.js';
import { candleToJson } from '../../../src/core/speed/price-windows.js';
import { reward, trade, tx } from '../../core/build.js';
import { runCli } from '../../support/cli.js';
import { makeDataset, produceDataset } from '../../support/events.js';
import { testConfig } from '../../support/int.js';
import { GOLDEN_D, GOLDEN_D1, GOLDEN_EXPECTED, goldenEvents } from '../../support/serving-golden.js';
import { servingSetup, streamToIdle } from '../../support/serving-stack.js';
import { produceEvents } from '../batch/support.js';

const setup = (): Promise<Config> => servingSetup();

const cliEnv = (config: Config) => ({
  CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix,
  CRYPTOLAMBDA_LAKE_DIR: config.lakeDir,
});

const at = (iso: string): number => Date.parse(iso);
const btc = (iso: string, price: string, id: string): PriceEvent =>
  trade({ eventId: `synthetic:BTCUSDT:${id}`, symbol: 'BTCUSDT', price, quantity: '0.1', eventTime: at(iso) });
const eth = (iso: string, price: string, id: string): PriceEvent =>
  trade({ eventId: `synthetic:ETHUSDT:${id}`, symbol: 'ETHUSDT', price, quantity: '0.1', eventTime: at(iso) });

/** Trades around the cutoff (D closes: BTC 41000, ETH 2100; latest on D+1: BTC 50000, ETH 2500). */
const PRICES: PriceEvent[] = [
  btc(`${GOLDEN_D}T09:00:00Z`, '40500', 'b1'),
  btc(`${GOLDEN_D}T20:00:00Z`, '40800', 'b2'),
  btc(`${GOLDEN_D}T23:58:10Z`, '40900', 'b3'),
  btc(`${GOLDEN_D}T23:59:20Z`, '41000', 'b4'),
  btc(`${GOLDEN_D1}T00:00:30Z`, '42000', 'b5'),
  btc(`${GOLDEN_D1}T00:01:40Z`, '43000', 'b6'),
  btc(`${GOLDEN_D1}T13:00:00Z`, '50000', 'b7'),
  eth(`${GOLDEN_D}T09:00:00Z`, '2050', 'e1'),
  eth(`${GOLDEN_D}T20:00:00Z`, '2100', 'e2'),
  eth(`${GOLDEN_D1}T13:00:00Z`, '2500', 'e3'),
];

describe('serving on the real stack: batch + speed layer merged', () => {
  it('batch covering D and the speed layer covering D+1 give the golden merged portfolio; rewards, ohlcv and top agree', async () => {
    const config = await setup();
    const g = goldenEvents('alice');
    const bob = tx('buy', {
      eventId: 'bob-1',
      userId: 'bob',
      asset: 'ETH',
      quantity: '1',
      price: '2200',
      eventTime: at(`${GOLDEN_D}T14:00:00Z`),
    });
    const carol = tx('buy', {
      eventId: 'carol-1',
      userId: 'carol',
      asset: 'BTC',
      quantity: '1',
      price: '48000',
      eventTime: at(`${GOLDEN_D1}T14:00:00Z`),
    });
    const events: DomainEvent[] = [...PRICES, ...g.dayD, ...g.dayD1, bob, carol];
    await produceEvents(config, events);
    // The speed layer sees everything; the batch builds D only: D+1 reaches serving only through Redis.
    await streamToIdle(config);
    await runIngestRaw(config);
    await runBatch(config, { date: GOLDEN_D });

    const ctx = await openServing(config);
    try {
      const alice = portfolioToJson(await getPortfolio(ctx, 'alice'));
      expect(alice.mode).toBe('merged');
      expect(alice.tier).toBe(GOLDEN_EXPECTED.tier);
      expect(alice.spend30d).toBe(GOLDEN_EXPECTED.spend30d);
      expect(alice.totals).toEqual(GOLDEN_EXPECTED.totals);
      expect(
        alice.positions.map(({ price: _p, priceTime: _t, lastEventTime: _l, priceSource, ...rest }) => ({
          ...rest,
          priceSource,
        })),
      ).toEqual(GOLDEN_EXPECTED.positions.map((p) => ({ ...p, priceSource: 'live' })));
      expect(alice.freshness).toMatchObject({ batchAsOf: GOLDEN_D, speedDays: [GOLDEN_D1], speedEvents: 4 });
      expect(alice.freshness.usersWatermark).toBeGreaterThanOrEqual(at(`${GOLDEN_D1}T14:00:00Z`));
      expect(alice.freshness.oldestPriceTime).toBe(at(`${GOLDEN_D1}T13:00:00Z`));

      const b = portfolioToJson(await getPortfolio(ctx, 'bob'));
      expect([b.mode, b.totals.marketValue, b.totals.unrealizedPnl, b.warnings]).toEqual([
        'batch-only',
        '2500.000000000000',
        '300.000000000000',
        [],
      ]);
      const c = portfolioToJson(await getPortfolio(ctx, 'carol'));
      expect([c.mode, c.totals.marketValue, c.totals.unrealizedPnl, c.warnings]).toEqual([
        'speed-only',
        '50000.000000000000',
        '2000.000000000000',
        [`the batch (as of ${GOLDEN_D}) has no state for carol`],
      ]);

      const rw = await getRewards(ctx, 'alice', { from: GOLDEN_D, to: GOLDEN_D1 });
      expect(
        rw.days.map((d) => [
          d.date,
          d.source,
          d.spend,
          d.cashbackOwed,
          d.cashbackPaid,
          d.stakingIncome,
          d.tier,
          d.spend30d,
          d.events,
        ]),
      ).toEqual([
        [
          GOLDEN_D,
          'batch',
          '500.000000000000',
          '2.500000000000',
          '2.100000000000',
          '0.000000000000',
          'Bronze',
          '500.000000000000',
          4,
        ],
        [
          GOLDEN_D1,
          'speed',
          '600.000000000000',
          '6.000000000000',
          '0.000000000000',
          '22.000000000000',
          'Silver',
          '1100.000000000000',
          4,
        ],
      ]);
      expect(rw.totals).toEqual({
        spend: '1100.000000000000',
        cashbackOwed: '8.500000000000',
        cashbackCapped: '0.000000000000',
        cashbackPaid: '2.100000000000',
        stakingIncome: '22.000000000000',
      });

      // 1m candles across the cutoff: D's minutes from the lake, D+1's from Redis, none twice.
      const o = await getOhlcv(ctx, 'btcusdt', '1m', at(`${GOLDEN_D}T23:57:00Z`), at(`${GOLDEN_D1}T00:03:00Z`));
      expect(o.boundary).toBe(at(`${GOLDEN_D1}T00:00:00Z`));
      const want = buildCandles(
        PRICES.filter((p) => p.symbol === 'BTCUSDT' && p.eventTime >= o.from && p.eventTime < o.to),
        60_000,
      ).map((k) => {
        const { final: _f, openKey: _o, closeKey: _c, symbol: _s, ...j } = candleToJson(k, true);
        return j;
      });
      expect(o.candles.map(({ final: _f, source: _s, ...k }) => k)).toEqual(want);
      expect(o.candles.map((k) => k.source)).toEqual(['batch', 'batch', 'speed', 'speed']);

      const top = await getTop(ctx, { by: 'pnl', date: GOLDEN_D });
      expect(top.users.map((u) => [u.rank, u.userId, u.value])).toEqual([
        [1, 'alice', '2971.100000000000'],
        [2, 'bob', '-100.000000000000'],
      ]);
      // D reconciles clean although the speed layer went on to apply D+1 (its book of D is the one
      // after each user's last event of D, not the latest).
      const rec = await reconcile(ctx, GOLDEN_D);
      expect(rec.summary).toMatchObject({
        users: 2,
        fieldsMismatched: 0,
        missingInBatch: 0,
        missingInSpeed: 0,
        clean: true,
      });
      const spend = await getTop(ctx, { by: 'spend', limit: 1 });
      expect(spend.users.map((u) => [u.userId, u.value, u.detail.cashbackOwed])).toEqual([
        ['alice', '500.000000000000', '2.500000000000'],
      ]);
    } finally {
      ctx.close();
    }

    // The same through the real CLI: --json is the typed result, the table is plain without a TTY.
    const json = await runCli(['portfolio', 'alice', '--json'], cliEnv(config));
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).totals).toEqual(GOLDEN_EXPECTED.totals);
    const human = await runCli(['portfolio', 'alice'], cliEnv(config));
    expect(human.code).toBe(0);
    expect(human.stdout.includes(String.fromCharCode(27))).toBe(false);
    // 80 columns, numbers right-aligned at display precision (--json above keeps the exact strings).
    // alloc 75,000 / 100,002.5 = 75.00 %, P&L % 14,992.5 / 60,007.5 = 24.98 %; realized moves to the header.
    expect(human.stdout).toContain('BTC     1.50000000  50,000.00  live   75,000.00  75.00%       14,992.50  24.98%');
    expect(human.stdout).toContain('realized P&L 2,492.50');
    for (const l of human.stdout.split('\n')) expect(l.length, l).toBeLessThanOrEqual(80);
    expect(human.stdout).toContain('source: batch + speed layer');
    const missing = await runCli(['portfolio', 'dave'], cliEnv(config));
    expect([missing.code, missing.stderr.split('\n')[0]]).toEqual([5, 'Error: no data for user dave']);
  }, 120_000);

  it('without any batch build the speed layer alone serves portfolio, rewards and ohlcv, and says so', async () => {
    const config = await setup();
    const g = goldenEvents('erin');
    await produceEvents(config, [...PRICES, ...g.dayD, ...g.dayD1]);
    await streamToIdle(config);
    const ctx = await openServing(config);
    try {
      const p = portfolioToJson(await getPortfolio(ctx, 'erin'));
      expect([p.mode, p.warnings, p.freshness.batchAsOf]).toEqual([
        'speed-only',
        ['no batch build exists: the speed layer is the only source'],
        null,
      ]);
      expect(p.totals).toEqual(GOLDEN_EXPECTED.totals);
      expect(p.tier).toBe('Silver');
      const r = await getRewards(ctx, 'erin', { days: 2 });
      expect(r.days.map((d) => [d.date, d.source, d.cashbackOwed, d.tier])).toEqual([
        [GOLDEN_D, 'speed', '2.500000000000', 'Bronze'],
        [GOLDEN_D1, 'speed', '6.000000000000', 'Silver'],
      ]);
      const o = await getOhlcv(ctx, 'ETHUSDT', '5m', at(`${GOLDEN_D}T00:00:00Z`), at(`${GOLDEN_D1}T23:55:00Z`));
      expect([o.boundary, o.batchAsOf]).toEqual([at(`${GOLDEN_D}T09:00:00Z`), null]);
      expect(o.candles.map((k) => [k.start, k.close, k.source])).toEqual([
        [at(`${GOLDEN_D}T09:00:00Z`), '2050.000000000000', 'speed'],
        [at(`${GOLDEN_D}T20:00:00Z`), '2100.000000000000', 'speed'],
        [at(`${GOLDEN_D1}T13:00:00Z`), '2500.000000000000', 'speed'],
      ]);
    } finally {
      ctx.close();
    }
  }, 120_000);

  it('reconcile: zero mismatches on a clean simulated day; an event withheld from the speed layer shows with its exact difference', async () => {
    const config = await setup();
    const D = '2026-11-24';
    const data = makeDataset({ seed: 5, start: Date.UTC(2026, 10, 24, 10, 0), minutes: 20, users: 15 });
    const zedBuy = tx('buy', {
      eventId: 'zed-1',
      userId: 'zed',
      asset: 'BTC',
      quantity: '1',
      price: '43000',
      eventTime: at(`${D}T10:05:00Z`),
    });
    const withheld = reward({
      eventId: 'zed-2',
      userId: 'zed',
      rewardType: 'cashback',
      asset: 'BTC',
      quantity: '0.001',
      price: '43000',
      eventTime: at(`${D}T10:15:00Z`),
    });
    await produceDataset(config, data);
    await produceEvents(config, [zedBuy]);
    await streamToIdle(config);
    await runIngestRaw(config);
    await runBatch(config, { date: D });

    const clean = await runCli(['reconcile', '--date', D, '--json'], cliEnv(config));
    expect(clean.stderr).toBe('');
    expect(clean.code).toBe(0);
    const report = JSON.parse(clean.stdout);
    expect(report.summary).toMatchObject({ fieldsMismatched: 0, missingInBatch: 0, missingInSpeed: 0, clean: true });
    expect(report.summary.users).toBe(new Set([...data.transactions, ...data.rewards].map((e) => e.userId)).size + 1);
    expect(report.findings).toEqual([]);
    // Every compared field is in fact_reconciliation for the date.
    const duck = await Duck.open();
    try {
      const [row] = await duck.rows<{ n: bigint; matched: bigint }>(
        `SELECT count(*) AS n, count(*) FILTER (WHERE status = 'match') AS matched FROM read_parquet(${literal(report.file)})`,
      );
      expect(Number(row!.n)).toBe(report.summary.fieldsMatched);
      expect(Number(row!.matched)).toBe(report.summary.fieldsMatched);
    } finally {
      duck.close();
    }

    // The cashback reaches Kafka only after the stream ran: the batch sees it, the speed layer does not.
    await produceEvents(config, [withheld]);
    await runIngestRaw(config);
    await runBatch(config, { date: D });
    const dirty = await runCli(['reconcile', '--date', D, '--json'], cliEnv(config));
    expect(dirty.code).toBe(8);
    const r2 = JSON.parse(dirty.stdout);
    // 5 position/reward fields + the lots the withheld reward opened (count, quantity, digest).
    expect(r2.summary).toMatchObject({ fieldsMismatched: 8, missingInBatch: 0, missingInSpeed: 0, clean: false });
    const digest = r2.findings.find((f: { field: string }) => f.field === 'lots_digest');
    expect(digest).toMatchObject({ subject: 'BTC', status: 'mismatch', difference: null });
    expect(r2.findings.filter((f: { field: string }) => f.field !== 'lots_digest')).toEqual(
      [
        ['rewards', 'cashback_paid', '43.000000000000', '0.000000000000', '-43.000000000000'],
        ['rewards', 'events', '2', '1', '-1'],
        ['BTC', 'quantity_held', '1.001000000000000000', '1.000000000000000000', '-0.001000000000000000'],
        ['BTC', 'reward_income', '43.000000000000', '0.000000000000', '-43.000000000000'],
        ['BTC', 'event_count', '2', '1', '-1'],
        ['BTC', 'open_lots', '2', '1', '-1'],
        ['BTC', 'lots_quantity', '1.001000000000000000', '1.000000000000000000', '-0.001000000000000000'],
      ].map(([subject, field, batchValue, speedValue, difference]) => ({
        date: D,
        userId: 'zed',
        subject,
        field,
        status: 'mismatch',
        batchValue,
        speedValue,
        difference,
      })),
    );

    // The app function agrees and the human report names the finding.
    const ctx = await openServing(config);
    try {
      const again = await reconcile(ctx, D);
      expect(again.findings).toEqual(r2.findings);
      expect(again.warnings).toEqual([]);
      expect(again.findingsOmitted).toBe(0);
      // Streamed in pages (memory of a page, not of the day): the same report and the same file,
      // whatever the page size; past maxFindings the findings are counted, and all are in the file.
      const fileRows = async (file: string) => {
        const duck = await Duck.open();
        try {
          return await duck.rows(`SELECT * FROM read_parquet(${literal(file)})`);
        } finally {
          duck.close();
        }
      };
      const whole = await fileRows(again.file);
      expect(whole).toHaveLength(again.rowsWritten);
      for (const pageUsers of [1, 2, 7]) {
        const paged = await reconcile(ctx, D, { pageUsers });
        expect(paged.summary).toEqual(again.summary);
        expect(paged.findings).toEqual(again.findings);
        expect(await fileRows(paged.file)).toEqual(whole);
      }
      const capped = await reconcile(ctx, D, { pageUsers: 3, maxFindings: 3 });
      expect(capped.summary).toEqual(again.summary);
      expect(capped.findings).toEqual(again.findings.slice(0, 3));
      expect(capped.findingsOmitted).toBe(again.findings.length - 3);
      expect(capped.warnings).toEqual([
        `${again.findings.length - 3} more findings are only in ${capped.file} (the report keeps the first 3)`,
      ]);
      expect(await fileRows(capped.file)).toEqual(whole);
      // The staging database and temporary files are gone.
      expect((await readdir(path.dirname(capped.file))).sort()).toEqual(['reconciliation.parquet', 'report.json']);
    } finally {
      ctx.close();
    }
    // Against an empty speed keyspace (expired day keys, or the stream never ran) every user is
    // missing in speed, and the report says why.
    const empty = await openServing({ ...config, topicPrefix: `${config.topicPrefix}none.` });
    try {
      const r = await reconcile(empty, D);
      expect(r.summary).toMatchObject({
        fieldsMatched: 0,
        missingInBatch: 0,
        missingInSpeed: r.summary.subjects,
        clean: false,
      });
      expect(r.warnings).toEqual([
        `the speed layer has no data for ${D} (its per-day keys live about 8 days, or the stream did not run): every batch user is missing in speed`,
      ]);
    } finally {
      empty.close();
    }
    const human = await runCli(['reconcile', '--date', D], cliEnv(config));
    expect(human.code).toBe(8);
    const lines = human.stdout.split('\n');
    expect(lines.slice(0, 14)).toEqual([
      `reconcile ${D}: ${r2.summary.users} users, ${r2.summary.subjects} subjects, ${r2.summary.fieldsMatched} fields matched, 8 mismatched,`,
      '0 missing in batch, 0 missing in speed — NOT clean',
      'user  subject  field          status               batch  speed - batch',
      '────  ───────  ─────────────  ────────  ────────────────  ─────────────',
      'zed   rewards  cashback_paid  mismatch                43            -43',
      'zed   rewards  events         mismatch                 2             -1',
      'zed   BTC      quantity_held  mismatch             1.001         -0.001',
      'zed   BTC      reward_income  mismatch                43            -43',
      'zed   BTC      event_count    mismatch                 2             -1',
      'zed   BTC      open_lots      mismatch                 2             -1',
      'zed   BTC      lots_quantity  mismatch             1.001         -0.001',
      'zed   BTC      lots_digest    mismatch  d35f32c7964932ee              -',
      '(speed hidden to fit 80 columns; --wide shows all)',
      `wrote ${r2.summary.fieldsMatched + 8} rows to`,
    ]);
    expect(lines[14]).toMatch(new RegExp(`/warehouse/fact_reconciliation/dt=${D}/reconciliation\\.parquet$`));
    expect(human.stdout).toContain(`next: rebuild the date (\`cryptolambda pipeline run --date ${D} --force`);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(80);
  }, 180_000);

  it('rejects injection attempts in <user>, <symbol> and --date through the real CLI, before touching Redis', async () => {
    const env = { CRYPTOLAMBDA_TOPIC_PREFIX: 'tinject.' };
    const cases: [string[], string][] = [];
    for (const bad of ['a:b', '*', "x' OR 1=1 --", 'a\nb']) cases.push([['portfolio', bad], 'invalid user id']);
    for (const bad of ['BTC:USDT', '*', "x' OR 1=1 --", 'BTC\nUSDT']) cases.push([['ohlcv', bad], 'invalid symbol']);
    cases.push([['reconcile', '--date', "2026-11-20' OR 1=1 --"], 'invalid --date']);
    // A few at a time: each is a Node process on a small machine.
    const results: Awaited<ReturnType<typeof runCli>>[] = [];
    for (let i = 0; i < cases.length; i += 5) {
      results.push(...(await Promise.all(cases.slice(i, i + 5).map(([args]) => runCli(args, env)))));
    }
    results.forEach((r, i) => {
      const [args, msg] = cases[i]!;
      expect({ args, code: r.code, first: r.stderr.split('\n')[0]!.slice(0, 7 + msg.length) }).toEqual({
        args,
        code: 2,
        first: `Error: ${msg}`,
      });
      expect(r.stdout).toBe('');
    });
    const j = await runCli(['rewards', "x' OR 1=1 --", '--json'], env);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout).error).toEqual({
      code: 'INVALID_ARGUMENT',
      message: `invalid user id "x' OR 1=1 --": expected 1-64 letters, digits, '_' or '-'`,
    });
    // Nothing was created under the keyspace the commands would have used.
    const config = testConfig();
    const redis = await connectRedis(config);
    try {
      expect(await redis.keys('tinject.cl:*')).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});
