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
 */
import os from 'node:os';
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

const results: { n: number; ms: number }[] = [];
for (const n of SIZES) {
  const events = heavyDay(n);
  globalThis.gc?.();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = replayUser(emptyUser('heavy'), events);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  // On a shared machine wall time includes waiting for a core; CPU time is what one core spent.
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const day = [...r.days.values()][0]!;
  results.push({ n, ms });
  const rate = n / (ms / 1000);
  process.stdout.write(
    `core replay ${n.toLocaleString('en-US').padStart(10)} events ${(ms / 1000).toFixed(2).padStart(6)} s wall ` +
      `${(cpuMs / 1000).toFixed(2).padStart(6)} s cpu ${Math.round(rate).toLocaleString('en-US').padStart(9)} ev/s ` +
      `(${day.events} applied, ${day.rejected} rejected)\n`,
  );
  report('core-replay', `events/s at ${n}`, rate, 'ev/s', 'one heavy user, one day, one core (wall)');
  report('core-replay', `events/cpu-s at ${n}`, n / (cpuMs / 1000), 'ev/s', 'CPU time of this process');
  report('core-replay', `time at ${n}`, ms / 1000, 's', 'target <= 5 s at 1M');
}
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
