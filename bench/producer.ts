/**
 * Synthetic producer throughput against the local broker. Prints figures; not a test.
 *
 *   npx tsc -p bench/tsconfig.json && node .cryptolambda/bench/bench/producer.js [events] [symbols]
 *
 * (tsx is not installed; the bench compiles next to the other local state, which is git-ignored.)
 * Stages: generation only, generation + Avro single-object encoding, then the full path
 * (runProducePrices: generate, encode, idempotent batching producer, acks=all) into throw-away
 * topics that are deleted afterwards.
 *
 * Batches much larger than the default 5000 can exceed the broker's 1 MB message.max.bytes for a
 * partition holding several symbols (MESSAGE_TOO_LARGE), so they are not benchmarked.
 */
import { randomUUID } from 'node:crypto';
import { encodePrice } from '../src/adapters/avro/codec.js';
import { withAdmin } from '../src/adapters/kafka/client.js';
import { runProducePrices } from '../src/app/produce/prices.js';
import { resolveConfig } from '../src/config/config.js';
import { SyntheticPrices } from '../src/core/sources/synthetic.js';
import { report } from './report.js';

const N = Number(process.argv[2] ?? 200_000);
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT', 'ADAUSDT', 'DOGEUSDT'].slice(
  0,
  Number(process.argv[3] ?? 3),
);
const START = Date.UTC(2025, 0, 1);

const perSec = (n: number, ms: number): string => `${Math.round((n * 1000) / ms).toLocaleString('en-US')} events/s`;

const timeIt = (label: string, fn: () => void): void => {
  const t0 = performance.now();
  fn();
  const ms = performance.now() - t0;
  console.log(
    `${label.padEnd(34)} ${perSec(N, ms).padStart(18)}  (${N.toLocaleString('en-US')} in ${ms.toFixed(0)} ms)`,
  );
};

const main = async (): Promise<void> => {
  console.log(`node ${process.version}, ${N.toLocaleString('en-US')} events, symbols ${SYMBOLS.join(',')}`);
  timeIt('generate (bigint GBM)', () => {
    const g = new SyntheticPrices({ seed: 1n, symbols: SYMBOLS, startTime: START });
    for (let i = 0; i < N; i++) g.next();
  });
  let bytes = 0;
  timeIt('generate + Avro encode', () => {
    const g = new SyntheticPrices({ seed: 1n, symbols: SYMBOLS, startTime: START });
    for (let i = 0; i < N; i++) bytes += encodePrice(g.next()).length;
  });
  console.log(`${'avg record value'.padEnd(34)} ${(bytes / N).toFixed(1).padStart(12)} bytes`);

  const config = resolveConfig(
    { topicPrefix: `bench${randomUUID().slice(0, 8)}.` },
    { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: '' },
  );
  try {
    for (const [label, producer] of [
      ['kafka, default batching (5000)', undefined],
      ['kafka, batches of 1000', { maxBatch: 1000 }],
    ] as const) {
      const r = await runProducePrices(config, {
        source: 'synthetic',
        symbols: SYMBOLS,
        seed: 1n,
        startTime: START,
        rate: 0,
        count: N,
        ...(producer ? { producer } : {}),
      });
      if (r.acked !== r.produced) throw new Error(`acked ${r.acked} != produced ${r.produced}`);
      report(
        'producer',
        `events/s, ${label}`,
        (r.produced * 1000) / r.durationMs,
        'ev/s',
        `${SYMBOLS.length} symbols, acks=all, idempotent`,
      );
      console.log(
        `${`full path: ${label}`.padEnd(34)} ${perSec(r.produced, r.durationMs).padStart(18)}  (${r.produced.toLocaleString('en-US')} acked in ${r.durationMs} ms, ${r.backpressureWaits} back-pressure waits)`,
      );
    }
  } finally {
    await withAdmin(config, async (admin) => {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(config.topicPrefix));
      if (mine.length) await admin.deleteTopics({ topics: mine });
    });
  }
};

await main();
