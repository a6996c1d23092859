import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connectRedis } from '../../../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../../src/adapters/redis/speed-keys.js';
import { groupLots } from '../../../src/adapters/redis/speed-store.js';
import { runIngestRaw } from '../../../src/app/batch/ingest-raw.js';
import { runBatch } from '../../../src/app/batch/run-batch.js';
import { openServing } from '../../../src/app/serving/context.js';
import { getGains } from '../../../src/app/serving/gains.js';
import { getHistory, getPerformance } from '../../../src/app/serving/history.js';
import { reconcile } from '../../../src/app/serving/reconcile.js';
import { runStream } from '../../../src/app/stream/run-stream.js';
import type { Config } from '../../../src/config/config.js';
import type { UserEvent } from '../../../src/core/events/types.js';
import type { Disposal } from '../../../src/core/portfolio/lot-accounting.js';
import type { CostMethod } from '../../../src/core/portfolio/lots.js';
import { lotQueueFromJson } from '../../../src/core/portfolio/lots.js';
import { reward, trade, tx } from '../../core/build.js';
import { streamTestConfig } from '../../support/stream.js';
import { produceEvents } from '../batch/support.js';

/**
 * The hand-worked lot cases of test/core/portfolio/lots.test.ts through BOTH layers, per method:
 * Kafka -> stream -> Redis (the user state's lots) and Kafka -> ingest -> batch (fact_realized_gain,
 * fact_lot_daily, snapshot), reconcile clean on both dates (lots compared), and `gains` over a batch
 * cutoff plus the speed layer's day after it. The expected rows are the hand-worked ones.
 */
const D1 = '2026-11-23';
const D2 = '2026-11-24';
const at = (day: string, hms: string, ms = 0) => Date.parse(`${day}T${hms}.000Z`) + ms;

const events: UserEvent[] = [
  // la: sells across lots with a partial take.
  tx('buy', { eventId: 'la-b1', userId: 'la', quantity: '1', price: '100', eventTime: at(D1, '10:00:00') }),
  tx('buy', { eventId: 'la-b2', userId: 'la', quantity: '2', price: '130', eventTime: at(D1, '10:00:00', 1) }),
  tx('buy', { eventId: 'la-b3', userId: 'la', quantity: '1', price: '110', eventTime: at(D1, '10:00:00', 2) }),
  tx('sell', { eventId: 'la-s1', userId: 'la', quantity: '2.5', price: '150', eventTime: at(D2, '10:00:00') }),
  // lb: base-asset fees, a reward then sold.
  tx('buy', {
    eventId: 'lb-e1',
    userId: 'lb',
    asset: 'ETH',
    quantity: '10',
    price: '20',
    fee: '0.1',
    feeAsset: 'ETH',
    eventTime: at(D1, '11:00:00'),
  }),
  reward({ eventId: 'lb-r1', userId: 'lb', asset: 'ETH', quantity: '1', price: '25', eventTime: at(D1, '11:00:01') }),
  tx('sell', {
    eventId: 'lb-s1',
    userId: 'lb',
    asset: 'ETH',
    quantity: '5',
    price: '30',
    fee: '0.05',
    feeAsset: 'ETH',
    eventTime: at(D2, '11:00:00'),
  }),
  // lc: equal timestamps ("lc-t-10" < "lc-t-2"), sell everything, rebuy, sell part.
  tx('buy', { eventId: 'lc-t-2', userId: 'lc', quantity: '1', price: '100', eventTime: at(D1, '12:00:00') }),
  tx('buy', { eventId: 'lc-t-10', userId: 'lc', quantity: '1', price: '200', eventTime: at(D1, '12:00:00') }),
  tx('sell', { eventId: 'lc-s1', userId: 'lc', quantity: '2', price: '150', eventTime: at(D1, '13:00:00') }),
  tx('buy', { eventId: 'lc-b3', userId: 'lc', quantity: '1', price: '120', eventTime: at(D2, '12:00:00') }),
  tx('sell', { eventId: 'lc-s2', userId: 'lc', quantity: '0.5', price: '130', eventTime: at(D2, '13:00:00') }),
  // lw: a withdrawal with a base fee, a stake with a USD fee.
  tx('buy', { eventId: 'lw-b1', userId: 'lw', quantity: '1', price: '100', eventTime: at(D1, '14:00:00') }),
  tx('buy', { eventId: 'lw-b2', userId: 'lw', quantity: '1', price: '300', eventTime: at(D1, '14:00:01') }),
  tx('withdrawal', {
    eventId: 'lw-w1',
    userId: 'lw',
    quantity: '0.5',
    price: '400',
    fee: '0.1',
    feeAsset: 'BTC',
    eventTime: at(D2, '14:00:00'),
  }),
  tx('stake', {
    eventId: 'lw-k1',
    userId: 'lw',
    quantity: '0.5',
    price: '400',
    fee: '2',
    eventTime: at(D2, '14:00:01'),
  }),
];

type Row = [user: string, kind: string, lot: string, qty: string, proceeds: string, cost: string, gain: string];

/** Hand-worked rows (see test/core/portfolio/lots.test.ts for the arithmetic). */
const EXPECTED: Record<CostMethod, Row[]> = {
  fifo: [
    ['la', 'sell', 'la-b1', '1', '150', '100', '50'],
    ['la', 'sell', 'la-b2', '1.5', '225', '195', '30'],
    ['lb', 'sell', 'lb-e1', '5.05', '150', '102.020202020202', '47.979797979798'],
    ['lc', 'sell', 'lc-t-10', '1', '150', '200', '-50'],
    ['lc', 'sell', 'lc-t-2', '1', '150', '100', '50'],
    ['lc', 'sell', 'lc-b3', '0.5', '65', '60', '5'],
    ['lw', 'fee', 'lw-b1', '0.1', '0', '10', '-10'],
    ['lw', 'expense', '', '0', '0', '2', '-2'],
  ],
  lifo: [
    ['la', 'sell', 'la-b3', '1', '150', '110', '40'],
    ['la', 'sell', 'la-b2', '1.5', '225', '195', '30'],
    ['lb', 'sell', 'lb-r1', '1', '29.70297029703', '25', '4.70297029703'],
    ['lb', 'sell', 'lb-e1', '4.05', '120.29702970297', '81.818181818182', '38.478847884788'],
    ['lc', 'sell', 'lc-t-2', '1', '150', '100', '50'],
    ['lc', 'sell', 'lc-t-10', '1', '150', '200', '-50'],
    ['lc', 'sell', 'lc-b3', '0.5', '65', '60', '5'],
    // LIFO takes the fee units from the newest lot (b2 @300): 0.1 x 300 = 30.
    ['lw', 'fee', 'lw-b2', '0.1', '0', '30', '-30'],
    ['lw', 'expense', '', '0', '0', '2', '-2'],
  ],
  hifo: [
    ['la', 'sell', 'la-b2', '2', '300', '260', '40'],
    ['la', 'sell', 'la-b3', '0.5', '75', '55', '20'],
    ['lb', 'sell', 'lb-r1', '1', '29.70297029703', '25', '4.70297029703'],
    ['lb', 'sell', 'lb-e1', '4.05', '120.29702970297', '81.818181818182', '38.478847884788'],
    ['lc', 'sell', 'lc-t-10', '1', '150', '200', '-50'],
    ['lc', 'sell', 'lc-t-2', '1', '150', '100', '50'],
    ['lc', 'sell', 'lc-b3', '0.5', '65', '60', '5'],
    ['lw', 'fee', 'lw-b2', '0.1', '0', '30', '-30'],
    ['lw', 'expense', '', '0', '0', '2', '-2'],
  ],
  average: [
    ['la', 'sell', 'la-b1', '1', '150', '117.5', '32.5'],
    ['la', 'sell', 'la-b2', '1.5', '225', '176.25', '48.75'],
    ['lb', 'sell', 'lb-e1', '5.05', '150', '92.660550458716', '57.339449541284'],
    ['lc', 'sell', 'lc-t-10', '1', '150', '150', '0'],
    ['lc', 'sell', 'lc-t-2', '1', '150', '150', '0'],
    ['lc', 'sell', 'lc-b3', '0.5', '65', '60', '5'],
    ['lw', 'fee', 'lw-b1', '0.1', '0', '20', '-20'],
    ['lw', 'expense', '', '0', '0', '2', '-2'],
  ],
};

const rowOf = (d: Disposal): Row => [
  d.userId,
  d.kind,
  d.lotId,
  d.quantity.toPlain(),
  d.proceeds.toPlain(),
  d.costBasis.toPlain(),
  d.gain.toPlain(),
];

/** The test's own topics, keyspace (support/stream.ts) and lake, with the method under test. */
const setup = async (costBasis: CostMethod): Promise<Config> => {
  const config = await streamTestConfig({ lakeDir: mkdtempSync(path.join(tmpdir(), 'cl-lots-')), costBasis });
  onTestFinished(() => rmSync(config.lakeDir, { recursive: true, force: true }));
  return config;
};

describe('lots golden cases through Kafka, the stream, ingest and batch', () => {
  it.each([
    'fifo',
    'lifo',
    'hifo',
    'average',
  ] as const)('%s: both layers give the hand-worked gains and lots, and reconcile clean', async (method) => {
    const config = await setup(method);
    // Closes of BTC: 120 at the end of D1, 160 at the end of D2 (the batch's fact_price_daily, and
    // the speed layer's last 5m candle of D2 while only D1 is built).
    await produceEvents(config, [
      ...events,
      trade({ eventId: 'synthetic:BTCUSDT:1', symbol: 'BTCUSDT', price: '120', eventTime: at(D1, '23:00:00') }),
      trade({ eventId: 'synthetic:BTCUSDT:2', symbol: 'BTCUSDT', price: '160', eventTime: at(D2, '23:00:00') }),
    ]);
    await runStream(config, {
      exitWhenIdleMs: 2000,
      checkpointIntervalMs: 200,
      metricsEveryMs: 60_000,
      speed: { userIdleMs: 800 },
    });
    await runIngestRaw(config);

    // Batch D1 only: D2's disposals come from the speed layer's replay in `gains`.
    await runBatch(config, { date: D1 });
    let ctx = await openServing(config);
    try {
      const rows: Row[] = [];
      for (const u of ['la', 'lb', 'lc', 'lw']) {
        const g = await getGains(ctx, u, 2026);
        expect(g.speedDays).toContain(D2);
        rows.push(...g.report.rows.map(rowOf), ...(g.report.other.isZero() ? [] : [expenseRow(u, g.report.other)]));
        expect(g.report.realized.eq(g.report.short.gain.add(g.report.long.gain).add(g.report.other))).toBe(true);
      }
      expect(rows).toEqual(EXPECTED[method]);
      expect((await reconcile(ctx, D1)).summary).toMatchObject({ clean: true, fieldsMismatched: 0 });
      await expectReturns(ctx, method);
    } finally {
      ctx.close();
    }

    await runBatch(config, { date: D2 });
    ctx = await openServing(config);
    try {
      const batchRows = (
        await Promise.all(['la', 'lb', 'lc', 'lw'].map((u) => ctx.warehouse.gainRows(u, D1, D2)))
      ).flat();
      expect(batchRows.map(rowOf)).toEqual(EXPECTED[method]);
      await expectReturns(ctx, method);
      const r = await reconcile(ctx, D2);
      expect(r.summary).toMatchObject({ clean: true, fieldsMismatched: 0, missingInBatch: 0, missingInSpeed: 0 });

      // The speed layer's Redis state holds the same open lots as the batch's fact_lot_daily.
      const redis = await connectRedis(config);
      try {
        // The committed state's parts (speed-store.ts): the method and each asset's open lots.
        const keys = speedKeys(keyspaceFor(config.topicPrefix));
        const state = await redis.hgetall(keys.userState('la'));
        expect(state.costMethod).toBe(method);
        // One field per open lot (`stream:lots`), the queue's method and next seq beside the position.
        const meta = JSON.parse(state['lotq:BTC']!) as { method: CostMethod; nextSeq: number };
        expect(meta.method).toBe(method);
        const lotFields = await redis.hgetall(keys.userLots('la'));
        const speedLots = lotQueueFromJson({
          ...meta,
          lots: groupLots(lotFields, 'stream:lots').get('BTC') ?? [],
        }).open();
        const batchLots = (await ctx.warehouse.lotRows(D2, 'la'))!.get('la|BTC')!;
        expect(speedLots).toEqual(batchLots);
        const open: Record<CostMethod, string[][]> = {
          fifo: [
            ['la-b2', '0.5', '65'],
            ['la-b3', '1', '110'],
          ],
          lifo: [
            ['la-b1', '1', '100'],
            ['la-b2', '0.5', '65'],
          ],
          hifo: [
            ['la-b1', '1', '100'],
            ['la-b3', '0.5', '55'],
          ],
          // Average dates lots FIFO; their own cost is informational (the position's is the average).
          average: [
            ['la-b2', '0.5', '65'],
            ['la-b3', '1', '110'],
          ],
        };
        expect(batchLots.map((l) => [l.lotId, l.quantity.toPlain(), l.cost.toPlain()])).toEqual(open[method]);
      } finally {
        redis.disconnect();
      }
    } finally {
      ctx.close();
    }
  }, 180_000);
});

/**
 * la's returns, worked by hand (the same whatever the method; only the realized / unrealized split
 * moves): D1 buys 470 in, value 4 x 120 = 480, r1 = 480 / 470 - 1 = 0.021276595744680851;
 * D2 sells 2.5 @150 (375 out), value 1.5 x 160 = 240, r2 = (240 + 375) / 480 - 1 = 0.28125;
 * TWR = 1.021276595744680851 x 1.28125 - 1 = 0.308510638297872340; net P&L 240 - 470 + 375 = 145.
 */
const expectReturns = async (ctx: Awaited<ReturnType<typeof openServing>>, method: CostMethod) => {
  const h = await getHistory(ctx, 'la', { from: D1, to: D2 });
  expect(h.points.map((p) => [p.day, p.mvEnd.toPlain(), p.cfIn.toPlain(), p.cfOut.toPlain()])).toEqual([
    [D1, '480', '470', '0'],
    [D2, '240', '0', '375'],
  ]);
  const split: Record<CostMethod, string[]> = {
    fifo: ['175', '80', '65'],
    lifo: ['165', '70', '75'],
    hifo: ['155', '60', '85'],
    average: ['176.25', '81.25', '63.75'],
  };
  const d2 = h.points[1]!;
  expect([d2.costBasis.toPlain(), d2.realizedPnl.toPlain(), d2.unrealizedPnl.toPlain()]).toEqual(split[method]);
  const p = await getPerformance(ctx, 'la', { from: D1, to: D2 });
  expect(p.returns.daily.map((d) => d.r.toPlain())).toEqual(['0.021276595744680851', '0.28125']);
  expect(p.returns.twr.toString()).toBe('0.308510638297872340');
  expect(p.returns.netPnl.toPlain()).toBe('145');
  expect(p.returns.xirr).not.toBeNull();
};

/** The year's `other` (USD fees expensed) as the expense row it was summed from (one per user here). */
const expenseRow = (user: string, other: { neg(): { toPlain(): string }; toPlain(): string }): Row => [
  user,
  'expense',
  '',
  '0',
  '0',
  other.neg().toPlain(),
  other.toPlain(),
];
