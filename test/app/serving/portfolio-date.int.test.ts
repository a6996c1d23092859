import { describe, expect, it } from 'vitest';
import { runIngestRaw } from '../../../src/app/batch/ingest-raw.js';
import { runBatch } from '../../../src/app/batch/run-batch.js';
import { openServing } from '../../../src/app/serving/context.js';
import { getPortfolio } from '../../../src/app/serving/portfolio.js';
import type { DomainEvent, PriceEvent } from '../../../src/core/events/types.js';
import { type PortfolioJson, portfolioToJson } from '../../../src/core/serving/views.js';
import { trade } from '../../core/build.js';
import { runCli } from '../../support/cli.js';
import { GOLDEN_D, GOLDEN_D1, GOLDEN_EXPECTED, goldenEvents } from '../../support/serving-golden.js';
import { servingSetup, streamToIdle } from '../../support/serving-stack.js';
import { produceEvents } from '../batch/support.js';

/**
 * `portfolio --date D` on the real stack (Kafka -> stream -> Redis, ingest -> batch of GOLDEN_D only):
 * a built date comes from the snapshot of D at fact_price_daily's closes, a later date from the cutoff
 * plus the speed deltas up to it at that day's last 5m candle.
 */
const at = (iso: string): number => Date.parse(iso);
const px = (sym: string, iso: string, price: string, id: string): PriceEvent =>
  trade({ eventId: `synthetic:${sym}:${id}`, symbol: sym, price, quantity: '0.1', eventTime: at(iso) });

/** D closes: BTC 41000, ETH 2100. D+1's last 5m candles close at BTC 50000, ETH 2500. */
const PRICES: PriceEvent[] = [
  px('BTCUSDT', `${GOLDEN_D}T09:00:00Z`, '40500', 'b1'),
  px('BTCUSDT', `${GOLDEN_D}T23:59:20Z`, '41000', 'b2'),
  px('BTCUSDT', `${GOLDEN_D1}T00:00:30Z`, '42000', 'b3'),
  px('BTCUSDT', `${GOLDEN_D1}T13:00:00Z`, '50000', 'b4'),
  px('ETHUSDT', `${GOLDEN_D}T09:00:00Z`, '2050', 'e1'),
  px('ETHUSDT', `${GOLDEN_D}T20:00:00Z`, '2100', 'e2'),
  px('ETHUSDT', `${GOLDEN_D1}T13:00:00Z`, '2500', 'e3'),
];

const strip = (p: PortfolioJson) => p.positions.map(({ price: _p, priceTime: _t, lastEventTime: _l, ...rest }) => rest);

describe('portfolio --date on the real stack', () => {
  it('a built date and a speed-only date give the hand-worked books', async () => {
    const config = await servingSetup('cl-pfdate-');
    const g = goldenEvents('alice');
    const events: DomainEvent[] = [...PRICES, ...g.dayD, ...g.dayD1];
    await produceEvents(config, events);
    await streamToIdle(config);
    await runIngestRaw(config);
    await runBatch(config, { date: GOLDEN_D });

    const ctx = await openServing(config);
    try {
      // End of D (built): BTC 2 @ 41000 = 82,000 on cost 80,010 -> +1,990 (1990 / 80010 = 0.024872);
      // ETH 9.991 @ 2100 = 20,981.1 on cost 20,000 (rewards carry no cost) -> +981.1 (0.049055).
      // Total 102,981.1: alloc 82,000 / 102,981.1 = 0.796263, 20,981.1 / 102,981.1 = 0.203737;
      // unrealized 2,971.1 / 100,010 = 0.029708; nothing sold yet; spend 500 -> Bronze.
      const d = portfolioToJson(await getPortfolio(ctx, 'alice', { date: GOLDEN_D }));
      expect([d.mode, d.tier, d.spend30d, d.freshness.batchAsOf]).toEqual([
        'batch-only',
        'Bronze',
        '500.000000000000',
        GOLDEN_D,
      ]);
      expect(
        d.positions.map((l) => [
          l.asset,
          l.quantity,
          l.costBasis,
          l.price,
          l.priceSource,
          l.marketValue,
          l.unrealizedPnl,
          l.allocation,
          l.unrealizedPnlPct,
          l.realizedPnl,
        ]),
      ).toEqual([
        [
          'BTC',
          '2.000000000000000000',
          '80010.000000000000',
          '41000.000000000000',
          'batch-close',
          '82000.000000000000',
          '1990.000000000000',
          '0.796263',
          '0.024872',
          '0.000000000000',
        ],
        [
          'ETH',
          '9.991000000000000000',
          '20000.000000000000',
          '2100.000000000000',
          'batch-close',
          '20981.100000000000',
          '981.100000000000',
          '0.203737',
          '0.049055',
          '0.000000000000',
        ],
      ]);
      expect([d.totals.marketValue, d.totals.unrealizedPnl, d.totals.unrealizedPnlPct, d.totals.realizedPnl]).toEqual([
        '102981.100000000000',
        '2971.100000000000',
        '0.029708',
        '0.000000000000',
      ]);

      // End of D+1 (speed only: cutoff D + the deltas of D+1) at D+1's last candles, BTC 50000 and
      // ETH 2500 — the prices of the golden merged case, so the golden book (serving-golden.ts).
      const d1 = portfolioToJson(await getPortfolio(ctx, 'alice', { date: GOLDEN_D1 }));
      expect([d1.mode, d1.tier, d1.spend30d]).toEqual(['merged', GOLDEN_EXPECTED.tier, GOLDEN_EXPECTED.spend30d]);
      expect(d1.totals).toEqual(GOLDEN_EXPECTED.totals);
      expect(strip(d1)).toEqual(GOLDEN_EXPECTED.positions.map((p) => ({ ...p, priceSource: 'candle-close' })));

      // Before the user's first event (and before any build) / after today: one line, non-zero exit.
      await expect(getPortfolio(ctx, 'alice', { date: '2026-11-19' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(getPortfolio(ctx, 'alice', { date: '2999-01-01' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    } finally {
      ctx.close();
    }

    // The command prints the same book.
    const env = { CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix, CRYPTOLAMBDA_LAKE_DIR: config.lakeDir };
    const cli = await runCli(['portfolio', 'alice', '--date', GOLDEN_D, '--json'], env);
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout).totals.unrealizedPnlPct).toBe('0.029708');
    const future = await runCli(['portfolio', 'alice', '--date', '2999-01-01'], env);
    expect(future.code).not.toBe(0);
    expect(future.stderr).toContain('--date 2999-01-01 is after today');
  }, 120_000);
});
