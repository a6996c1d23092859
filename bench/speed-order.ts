/**
 * The speed engine's cost per user event when events arrive out of order (issue 14). One partition
 * engine (pure, one core), one heavy user with n events in one day (buys, sells, one in ten a card
 * spend) plus n/10 events of 1,000 light users, arriving in two ways:
 *
 * - in order (the merge buffer's common case);
 * - with 1% of the events held back 10 minutes of event time (arriving after the later events of their
 *   user: each is put in its place by re-applying that user's later events, docs/core.md §5b).
 *
 * Prints events/s, the late events' share of the time and the ratio between sizes (per-event cost
 * must not grow with n). Asserts nothing.
 *
 *   npx tsc -p bench/tsconfig.json && node .cryptolambda/bench/bench/speed-order.js [sizes...]
 */
import os from 'node:os';
import type { TransactionEvent, UserEvent } from '../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../src/core/money/decimal.js';
import { compareEvents } from '../src/core/portfolio/position.js';
import { DEFAULT_ENGINE_OPTIONS, PartitionEngine } from '../src/core/speed/engine.js';
import { report } from './report.js';

const SIZES = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [10_000, 100_000];
const DAY = Date.UTC(2026, 0, 15);
const LATE_MS = 10 * 60_000;
const fee = Decimal.parse('0.1', USD_SCALE);

const tx = (user: string, i: number, t: number): TransactionEvent => {
  const k = i % 10;
  return {
    kind: 'transaction',
    eventId: `${user}-${i}`,
    userId: user,
    type: k === 9 ? 'card_spend' : k % 2 === 0 ? 'buy' : 'sell',
    asset: k === 9 ? 'USD' : i % 3 === 0 ? 'ETH' : 'BTC',
    quantity: Decimal.parse(k % 2 === 0 || k === 9 ? '1' : '0.5', QTY_SCALE),
    price:
      k === 9
        ? Decimal.parse('1', PRICE_SCALE)
        : Decimal.fromUnits(BigInt(40_000 + (i % 997)) * 10n ** 12n, PRICE_SCALE),
    fee,
    feeAsset: 'USD',
    eventTime: t,
  };
};

const dataset = (n: number): UserEvent[] => {
  const out: UserEvent[] = [];
  const step = Math.floor((24 * 3600_000) / n);
  for (let i = 0; i < n; i++) out.push(tx('heavy', i, DAY + i * step));
  const light = Math.floor(n / 10);
  const lstep = Math.floor((24 * 3600_000) / light);
  for (let i = 0; i < light; i++) out.push(tx(`u${i % 1000}`, Math.floor(i / 1000) * 2 + (i % 2), DAY + i * lstep));
  return out.sort(compareEvents);
};

/** Arrival order: in event order, or with every 100th event moved 30 s of event time later. */
const arrival = (events: readonly UserEvent[], late: boolean): UserEvent[] => {
  if (!late) return [...events];
  const held = new Set(events.filter((_, i) => i % 100 === 50));
  const out: UserEvent[] = [];
  const pending: UserEvent[] = [];
  for (const e of events) {
    while (pending.length > 0 && pending[0]!.eventTime + LATE_MS <= e.eventTime) out.push(pending.shift()!);
    if (held.has(e)) pending.push(e);
    else out.push(e);
  }
  out.push(...pending);
  return out;
};

const run = (events: readonly UserEvent[]): { ms: number; engine: PartitionEngine } => {
  const engine = new PartitionEngine(DEFAULT_ENGINE_OPTIONS, 0);
  globalThis.gc?.();
  const t0 = performance.now();
  let now = 0;
  for (let i = 0; i < events.length; i += 100) {
    engine.addUsers('transactions', events.slice(i, i + 100), now);
    // Both topics caught up and quiet after each batch: the buffer is released (the idle case).
    now += DEFAULT_ENGINE_OPTIONS.userIdleMs;
    engine.tick(now, () => true);
    engine.drain();
  }
  return { ms: performance.now() - t0, engine };
};

const results: { n: number; mode: string; ms: number }[] = [];
for (const n of SIZES) {
  const events = dataset(n);
  for (const late of [false, true]) {
    const { ms, engine } = run(arrival(events, late));
    const mode = late ? '1% late by 10 min' : 'in order';
    results.push({ n, mode, ms });
    const rate = events.length / (ms / 1000);
    process.stdout.write(
      `speed order ${events.length.toLocaleString('en-US').padStart(9)} events (heavy ${n.toLocaleString('en-US')}) ` +
        `${mode.padEnd(16)} ${(ms / 1000).toFixed(2).padStart(6)} s ${Math.round(rate).toLocaleString('en-US').padStart(8)} ev/s ` +
        `reordered ${engine.counts.reordered}, too late ${engine.counts.tooLateUser}\n`,
    );
    report(
      'speed-order',
      `events/s ${mode} at ${n}`,
      rate,
      'ev/s',
      'one partition engine, one core, heavy user + 1,000 light',
    );
  }
}
process.stdout.write(
  `load average ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} on ${os.cpus().length} cores\n`,
);
for (const mode of ['in order', '1% late by 10 min']) {
  const rs = results.filter((r) => r.mode === mode);
  for (let i = 1; i < rs.length; i++) {
    const ratio = rs[i]!.ms / rs[i - 1]!.ms;
    process.stdout.write(
      `${mode}: time ratio ${rs[i]!.n}/${rs[i - 1]!.n} (x${rs[i]!.n / rs[i - 1]!.n}): ${ratio.toFixed(2)}\n`,
    );
    report(
      'speed-order',
      `time ratio ${mode} ${rs[i]!.n}/${rs[i - 1]!.n}`,
      ratio,
      'x',
      `linear = ${rs[i]!.n / rs[i - 1]!.n}`,
    );
  }
}
