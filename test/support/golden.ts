import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { correlationMatrix, dailyReturns, pearson, RETURN_SCALE } from '../../src/core/analytics/correlation.js';
import type { PriceEvent, UserEvent } from '../../src/core/events/types.js';
import { validatePrice, validateReward, validateTransaction } from '../../src/core/events/validate.js';
import { Decimal, PRICE_SCALE, USD_SCALE } from '../../src/core/money/decimal.js';
import {
  buildCandles,
  type Candle,
  INTERVALS_MS,
  type Interval,
  vwap,
  windowStart,
} from '../../src/core/ohlcv/candle.js';
import { classify, type Lateness, NO_WATERMARK, WatermarkTracker } from '../../src/core/ohlcv/watermark.js';
import {
  applyAll,
  avgCost,
  type Book,
  bookKey,
  compareEvents,
  netInvested,
  notional,
  type Position,
  valueAt,
} from '../../src/core/portfolio/position.js';
import {
  advanceTo,
  DEFAULT_TIERS,
  initialTierState,
  recordSpend,
  type Spend,
  type TierDef,
  tierAt,
} from '../../src/core/rewards/tiers.js';
import type { CandleFieldsJson } from '../../src/core/speed/price-windows.js';

/**
 * Golden cases (fixtures/golden/*.json): hand-worked inputs and expected outputs shared by the core
 * unit tests, the speed layer and the batch layer. Each `compute*` function turns a case's input
 * into rows in the exact shape of the matching `expected` field (canonical Decimal strings), so any
 * layer can replay the same file and compare with `toEqual`.
 */
export const GOLDEN_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/golden');

export interface PositionRow {
  userId: string;
  asset: string;
  quantity: string;
  staked: string;
  costBasis: string;
  avgCost: string;
  realizedPnl: string;
  feesPaid: string;
  rewardIncome: string;
  netInvested: string;
}

export interface ValuationRow {
  userId: string;
  asset: string;
  /** Input of the valuation (mark price), echoed so a row is self-describing. */
  price: string;
  marketValue: string;
  unrealizedPnl: string;
}

export interface RejectRow {
  eventId: string;
  code: string;
}

export interface InvalidRow {
  /** Position of the raw event in `input.events`. */
  index: number;
  reason: string;
}

export interface CandleRow extends CandleFieldsJson {
  symbol: string;
  interval: Interval;
}

export interface LatenessRow {
  eventId: string;
  partition: string;
  windowEnd: number;
  /** Watermark the event is judged against (before it is observed); null before any event. */
  watermark: number | null;
  lateness: Lateness;
}

export interface TierChangeRow {
  at: number;
  from: string;
  to: string;
  spend30d: string;
}

export interface TierSpendRow {
  eventId: string;
  amount: string;
  tier: string;
  cashback: string;
  capped: string;
}

export interface TierUserRow {
  userId: string;
  changes: TierChangeRow[];
  spends: TierSpendRow[];
  /** tierAt() queries over the user's full spend history; `t` is the query input. */
  at: { t: number; tier: string }[];
  final: { tier: string; spend30d: string; month: string; owedThisMonth: string };
}

export interface CorrelationPairRow {
  a: string;
  b: string;
  correlation: string | null;
  days: number;
}

export interface CorrelationResult {
  /** Daily returns per series of `input.correlation.closes` (RETURN_SCALE). */
  returns?: Record<string, string[]>;
  pairs?: CorrelationPairRow[];
  /** pearson(x, y) of `input.correlation.returns`. */
  value?: string | null;
}

export interface WatermarkInput {
  /** `partition`: judge each event by its own partition's watermark (what the speed layer does); `stream`: by the min-across-partitions watermark. */
  mode: 'partition' | 'stream';
  outOfOrdernessMs: number;
  idleTimeoutMs: number;
  allowedLatenessMs: number;
  interval: Interval;
  /** Arrival order: which price event arrives on which partition at which processing time. */
  arrivals: { eventId: string; partition: string; now: number }[];
}

export interface TierTableRow {
  name: string;
  threshold: string;
  rate: string;
  monthlyCap: string;
}

export interface GoldenInput {
  events?: unknown[];
  watermark?: WatermarkInput;
  tiers?: { table?: TierTableRow[]; advanceTo?: number };
  correlation?: { closes?: Record<string, string[]>; windowDays?: number; returns?: { x: string[]; y: string[] } };
}

export interface GoldenExpected {
  invalid?: InvalidRow[];
  positions?: PositionRow[];
  valuation?: ValuationRow[];
  rejected?: RejectRow[];
  candles?: CandleRow[];
  lateness?: LatenessRow[];
  tiers?: TierUserRow[];
  correlation?: CorrelationResult;
}

export interface GoldenCase {
  file: string;
  name: string;
  why: string | string[];
  input: GoldenInput;
  expected: GoldenExpected;
}

export const loadGoldenCases = (dir: string = GOLDEN_DIR): GoldenCase[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, ...(JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Omit<GoldenCase, 'file'>) }));

export interface ValidatedInput {
  prices: PriceEvent[];
  userEvents: UserEvent[];
  invalid: InvalidRow[];
}

/** Every raw event through the boundary validators, dispatched on `kind`. */
export const validateInput = (c: GoldenCase): ValidatedInput => {
  const out: ValidatedInput = { prices: [], userEvents: [], invalid: [] };
  (c.input.events ?? []).forEach((raw, index) => {
    const k = (raw as { kind?: unknown }).kind;
    if (k === 'price') {
      const v = validatePrice(raw);
      if (v.ok) out.prices.push(v.event);
      else out.invalid.push({ index, reason: v.reason });
    } else if (k === 'transaction' || k === 'reward') {
      const v = k === 'transaction' ? validateTransaction(raw) : validateReward(raw);
      if (v.ok) out.userEvents.push(v.event);
      else out.invalid.push({ index, reason: v.reason });
    } else out.invalid.push({ index, reason: `kind: unknown ${JSON.stringify(k)}` });
  });
  return out;
};

export interface PositionsResult {
  book: Book;
  positions: PositionRow[];
  rejected: RejectRow[];
}

/** A position as a golden row (`userId` overrides the position's, e.g. a namespaced test user). */
export const positionRow = (p: Position, userId: string = p.userId): PositionRow => ({
  userId,
  asset: p.asset,
  quantity: p.quantity.toString(),
  staked: p.staked.toString(),
  costBasis: p.costBasis.toString(),
  avgCost: avgCost(p).toString(),
  realizedPnl: p.realizedPnl.toString(),
  feesPaid: p.feesPaid.toString(),
  rewardIncome: p.rewardIncome.toString(),
  netInvested: netInvested(p).toString(),
});

/** A candle as a golden row. */
export const candleRow = (k: Candle, interval: Interval): CandleRow => ({
  symbol: k.symbol,
  interval,
  start: k.start,
  end: k.end,
  open: k.open.toString(),
  high: k.high.toString(),
  low: k.low.toString(),
  close: k.close.toString(),
  volume: k.volume.toString(),
  quoteVolume: k.quoteVolume.toString(),
  trades: k.trades,
  vwap: vwap(k).toString(),
});

export const computePositions = (c: GoldenCase): PositionsResult => {
  const { userEvents } = validateInput(c);
  const { book, rejected } = applyAll(new Map(), userEvents);
  const positions = [...book.values()]
    .sort((a, b) => (bookKey(a.userId, a.asset) < bookKey(b.userId, b.asset) ? -1 : 1))
    .map((p) => positionRow(p));
  return { book, positions, rejected: rejected.map((r) => ({ eventId: r.event.eventId, code: r.code })) };
};

/** Value positions at the mark prices the queries give (the query rows of `expected.valuation`). */
export const computeValuation = (
  book: Book,
  queries: readonly { userId: string; asset: string; price: string }[],
): ValuationRow[] =>
  queries.map((q) => {
    const p = book.get(bookKey(q.userId, q.asset));
    if (p === undefined) throw new Error(`no position ${q.userId}/${q.asset}`);
    const v = valueAt(p, Decimal.parse(q.price, PRICE_SCALE));
    return {
      userId: q.userId,
      asset: q.asset,
      price: q.price,
      marketValue: v.marketValue.toString(),
      unrealizedPnl: v.unrealizedPnl.toString(),
    };
  });

/** All candles of the given intervals (in INTERVALS_MS order), each sorted by symbol then start. */
export const computeCandles = (c: GoldenCase, intervals: readonly Interval[]): CandleRow[] => {
  const { prices } = validateInput(c);
  const wanted = (Object.keys(INTERVALS_MS) as Interval[]).filter((i) => intervals.includes(i));
  return wanted.flatMap((interval) => buildCandles(prices, INTERVALS_MS[interval]).map((k) => candleRow(k, interval)));
};

/**
 * Replay `input.watermark.arrivals`: each price event is judged against the watermark BEFORE it is
 * observed (an event cannot make itself on time), then observed.
 */
export const computeLateness = (c: GoldenCase): LatenessRow[] => {
  const w = c.input.watermark;
  if (w === undefined) throw new Error(`${c.file}: input.watermark is missing`);
  const byId = new Map(validateInput(c).prices.map((p) => [p.eventId, p]));
  const tracker = new WatermarkTracker({ outOfOrdernessMs: w.outOfOrdernessMs, idleTimeoutMs: w.idleTimeoutMs });
  const size = INTERVALS_MS[w.interval];
  return w.arrivals.map((a) => {
    const e = byId.get(a.eventId);
    if (e === undefined) throw new Error(`${c.file}: arrival of unknown event ${a.eventId}`);
    const windowEnd = windowStart(e.eventTime, size) + size;
    const wm = w.mode === 'partition' ? tracker.partitionWatermark(a.partition) : tracker.current(a.now);
    const lateness = classify(windowEnd, wm, w.allowedLatenessMs);
    tracker.observe(a.partition, e.eventTime, a.now);
    return {
      eventId: e.eventId,
      partition: a.partition,
      windowEnd,
      watermark: wm === NO_WATERMARK ? null : wm,
      lateness,
    };
  });
};

export const tierTable = (c: GoldenCase): readonly TierDef[] =>
  c.input.tiers?.table?.map((t) => ({
    name: t.name,
    threshold: Decimal.parse(t.threshold, USD_SCALE),
    rate: Decimal.parse(t.rate, USD_SCALE),
    monthlyCap: Decimal.parse(t.monthlyCap, USD_SCALE),
  })) ?? DEFAULT_TIERS;

/**
 * Card spend per user: every card_spend the portfolio did not reject (a crypto card spend beyond
 * holdings never happened), valued at quantity x price (USD_SCALE); processed by (eventTime, eventId),
 * then advanced to `input.tiers.advanceTo` when given.
 */
export const computeTiers = (c: GoldenCase, atQueries: ReadonlyMap<string, readonly number[]>): TierUserRow[] => {
  const tiers = tierTable(c);
  const { userEvents } = validateInput(c);
  const rejected = new Set(computePositions(c).rejected.map((r) => r.eventId));
  const byUser = new Map<string, Spend[]>();
  for (const e of [...userEvents].sort(compareEvents)) {
    if (e.kind !== 'transaction' || e.type !== 'card_spend' || rejected.has(e.eventId)) continue;
    const list = byUser.get(e.userId) ?? [];
    list.push({ eventId: e.eventId, eventTime: e.eventTime, amount: notional(e.quantity, e.price) });
    byUser.set(e.userId, list);
  }
  return [...byUser.keys()].sort().map((userId) => {
    const spends = byUser.get(userId)!;
    let state = initialTierState(tiers);
    const changes: TierChangeRow[] = [];
    const spendRows: TierSpendRow[] = [];
    const pushChanges = (cs: readonly { at: number; from: string; to: string; spend30d: Decimal }[]) => {
      for (const ch of cs) changes.push({ at: ch.at, from: ch.from, to: ch.to, spend30d: ch.spend30d.toString() });
    };
    for (const s of spends) {
      const r = recordSpend(state, s, tiers);
      state = r.state;
      pushChanges(r.changes);
      spendRows.push({
        eventId: s.eventId,
        amount: s.amount.toString(),
        tier: r.tier.name,
        cashback: r.cashback.toString(),
        capped: r.capped.toString(),
      });
    }
    const until = c.input.tiers?.advanceTo;
    if (until !== undefined) {
      const adv = advanceTo(state, until, tiers);
      state = adv.state;
      pushChanges(adv.changes);
    }
    return {
      userId,
      changes,
      spends: spendRows,
      at: (atQueries.get(userId) ?? []).map((t) => ({ t, tier: tierAt(spends, t, tiers).name })),
      final: {
        tier: state.tier,
        spend30d: state.spend30d.toString(),
        month: state.month,
        owedThisMonth: state.owedThisMonth.toString(),
      },
    };
  });
};

export const computeCorrelation = (c: GoldenCase): CorrelationResult => {
  const ci = c.input.correlation;
  if (ci === undefined) throw new Error(`${c.file}: input.correlation is missing`);
  const out: CorrelationResult = {};
  if (ci.closes !== undefined) {
    const closes = new Map(
      Object.entries(ci.closes).map(([k, v]) => [k, v.map((s) => Decimal.parse(s, PRICE_SCALE))] as const),
    );
    out.returns = Object.fromEntries([...closes].map(([k, v]) => [k, dailyReturns(v).map((r) => r.toString())]));
    const days = ci.windowDays ?? Math.max(...[...closes.values()].map((v) => v.length - 1));
    out.pairs = correlationMatrix(closes, days).map((p) => ({
      a: p.a,
      b: p.b,
      correlation: p.correlation?.toString() ?? null,
      days: p.days,
    }));
  }
  if (ci.returns !== undefined) {
    const parse = (xs: string[]) => xs.map((s) => Decimal.parse(s, RETURN_SCALE));
    out.value = pearson(parse(ci.returns.x), parse(ci.returns.y))?.toString() ?? null;
  }
  return out;
};

/** The actual results for every field the case's `expected` names, in the same shapes. */
export const actualFor = (c: GoldenCase): GoldenExpected => {
  const e = c.expected;
  const out: GoldenExpected = {};
  if (e.invalid !== undefined) out.invalid = validateInput(c).invalid;
  if (e.positions !== undefined || e.rejected !== undefined || e.valuation !== undefined) {
    const r = computePositions(c);
    if (e.positions !== undefined) out.positions = r.positions;
    if (e.rejected !== undefined) out.rejected = r.rejected;
    if (e.valuation !== undefined) out.valuation = computeValuation(r.book, e.valuation);
  }
  if (e.candles !== undefined) out.candles = computeCandles(c, [...new Set(e.candles.map((k) => k.interval))]);
  if (e.lateness !== undefined) out.lateness = computeLateness(c);
  if (e.tiers !== undefined) out.tiers = computeTiers(c, new Map(e.tiers.map((u) => [u.userId, u.at.map((q) => q.t)])));
  if (e.correlation !== undefined) out.correlation = computeCorrelation(c);
  return out;
};
