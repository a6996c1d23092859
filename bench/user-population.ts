/**
 * The user-event input of the speed-layer user benchmarks (bench/stream-users.ts through Kafka,
 * bench/speed-users-core.ts in one process): a Zipf(1) population of `users` users in which one
 * heavy user holds 10% of the events; buys (85%), card spend (10%) and deposits (5%) in event-time
 * order over one day from START.
 */
import type { TransactionEvent } from '../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE } from '../src/core/money/decimal.js';

export const START = Date.UTC(2026, 0, 5);

const q = (units: bigint) => Decimal.fromUnits(units, QTY_SCALE);
const usd = (s: string) => Decimal.parse(s, PRICE_SCALE);

/** Zipf(1) sampler over ranks 1..n by inverse CDF on the harmonic numbers (deterministic LCG). */
export const zipf = (n: number, seed: number) => {
  const cdf = new Float64Array(n);
  let h = 0;
  for (let i = 0; i < n; i++) cdf[i] = h += 1 / (i + 1);
  let x = seed >>> 0;
  const rnd = () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
  return {
    rnd,
    next: (): number => {
      const u = rnd() * h;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cdf[mid]! < u) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    },
  };
};

/** The i-th user event of a run: one in ten belongs to the heavy user, the rest are Zipf-distributed. */
export const makeUserEvents = (count: number, users: number, seed: number) => {
  const z = zipf(users, seed);
  const stepMs = Math.max(1, Math.floor((24 * 3600 * 1000) / count));
  return function* (): Generator<TransactionEvent> {
    for (let i = 0; i < count; i++) {
      const userId = i % 10 === 0 ? 'heavy' : `u${z.next()}`;
      const r = z.rnd();
      const type = r < 0.85 ? 'buy' : r < 0.95 ? 'card_spend' : 'deposit';
      const asset = type === 'card_spend' ? 'USD' : 'BTC';
      yield {
        kind: 'transaction',
        eventId: `b${seed}-${i}`,
        userId,
        type,
        asset,
        quantity: type === 'card_spend' ? q(25n * 10n ** 18n) : q(10n ** 15n),
        price: type === 'card_spend' ? usd('1') : usd('43000'),
        fee: Decimal.zero(QTY_SCALE),
        feeAsset: 'USD',
        eventTime: START + i * stepMs,
      };
    }
  };
};
