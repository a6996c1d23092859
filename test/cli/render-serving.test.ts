import { describe, expect, it } from 'vitest';
import { makeChalk } from '../../src/cli/render.js';
import { renderPortfolio, renderTop, signed, usdText } from '../../src/cli/render-serving.js';
import { eventToRaw } from '../../src/core/events/json.js';
import { Decimal, PRICE_SCALE } from '../../src/core/money/decimal.js';
import { mergeUser, valuePortfolio } from '../../src/core/serving/merge.js';
import { type PortfolioJson, portfolioToJson } from '../../src/core/serving/views.js';
import { emptyUser, replayUser, userToJson } from '../../src/core/speed/user-ledger.js';
import { GOLDEN_D, GOLDEN_D1, goldenEvents } from '../support/serving-golden.js';

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
    expect(renderPortfolio(goldenView(), makeChalk(false), false)).toBe(PLAIN);
  });

  it('portfolio: gains green, losses red when colour is on', () => {
    const out = renderPortfolio(goldenView(), makeChalk(true), true);
    expect(out).toContain('\u001b[32m14,992.50\u001b[39m');
    expect(out).toContain('\u001b[31m-4,998.50\u001b[39m');
  });

  it('signed and usdText round HALF-EVEN for display and keep zero uncoloured', () => {
    const c = makeChalk(true);
    expect(usdText('1234.565000000000')).toBe('1,234.56');
    expect(usdText('-0.005000000000')).toBe('0.00');
    expect(signed(c, '0.000000000000')).toBe('0.00');
    expect(signed(c, null)).toBe('-');
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
      makeChalk(false),
      false,
    );
    expect(out.split('\n')).toEqual([
      `top 1 users by total P&L at the end of ${GOLDEN_D}`,
      '+---+-------+----------+----------+------------+--------------+',
      '| # | user  | pnl      | realized | unrealized | market value |',
      '+---+-------+----------+----------+------------+--------------+',
      '| 1 | alice | 2,971.10 | 0.00     | 2,971.10   | 102,981.10   |',
      '+---+-------+----------+----------+------------+--------------+',
    ]);
  });
});

const SEP = '+-------+----------+--------+-----------+--------------+--------------+------------+----------+---------+';
/** ETH at 1500 < its average cost: unrealized -4998.5; total P&L = 14992.5 - 4998.5 + 2492.5. */
const PLAIN = [
  'alice  tier Silver  30d spend 1,100.00  total P&L 12,486.50  cost basis 80,007.50  fees 35.00',
  SEP,
  '| asset | quantity | staked | avg cost  | price        | market value | unrealized | realized | rewards |',
  SEP,
  '| BTC   | 1.5      | 0      | 40,005.00 | 50000        | 75,000.00    | 14,992.50  | 2,492.50 | 0.00    |',
  SEP,
  '| ETH   | 10.001   | 5      | 1,999.80  | 1500 (close) | 15,001.50    | -4,998.50  | 0.00     | 24.10   |',
  SEP,
  '| TOTAL |          |        |           |              | 90,001.50    | 9,994.00   | 2,492.50 | 24.10   |',
  SEP,
  'source: batch + speed layer',
  'batch as of 2026-11-20; speed days 2026-11-21 (4 events); users watermark -; price watermark 2026-11-21T12:59:55Z; oldest price 2026-11-21T12:00:00Z (age 60m)',
].join('\n');
