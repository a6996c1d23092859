import type { UserEvent } from '../../src/core/events/types.js';
import { reward, tx } from '../core/build.js';

/**
 * The serving golden case: one user's day D (covered by the batch) and day D+1 (covered only by the
 * speed layer), with hand-checked expected numbers for the merged portfolio at BTC 50000 / ETH 2500.
 *
 * D   10:00 buy 2 BTC @ 40000, fee 10 USD          BTC q 2, cost 80010, fees 10
 *     11:00 buy 10 ETH @ 2000, fee 0.01 ETH        ETH q 9.99, cost 20000, fees 0.01 x 2000 = 20
 *     12:00 card spend 500 USD                     spend 500, Bronze 0.5 % -> cashback owed 2.5
 *     13:00 cashback 0.001 ETH @ 2100              ETH q 9.991, reward income 2.1
 * D+1 09:00 sell 0.5 BTC @ 45000, fee 5 USD        cost share 80010 x 0.5 / 2 = 20002.5, proceeds 22495,
 *                                                  realized 2492.5; BTC q 1.5, cost 60007.5, fees 15
 *     10:00 stake 5 ETH                            staked 5
 *     11:00 staking reward 0.01 ETH @ 2200         ETH q 10.001, reward income 24.1
 *     12:00 card spend 600 USD                     30d spend 1100 -> Silver 1 % -> owed 6 (cap room 97.5)
 *
 * At BTC 50000, ETH 2500: BTC value 75000, unrealized 14992.5, avg cost 40005;
 * ETH value 25002.5, unrealized 5002.5, avg cost 20000 / 10.001 = 1999.800019998000 (12 places).
 * Totals: value 100002.5, cost 80007.5, unrealized 19995, realized 2492.5, total P&L 22487.5,
 * reward income 24.1, fees 35; tier Silver, 30d spend 1100.
 */
export const GOLDEN_D = '2026-11-20';
export const GOLDEN_D1 = '2026-11-21';
const at = (day: string, hh: number): number => Date.parse(`${day}T${String(hh).padStart(2, '0')}:00:00.000Z`);

export const goldenEvents = (userId: string): { dayD: UserEvent[]; dayD1: UserEvent[] } => ({
  dayD: [
    tx('buy', {
      eventId: `${userId}-g1`,
      userId,
      asset: 'BTC',
      quantity: '2',
      price: '40000',
      fee: '10',
      eventTime: at(GOLDEN_D, 10),
    }),
    tx('buy', {
      eventId: `${userId}-g2`,
      userId,
      asset: 'ETH',
      quantity: '10',
      price: '2000',
      fee: '0.01',
      feeAsset: 'ETH',
      eventTime: at(GOLDEN_D, 11),
    }),
    tx('card_spend', {
      eventId: `${userId}-g3`,
      userId,
      asset: 'USD',
      quantity: '500',
      price: '1',
      eventTime: at(GOLDEN_D, 12),
    }),
    reward({
      eventId: `${userId}-g4`,
      userId,
      rewardType: 'cashback',
      asset: 'ETH',
      quantity: '0.001',
      price: '2100',
      eventTime: at(GOLDEN_D, 13),
    }),
  ],
  dayD1: [
    tx('sell', {
      eventId: `${userId}-g5`,
      userId,
      asset: 'BTC',
      quantity: '0.5',
      price: '45000',
      fee: '5',
      eventTime: at(GOLDEN_D1, 9),
    }),
    tx('stake', {
      eventId: `${userId}-g6`,
      userId,
      asset: 'ETH',
      quantity: '5',
      price: '2150',
      eventTime: at(GOLDEN_D1, 10),
    }),
    reward({
      eventId: `${userId}-g7`,
      userId,
      rewardType: 'staking',
      asset: 'ETH',
      quantity: '0.01',
      price: '2200',
      eventTime: at(GOLDEN_D1, 11),
    }),
    tx('card_spend', {
      eventId: `${userId}-g8`,
      userId,
      asset: 'USD',
      quantity: '600',
      price: '1',
      eventTime: at(GOLDEN_D1, 12),
    }),
  ],
});

/** The expected merged portfolio (canonical strings) at BTC 50000 / ETH 2500. */
export const GOLDEN_EXPECTED = {
  tier: 'Silver',
  spend30d: '1100.000000000000',
  positions: [
    {
      asset: 'BTC',
      quantity: '1.500000000000000000',
      staked: '0.000000000000000000',
      avgCost: '40005.000000000000',
      costBasis: '60007.500000000000',
      marketValue: '75000.000000000000',
      unrealizedPnl: '14992.500000000000',
      // 75,000 / 100,002.5 = 0.7499812504… and 14,992.5 / 60,007.5 = 0.2498437695… (HALF-EVEN, 6 dp)
      allocation: '0.749981',
      unrealizedPnlPct: '0.249844',
      realizedPnl: '2492.500000000000',
      rewardIncome: '0.000000000000',
      feesPaid: '15.000000000000',
      eventCount: 2,
    },
    {
      asset: 'ETH',
      quantity: '10.001000000000000000',
      staked: '5.000000000000000000',
      avgCost: '1999.800019998000',
      costBasis: '20000.000000000000',
      marketValue: '25002.500000000000',
      unrealizedPnl: '5002.500000000000',
      // 25,002.5 / 100,002.5 = 0.2500187495… and 5,002.5 / 20,000 = 0.250125 exactly
      allocation: '0.250019',
      unrealizedPnlPct: '0.250125',
      realizedPnl: '0.000000000000',
      rewardIncome: '24.100000000000',
      feesPaid: '20.000000000000',
      eventCount: 4,
    },
  ],
  totals: {
    marketValue: '100002.500000000000',
    costBasis: '80007.500000000000',
    unrealizedPnl: '19995.000000000000',
    // 19,995 / 80,007.5 = 0.2499140705…
    unrealizedPnlPct: '0.249914',
    realizedPnl: '2492.500000000000',
    totalPnl: '22487.500000000000',
    rewardIncome: '24.100000000000',
    feesPaid: '35.000000000000',
    unpriced: [] as string[],
  },
};
