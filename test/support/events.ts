import { encodePrice, encodeReward, encodeTransaction } from '../../src/adapters/avro/codec.js';
import { BatchingProducer } from '../../src/adapters/kafka/producer.js';
import type { Config } from '../../src/config/config.js';
import type { PriceEvent, RewardEvent, TransactionEvent, UserEvent } from '../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE } from '../../src/core/money/decimal.js';
import { topicName } from '../../src/core/topics.js';

/** A tiny seeded PRNG (mulberry32) for test data; amounts are built from its integers, never floats. */
export const prng = (seed: number) => {
  let a = seed >>> 0;
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
};

const q = (units: bigint, scale = QTY_SCALE) => Decimal.fromUnits(units, scale);

export interface Dataset {
  prices: PriceEvent[];
  transactions: TransactionEvent[];
  rewards: RewardEvent[];
}

/**
 * A deterministic day-ish of activity: trades for a few symbols (a share of them out of order,
 * some beyond the allowed lateness) and users buying, selling, spending and earning rewards.
 * User events are in event-time order per user, as a platform's ledger emits them.
 */
export const makeDataset = (opts: {
  seed: number;
  start: number;
  minutes: number;
  users: number;
  tooLateEvery?: number;
}): Dataset => {
  const rnd = prng(opts.seed);
  const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
  const base: Record<string, bigint> = { BTCUSDT: 43_000n, ETHUSDT: 2_300n, SOLUSDT: 60n };
  const prices: PriceEvent[] = [];
  const last = new Map<string, Decimal>();
  let trade = 0;
  const end = opts.start + opts.minutes * 60_000;
  for (let t = opts.start; t < end; t += 250) {
    const s = symbols[trade % symbols.length]!;
    // price = base +/- up to 1 %, with 4 decimals
    const bp = base[s]! * 10_000n;
    const drift = (BigInt(rnd() % 20_001) - 10_000n) * base[s]!;
    const p = Decimal.fromUnits(bp + drift / 100n, 4).rescale(PRICE_SCALE);
    let eventTime = t;
    if (trade % 17 === 5) eventTime = t - 3_000; // within out-of-orderness
    if (trade % 23 === 7) eventTime = t - 20_000; // late: its 1m window may have closed, but within allowed lateness
    if (opts.tooLateEvery && trade % opts.tooLateEvery === 3) eventTime = t - 200_000;
    prices.push({
      kind: 'price',
      eventId: `synthetic:${s}:${trade}`,
      symbol: s,
      price: p,
      quantity: q(BigInt(1 + (rnd() % 5000)) * 10n ** 14n),
      eventTime,
      tradeId: String(trade),
      source: 'synthetic',
    });
    last.set(s, p);
    trade++;
  }
  const transactions: TransactionEvent[] = [];
  const rewards: RewardEvent[] = [];
  const held = new Map<string, bigint>();
  let seq = 0;
  const priceAt = (sym: string, t: number): Decimal => {
    // latest trade at or before t (prices are generated in t order, ignoring the shifted ones)
    let lo = 0;
    let hi = prices.length - 1;
    let best = prices[0]!;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = prices[mid]!;
      if (opts.start + mid * 250 <= t) {
        lo = mid + 1;
        if (m.symbol === sym) best = m;
      } else hi = mid - 1;
    }
    for (let i = Math.min(lo, prices.length - 1); i >= 0; i--)
      if (prices[i]!.symbol === sym && opts.start + i * 250 <= t) return prices[i]!.price;
    return best.price;
  };
  for (let t = opts.start + 1_000; t < end; t += 700) {
    const user = `u${String(rnd() % opts.users).padStart(4, '0')}`;
    const sym = symbols[rnd() % symbols.length]!;
    const asset = sym.slice(0, -4);
    const price = priceAt(sym, t);
    const k = `${user}|${asset}`;
    const h = held.get(k) ?? 0n;
    const r = rnd() % 10;
    const id = `tx-${opts.seed}-${seq++}`;
    const common = { kind: 'transaction' as const, eventId: id, userId: user, asset, price, eventTime: t };
    if (r < 4 || h === 0n) {
      const qty = BigInt(1 + (rnd() % 1000)) * 10n ** 15n;
      const baseFee = r === 3;
      transactions.push({
        ...common,
        type: 'buy',
        quantity: q(qty),
        fee: baseFee ? q(qty / 1000n) : Decimal.fromUnits(BigInt(rnd() % 500) * 10n ** 10n, 12),
        feeAsset: baseFee ? asset : 'USD',
      });
      held.set(k, h + qty - (baseFee ? qty / 1000n : 0n));
    } else if (r < 6) {
      const qty = h / 3n + 1n;
      transactions.push({
        ...common,
        type: 'sell',
        quantity: q(qty),
        fee: Decimal.fromUnits(10n ** 11n, 12),
        feeAsset: 'USD',
      });
      held.set(k, h - qty);
    } else if (r < 9) {
      const qty = h / 10n + 1n;
      transactions.push({ ...common, type: 'card_spend', quantity: q(qty), fee: Decimal.zero(12), feeAsset: 'USD' });
      held.set(k, h - qty);
      const cq = qty / 50n + 1n;
      rewards.push({
        kind: 'reward',
        eventId: `rw-${opts.seed}-${seq++}`,
        userId: user,
        rewardType: 'cashback',
        asset,
        quantity: q(cq),
        price,
        eventTime: t + 1,
        refEventId: id,
      });
      held.set(k, h - qty + cq);
    } else {
      const qty = BigInt(1 + (rnd() % 100)) * 10n ** 12n;
      rewards.push({
        kind: 'reward',
        eventId: `rw-${opts.seed}-${seq++}`,
        userId: user,
        rewardType: 'staking',
        asset,
        quantity: q(qty),
        price,
        eventTime: t,
      });
      held.set(k, h + qty);
    }
  }
  return { prices, transactions, rewards };
};

export const userEvents = (d: Dataset): UserEvent[] => [...d.transactions, ...d.rewards];

/**
 * The part [from, to) of a dataset, as fractions of each topic's records: slices taken in order keep
 * every topic's (and so every partition's) record order, and cover the same event-time span per topic.
 */
export const sliceDataset = (d: Dataset, from: number, to: number): Dataset => {
  const cut = <T>(xs: readonly T[]) => xs.slice(Math.round(xs.length * from), Math.round(xs.length * to));
  return { prices: cut(d.prices), transactions: cut(d.transactions), rewards: cut(d.rewards) };
};

export const datasetSize = (d: Dataset): number => d.prices.length + d.transactions.length + d.rewards.length;

/** One producer for several `produce` calls (keys: symbol / user id, through the real codec). */
export const datasetProducer = async (config: Config) => {
  const p = await BatchingProducer.connect(config);
  return {
    produce: async (d: Dataset): Promise<void> => {
      await p.push(
        topicName(config.topicPrefix, 'prices'),
        d.prices.map((e) => ({ key: e.symbol, value: encodePrice(e) })),
      );
      await p.push(
        topicName(config.topicPrefix, 'transactions'),
        d.transactions.map((e) => ({ key: e.userId, value: encodeTransaction(e) })),
      );
      await p.push(
        topicName(config.topicPrefix, 'rewards'),
        d.rewards.map((e) => ({ key: e.userId, value: encodeReward(e) })),
      );
      await p.flush();
    },
    close: () => p.disconnect(),
  };
};

/** Produce a dataset through the real codec and producer (keys: symbol / user id). */
export const produceDataset = async (config: Config, d: Dataset): Promise<void> => {
  const p = await datasetProducer(config);
  try {
    await p.produce(d);
  } finally {
    await p.close();
  }
};
