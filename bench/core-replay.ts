/**
 * Core replay of one heavy user: 10k, 100k and 1M buys/sells in one day through `replayUser`, the
 * function both layers call. Per-event cost must not grow with the user's history (issue 13), so
 * events/s stays flat and the time ratio between sizes stays ~10. Prints figures; asserts nothing.
 *
 *   npx tsc -p bench/tsconfig.json && node .cryptolambda/bench/bench/core-replay.js [sizes...]
 *
 * One core (this process, no workers). Events are generated before the clock starts; the replay
 * includes the sort by (eventTime, eventId), duplicate detection, the positions and the 30-day
 * window, as in the speed layer and the batch.
 *
 * A long-running worker replays warm code; a cold process spends its first ~50k events in V8's
 * interpreter and baseline tiers (measured: a first 10k replay ran at ~40k events/s, the third 10k
 * in the same process at ~200k). So a warm-up replay of another user runs first and is reported on
 * its own line ("cold start"), and every size is timed warm. The GC time inside each timed replay
 * is reported too (PerformanceObserver 'gc' entries): on this shared machine it is the part that
 * varies most with the other processes (parallel scavenges wait for starved helper threads).
 */
import os from 'node:os';
import { type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import type { TransactionEvent } from '../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../src/core/money/decimal.js';
import { emptyUser, replayUser } from '../src/core/speed/user-ledger.js';
import { report } from './report.js';

const SIZES = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [10_000, 100_000, 1_000_000];
const DAY = Date.UTC(2026, 0, 15);

/** n events in one day: buy 1 unit then sell part of it, prices moving, ~1 in 10 a card spend. */
const heavyDay = (n: number): TransactionEvent[] => {
  const out: TransactionEvent[] = [];
  const step = Math.max(1, Math.floor((24 * 3600_000) / n));
  const fee = Decimal.parse('0.1', USD_SCALE);
  for (let i = 0; i < n; i++) {
    const k = i % 10;
    const price = Decimal.fromUnits(BigInt(40_000 + (i % 997)) * 10n ** 12n, PRICE_SCALE);
    out.push({
      kind: 'transaction',
      eventId: `hv-${i}`,
      userId: 'heavy',
      type: k === 9 ? 'card_spend' : k % 2 === 0 ? 'buy' : 'sell',
      asset: k === 9 ? 'USD' : i % 3 === 0 ? 'ETH' : 'BTC',
      quantity: Decimal.parse(k % 2 === 0 || k === 9 ? '1' : '0.5', QTY_SCALE),
      price: k === 9 ? Decimal.parse('1', PRICE_SCALE) : price,
      fee,
      feeAsset: 'USD',
      eventTime: DAY + Math.min(i * step, 24 * 3600_000 - 1),
    });
  }
  return out;
};

const gcEntries: PerformanceEntry[] = [];
const gcObserver = new PerformanceObserver((list) => gcEntries.push(...list.getEntries()));
gcObserver.observe({ entryTypes: ['gc'] });
/** GC milliseconds between two performance.now() instants (the observer is called on a later turn of the event loop). */
const gcMsBetween = async (t0: number, t1: number): Promise<number> => {
  await new Promise((r) => setTimeout(r, 20));
  return gcEntries.filter((g) => g.startTime >= t0 && g.startTime < t1).reduce((s, g) => s + g.duration, 0);
};

const timed = (user: string, events: TransactionEvent[]) => {
  globalThis.gc?.();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = replayUser(emptyUser(user), events);
  const t1 = performance.now();
  const cpu = process.cpuUsage(c0);
  // On a shared machine wall time includes waiting for a core; CPU time is what one core spent.
  return { r, t0, t1, ms: t1 - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
};

{
  const WARM = 50_000;
  const w = timed('warm-up', heavyDay(WARM));
  process.stdout.write(
    `cold start ${WARM.toLocaleString('en-US').padStart(10)} events ${(w.ms / 1000).toFixed(2).padStart(6)} s wall ` +
      `${(w.cpuMs / 1000).toFixed(2).padStart(6)} s cpu ${Math.round(WARM / (w.ms / 1000))
        .toLocaleString('en-US')
        .padStart(9)} ev/s ` +
      `(first replay of a fresh process: JIT warm-up)\n`,
  );
  report('core-replay', `events/s cold start (${WARM})`, WARM / (w.ms / 1000), 'ev/s', 'first replay of the process');
}

const results: { n: number; ms: number }[] = [];
for (const n of SIZES) {
  // A small replay lasts tens of milliseconds, the scale of the noise (a descheduled thread, the
  // sweeping after the forced GC): sizes below 200k are replayed several times, the median kept.
  const events = heavyDay(n);
  const runs: ReturnType<typeof timed>[] = [];
  for (let i = 0; i < Math.max(1, Math.floor(200_000 / n)); i++) runs.push(timed('heavy', events));
  runs.sort((a, b) => a.cpuMs - b.cpuMs);
  const { r, t0, t1, ms, cpuMs } = runs[Math.floor((runs.length - 1) / 2)]!;
  const gcMs = await gcMsBetween(t0, t1);
  const day = [...r.days.values()][0]!;
  results.push({ n, ms });
  const rate = n / (ms / 1000);
  process.stdout.write(
    `core replay ${n.toLocaleString('en-US').padStart(10)} events ${(ms / 1000).toFixed(2).padStart(6)} s wall ` +
      `${(cpuMs / 1000).toFixed(2).padStart(6)} s cpu ${Math.round(rate).toLocaleString('en-US').padStart(9)} ev/s ` +
      `${Math.round(n / (cpuMs / 1000))
        .toLocaleString('en-US')
        .padStart(9)} ev/cpu-s gc ${(gcMs / 1000).toFixed(2)} s ` +
      `(${day.events} applied, ${day.rejected} rejected${runs.length > 1 ? `, median of ${runs.length}` : ''})\n`,
  );
  report('core-replay', `events/s at ${n}`, rate, 'ev/s', 'one heavy user, one day, one core (wall)');
  report('core-replay', `events/cpu-s at ${n}`, n / (cpuMs / 1000), 'ev/s', 'CPU time of this process');
  report('core-replay', `time at ${n}`, ms / 1000, 's', 'target <= 5 s at 1M');
  report('core-replay', `gc time at ${n}`, gcMs / 1000, 's', 'GC pauses inside the timed replay');
}
gcObserver.disconnect();
process.stdout.write(
  `load average ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} on ${os.cpus().length} cores\n`,
);
for (let i = 1; i < results.length; i++) {
  const a = results[i - 1]!;
  const b = results[i]!;
  const ratio = b.ms / a.ms;
  process.stdout.write(`time ratio ${b.n}/${a.n} events (x${b.n / a.n}): ${ratio.toFixed(2)}\n`);
  report('core-replay', `time ratio ${b.n}/${a.n}`, ratio, 'x', `linear = ${b.n / a.n}`);
}
