import { describe, expect, it } from 'vitest';
import { usd } from '../../src/cli/numbers.js';
import { makeChalk } from '../../src/cli/render.js';
import {
  portfolioModel,
  renderCorrelations,
  renderOhlcv,
  renderPortfolio,
  renderReconcile,
  renderRewards,
  renderTop,
  signedUsd,
} from '../../src/cli/render-serving.js';
import { DEFAULT_WIDTH, toCsv, type ViewOptions, visibleWidth } from '../../src/cli/table.js';
import { eventToRaw } from '../../src/core/events/json.js';
import { Decimal, PRICE_SCALE } from '../../src/core/money/decimal.js';
import { mergeUser, valuePortfolio } from '../../src/core/serving/merge.js';
import { type PortfolioJson, portfolioToJson, type RewardsJson } from '../../src/core/serving/views.js';
import { emptyUser, replayUser, userToJson } from '../../src/core/speed/user-ledger.js';
import { GOLDEN_DIR, loadGoldenCases, validateInput } from '../support/golden.js';
import { GOLDEN_D, GOLDEN_D1, goldenEvents } from '../support/serving-golden.js';

const view = (color: boolean, wide = false): ViewOptions => ({
  color,
  c: makeChalk(color),
  wide,
  width: wide ? Number.POSITIVE_INFINITY : DEFAULT_WIDTH,
});

const T = Date.parse(`${GOLDEN_D1}T13:00:00Z`);

const goldenView = (): PortfolioJson => {
  const g = goldenEvents('alice');
  const m = mergeUser({
    userId: 'alice',
    batch: { asOf: GOLDEN_D, builtAt: null, state: userToJson(replayUser(emptyUser('alice'), g.dayD).state) },
    speed: {
      deltas: [{ day: GOLDEN_D1, events: g.dayD1.map((e) => JSON.stringify(eventToRaw(e))) }],
      positions: [],
      tier: null,
      usersWatermark: Date.parse(`${GOLDEN_D1}T12:00:00Z`),
      priceWatermark: T - 5000,
    },
  })!;
  const prices = new Map([
    ['BTC', { price: Decimal.parse('50000', PRICE_SCALE), eventTime: T, source: 'live' as const }],
    // ETH valued below its cost: a loss.
    ['ETH', { price: Decimal.parse('1500', PRICE_SCALE), eventTime: T - 3_600_000, source: 'batch-close' as const }],
  ]);
  return portfolioToJson(valuePortfolio(m, prices, { usersWatermark: null, priceWatermark: T - 5000 }, T + 5000));
};

describe('serving renderers', () => {
  it('portfolio: the exact plain table (no colour), amounts rounded for display only', () => {
    expect(renderPortfolio(goldenView(), view(false))).toBe(PLAIN);
  });

  it('portfolio: gains green, losses red when colour is on', () => {
    const out = renderPortfolio(goldenView(), view(true));
    expect(out).toContain('\u001b[32m14,992.50\u001b[39m');
    expect(out).toContain('\u001b[31m-4,998.50\u001b[39m');
  });

  it('signedUsd and usd round HALF-EVEN for display and keep zero uncoloured', () => {
    expect(usd('1234.565000000000')).toBe('1,234.56');
    expect(usd('-0.005000000000')).toBe('0.00');
    expect(signedUsd(view(true), '0.000000000000')).toBe('0.00');
    expect(signedUsd(view(true), null)).toBe('-');
  });

  it('top: ranks with the detail columns', () => {
    const out = renderTop(
      {
        by: 'pnl',
        date: GOLDEN_D,
        days: 1,
        users: [
          {
            rank: 1,
            userId: 'alice',
            value: '2971.100000000000',
            detail: { realizedPnl: '0.000000000000', unrealizedPnl: '2971.100000000000', marketValue: '102981.1' },
          },
        ],
      },
      view(false),
    );
    expect(out.split('\n')).toEqual([
      `top 1 users by total P&L at the end of ${GOLDEN_D} (USD)`,
      '#  user   total P&L  realized P&L  unrealized P&L  market value',
      '─  ─────  ─────────  ────────────  ──────────────  ────────────',
      '1  alice   2,971.10          0.00        2,971.10    102,981.10',
    ]);
  });
});

/**
 * ETH at 1500 < its average cost: unrealized -4998.5; total P&L = 14992.5 - 4998.5 + 2492.5.
 * alloc = value / 90,001.5 (83.33%, 16.67%); P&L % = unrealized / cost basis: 14,992.5 / 60,007.5 =
 * 24.98%, -4,998.5 / 20,000 = -24.99% (-24.9925 rounded), 9,994 / 80,007.5 = 12.49%.
 */
const PLAIN = [
  'alice  tier Silver  30d spend 1,100.00  total P&L 12,486.50',
  'realized P&L 2,492.50  cost basis 80,007.50  fees 35.00',
  'asset     quantity      price      value   alloc  unrealized P&L    P&L %',
  '─────  ───────────  ─────────  ─────────  ──────  ──────────────  ───────',
  'BTC     1.50000000  50,000.00  75,000.00  83.33%       14,992.50   24.98%',
  'ETH    10.00100000   1,500.00  15,001.50  16.67%       -4,998.50  -24.99%',
  'TOTAL                          90,001.50                9,994.00   12.49%',
  '(src, staked, rewards, avg cost, realized P&L hidden to fit 80 columns; --wide',
  'shows all)',
  'amounts in USD, quantities in asset units',
  '(ETH at the batch close of 2026-11-20: no live price)',
  'source: batch + speed layer; batch as of 2026-11-20;',
  'speed days 2026-11-21 (4 events); users watermark -;',
  'price watermark 2026-11-21T12:59:55Z;',
  'oldest price 2026-11-21T12:00:00Z (age 60m)',
].join('\n');

/** Golden case 15 (large notional, 25 integer digits) valued at its fixture price: a view, no SQL. */
const largeView = (): PortfolioJson => {
  const c = loadGoldenCases(GOLDEN_DIR).find((g) => g.file.startsWith('15-'))!;
  const events = validateInput(c).userEvents;
  const T0 = events.at(-1)!.eventTime + 1000;
  const m = mergeUser({
    userId: 'alice',
    batch: { asOf: '2024-01-01', builtAt: null, state: userToJson(replayUser(emptyUser('alice'), events).state) },
    speed: {
      deltas: [],
      positions: [],
      tier: null,
      usersWatermark: T0,
      priceWatermark: T0,
    },
  })!;
  const prices = new Map([
    ['BTC', { price: Decimal.parse('99999999999.999999999999', PRICE_SCALE), eventTime: T0, source: 'live' as const }],
  ]);
  return portfolioToJson(valuePortfolio(m, prices, { usersWatermark: T0, priceWatermark: T0 }, T0));
};

const fits = (out: string) => {
  for (const l of out.split('\n')) expect(visibleWidth(l), l).toBeLessThanOrEqual(80);
};

describe('80 columns and amounts of any size', () => {
  it('golden case 15: portfolio renders (mantissa + exponent), --wide and CSV keep every digit', () => {
    const v = largeView();
    const out = renderPortfolio(v, view(false));
    fits(out);
    expect(out.split('\n').slice(2, 6)).toEqual([
      'asset                    quantity               price      value  unrealized P&L',
      '─────  ──────────────────────────  ──────────────────  ─────────  ──────────────',
      'BTC    6,172,839,450,617.25000000  100,000,000,000.00  6.1728e23       7.6208e21',
      'TOTAL                                                  6.1728e23       7.6208e21',
    ]);
    const wide = renderPortfolio(v, view(false, true));
    expect(wide).toContain('617283945061724999999993.827160549383');
    expect(toCsv(portfolioModel(v, false)).split('\n')[1]).toContain(',617283945061724999999993.827160549383,');
  });

  it('golden case 15: top renders', () => {
    const out = renderTop(
      {
        by: 'pnl',
        date: '2024-01-01',
        days: 1,
        users: [
          {
            rank: 1,
            userId: 'alice',
            value: '7620789376619376467762.303826417657',
            detail: {
              realizedPnl: '7620789376619376467762.303826417657',
              unrealizedPnl: '0',
              marketValue: '617283945061724999999993.827160549383',
            },
          },
        ],
      },
      view(false),
    );
    fits(out);
    expect(out.split('\n')[3]).toBe('1  alice  7.6208e21     7.6208e21            0.00     6.1728e23');
  });

  it('rewards, ohlcv, correlations and reconcile fit 80 columns', () => {
    const day = {
      date: '2026-11-20',
      source: 'batch' as const,
      spend: '1234567.891',
      cashbackOwed: '12345.67',
      cashbackCapped: '0',
      cashbackPaid: '12345.67',
      stakingIncome: '1.5',
      tier: 'Platinum',
      spend30d: '9876543.21',
      events: 123456,
    } as unknown as RewardsJson['days'][number];
    fits(
      renderRewards(
        {
          userId: 'u000001',
          mode: 'merged',
          from: '2026-11-20',
          to: '2026-11-20',
          tier: 'Platinum',
          spend30d: '9876543.21',
          days: [day],
          totals: { spend: '1', cashbackOwed: '1', cashbackCapped: '0', cashbackPaid: '1', stakingIncome: '1' },
          freshness: { batchAsOf: '2026-11-20', speedDays: [] },
        },
        view(false),
      ),
    );
    const candle = {
      start: Date.parse('2026-11-20T10:00:00Z'),
      end: Date.parse('2026-11-20T10:05:00Z'),
      open: '64516.188803542373',
      high: '64999.123456789012',
      low: '64000.000000000001',
      close: '64516.188803542373',
      volume: '123.456789012345678901',
      quoteVolume: '1',
      trades: 4567,
      vwap: '64516.188803542373',
      final: true,
      source: 'speed' as const,
    };
    const ohlcv = renderOhlcv(
      {
        symbol: 'BTCUSDT',
        interval: '5m',
        from: candle.start,
        to: candle.end,
        boundary: candle.start,
        batchAsOf: '2026-11-19',
        candles: [candle as never],
      },
      view(false),
    );
    fits(ohlcv);
    expect(ohlcv).toContain('2026-11-20 10:00  64,516.19  64,999.12  64,000.00  64,516.19');
    fits(
      renderCorrelations(
        {
          date: '2026-11-23',
          pairs: [{ assetA: 'BTC', assetB: 'ETH', windowDays: 30, observations: 0, correlation: null }],
          windows: [{ windowDays: 30, neededDays: 31, builtDays: 1 }],
        },
        view(false),
      ),
    );
    const rec = renderReconcile(
      {
        date: '2026-11-23',
        summary: {
          users: 300,
          subjects: 900,
          fieldsMatched: 7000,
          fieldsMismatched: 1,
          missingInBatch: 0,
          missingInSpeed: 0,
          clean: false,
        } as never,
        findingsOmitted: 0,
        findings: [
          {
            date: '2026-11-23',
            userId: 'u000001',
            subject: 'BTC',
            field: 'costBasis',
            status: 'mismatch',
            batchValue: '617283945061724999999993.827160549383',
            speedValue: '617283945061724999999993.827160549384',
            difference: '0.000000000001',
          } as never,
        ],
        file: '/very/long/path/to/the/lake/warehouse/fact_reconciliation/dt=2026-11-23/part-0.parquet',
        rowsWritten: 7001,
        warnings: [],
        gaps: { batch: [], speed: [], lostOffsets: { batch: 0, speed: 0 } },
      },
      view(false),
    );
    fits(rec);
    expect(rec).toContain('0.000000000001');
    expect(rec.replace(/\n/g, ' ')).toContain(
      'next: rebuild the date (`cryptolambda pipeline run --date 2026-11-23 --force batch`)',
    );
  });

  it('correlations say how many built days a window needs', () => {
    const out = renderCorrelations(
      { date: '2026-11-23', pairs: [], windows: [{ windowDays: 30, neededDays: 31, builtDays: 1 }] },
      view(false),
    );
    expect(out.replace(/\n/g, ' ')).toContain(
      '30d window: 1 of 31 built days ending 2026-11-23 (a correlation needs at least 3;',
    );
  });
});
