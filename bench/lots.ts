/**
 * Core replay with tax lots on one heavy user: events/s and memory at 10k, 100k and 1M events (a
 * day of a 1M-events/day user), FIFO by default, and LIFO / HIFO / average at the largest size.
 * Prints figures; asserts nothing (only that the replay's invariants hold: lots = position).
 *
 *   npx tsc -p bench/tsconfig.json && node --expose-gc .cryptolambda/bench/bench/lots.js [maxEvents]
 *
 * The event mix keeps many partially consumed lots open: 7 of 10 events are buys of 0.5..1.5 BTC,
 * 3 are sells of 1.5 BTC (each empties one or two lots and leaves the next one partial), so about a
 * quarter of the events are open lots at the end. Events are generated as the replay runs (the
 * timing includes building them, as decoding does in the stream), so memory is the lots' own.
 */
import type { TransactionEvent } from '../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../src/core/money/decimal.js';
import { applyLotEvent } from '../src/core/portfolio/lot-accounting.js';
import { type CostMethod, LotQueue } from '../src/core/portfolio/lots.js';
import { emptyPosition, type Position } from '../src/core/portfolio/position.js';
import { report } from './report.js';

const MAX = Number(process.argv[2] ?? 1_000_000);
const T0 = Date.UTC(2026, 10, 23);
const E18 = 10n ** 18n;
const ZERO_FEE = Decimal.zero(USD_SCALE);

/** Deterministic xorshift so every run replays the same events. */
const rng = (seed: number) => {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
};

const event = (i: number, r: () => number): TransactionEvent => {
  const sell = i % 10 >= 7;
  const units = sell ? (3n * E18) / 2n : E18 / 2n + BigInt(Math.floor(r() * 1e6)) * 10n ** 12n;
  return {
    kind: 'transaction',
    eventId: `e${i}`,
    userId: 'heavy',
    type: sell ? 'sell' : 'buy',
    asset: 'BTC',
    quantity: Decimal.fromUnits(units, QTY_SCALE),
    price: Decimal.fromUnits(BigInt(40_000 + Math.floor(r() * 5_000)) * 10n ** 12n + 123n, PRICE_SCALE),
    fee: ZERO_FEE,
    feeAsset: 'USD',
    // 1M events in one day: one every 86 ms of event time.
    eventTime: T0 + Math.floor((i * 86_400_000) / 1_000_000),
  };
};

const heapMb = (): number => {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

const run = (method: CostMethod, n: number) => {
  const before = heapMb();
  let lots = LotQueue.empty(method);
  let p: Position = emptyPosition('heavy', 'BTC');
  let rejected = 0;
  let rows = 0;
  const r = rng(42);
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const a = applyLotEvent(p, lots, event(i, r));
    if (!a.ok) rejected++;
    else {
      p = a.position;
      lots = a.lots;
      rows += a.disposals.length;
    }
  }
  const sec = Number(process.hrtime.bigint() - t) / 1e9;
  const mb = heapMb() - before;
  if (!lots.quantity.eq(p.quantity) || (method !== 'average' && !lots.cost.eq(p.costBasis))) {
    throw new Error(`${method}: lots and position disagree`);
  }
  const perSec = n / sec;
  console.log(
    `${method.padEnd(7)} ${String(n).padStart(9)} events  ${Math.round(perSec).toLocaleString('en-US').padStart(9)} ev/s  ` +
      `${lots.size.toLocaleString('en-US').padStart(9)} open lots  ${rows.toLocaleString('en-US').padStart(9)} disposal rows  ` +
      `${mb.toFixed(1).padStart(7)} MB heap  ${rejected} rejected`,
  );
  // Keep the queue alive until measured.
  return { perSec, mb, size: lots.size };
};

// Warm the JIT first so the smallest size is not measuring compilation.
run('fifo', 20_000);
const sizes = [MAX / 100, MAX / 10, MAX].map(Math.round);
const fifo = sizes.map((n) => run('fifo', n));
for (const [i, n] of sizes.entries()) {
  report('lots', `fifo replay ${n.toLocaleString('en-US')} events`, fifo[i]!.perSec, 'ev/s', 'heavy user, one asset');
}
const big = fifo.at(-1)!;
report('lots', 'fifo heap per open lot', (big.mb * 2 ** 20) / Math.max(1, big.size), 'bytes', `${big.size} open lots`);
report('lots', 'fifo ev/s ratio 100x / 1x', big.perSec / fifo[0]!.perSec, 'x', '>= 1: cost per event does not grow');
report('lots', 'fifo ev/s ratio 100x / 10x', big.perSec / fifo[1]!.perSec, 'x', '1 = linear total cost');
for (const m of ['lifo', 'hifo', 'average'] as const) {
  const x = run(m, MAX);
  report('lots', `${m} replay ${MAX.toLocaleString('en-US')} events`, x.perSec, 'ev/s', `${x.size} open lots`);
}
