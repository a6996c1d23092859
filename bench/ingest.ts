/**
 * `ingest` throughput: Kafka (Avro) → decoded, validated → Parquet raw zone with the atomic manifest.
 * Prints figures; not a test.
 *
 *   npx tsc -p bench/tsconfig.json && node .cryptolambda/bench/bench/ingest.js [events]
 *
 * Produces `events` records (70 % transactions, 30 % prices) into throw-away topics, then times
 * runIngestRaw, the code behind `cryptolambda ingest`. MB/s counts the Avro record values consumed;
 * the Parquet size written is printed next to it. Topics and the lake are deleted afterwards.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodePrice, encodeTransaction } from '../src/adapters/avro/codec.js';
import { ensureTopics, withAdmin } from '../src/adapters/kafka/client.js';
import { BatchingProducer } from '../src/adapters/kafka/producer.js';
import { runIngestRaw } from '../src/app/batch/ingest-raw.js';
import { resolveConfig } from '../src/config/config.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../src/core/money/decimal.js';
import { TOPICS, topicName } from '../src/core/topics.js';
import { report } from './report.js';

const N = Number(process.argv[2] ?? 300_000);
const T0 = Date.UTC(2026, 0, 10);

const main = async (): Promise<void> => {
  const lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-bench-ingest-'));
  const config = resolveConfig(
    { topicPrefix: `bench${randomUUID().slice(0, 8)}.`, lakeDir },
    { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: '' },
  );
  console.log(`node ${process.version}, ${N.toLocaleString('en-US')} events`);
  try {
    await withAdmin(config, (a) =>
      ensureTopics(a, config.topicPrefix, [TOPICS.prices, TOPICS.transactions, TOPICS.rewards, TOPICS.deadLetter]),
    );
    const producer = await BatchingProducer.connect(config);
    let bytes = 0;
    const t0 = performance.now();
    try {
      for (let i = 0; i < N; i++) {
        const eventTime = T0 + Math.floor((i / N) * 86_400_000);
        if (i % 10 < 7) {
          const value = encodeTransaction({
            kind: 'transaction',
            eventId: `tx-${i}`,
            userId: `u${String(i % 100_000).padStart(6, '0')}`,
            type: 'buy',
            asset: ['BTC', 'ETH', 'SOL'][i % 3]!,
            quantity: Decimal.fromUnits(BigInt(i + 1) * 10n ** 14n, QTY_SCALE),
            price: Decimal.fromUnits(43_000n * 10n ** 12n + BigInt(i), PRICE_SCALE),
            fee: Decimal.fromUnits(BigInt(i % 100) * 10n ** 10n, USD_SCALE),
            feeAsset: 'USD',
            eventTime,
          });
          bytes += value.length;
          await producer.push(topicName(config.topicPrefix, 'transactions'), [
            { key: `u${String(i % 100_000).padStart(6, '0')}`, value },
          ]);
        } else {
          const symbol = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'][i % 3]!;
          const value = encodePrice({
            kind: 'price',
            eventId: `synthetic:${symbol}:${i}`,
            symbol,
            price: Decimal.fromUnits(43_000n * 10n ** 12n + BigInt(i), PRICE_SCALE),
            quantity: Decimal.fromUnits(10n ** 15n, QTY_SCALE),
            eventTime,
            tradeId: String(i),
            source: 'synthetic',
          });
          bytes += value.length;
          await producer.push(topicName(config.topicPrefix, 'prices'), [{ key: symbol, value }]);
        }
      }
      await producer.flush();
    } finally {
      await producer.disconnect();
    }
    console.log(
      `produced ${N.toLocaleString('en-US')} records, ${(bytes / 1e6).toFixed(1)} MB of Avro values in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const t1 = performance.now();
    const r = await runIngestRaw(config);
    const s = (performance.now() - t1) / 1000;
    const parquet = r.files.reduce((n, f) => n + f.bytes, 0);
    report(
      'ingest',
      'Kafka → Parquet raw zone',
      bytes / 1e6 / s,
      'MB/s',
      `of Avro; ${Math.round(r.records / s)} records/s`,
    );
    console.log(
      `ingest: ${r.records.toLocaleString('en-US')} records in ${s.toFixed(1)} s = ${(bytes / 1e6 / s).toFixed(1)} MB/s of Avro, ` +
        `${Math.round(r.records / s).toLocaleString('en-US')} records/s; ${r.commits} commits, ${r.files.length} files, ` +
        `${(parquet / 1e6).toFixed(1)} MB Parquet (zstd), ${r.deadLetters} dead letters`,
    );
  } finally {
    await withAdmin(config, async (admin) => {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(config.topicPrefix));
      if (mine.length) await admin.deleteTopics({ topics: mine });
    });
    rmSync(lakeDir, { recursive: true, force: true });
  }
};

await main();
