/**
 * The same raw-zone write (transactions, exact amounts) through DuckDB's Parquet writer and through
 * parquetjs-lite, side by side. Prints figures; not a test.
 *
 *   npx tsc -p bench/tsconfig.json && node .cryptolambda/bench/bench/parquet-writers.js [rows]
 *
 * DuckDB: the production path (src/adapters/lake/raw-writer.ts): rows appended as data chunks,
 * COPY … (FORMAT parquet, COMPRESSION zstd), DECIMAL(38, s) columns.
 * parquetjs-lite 0.8.7 has neither a DECIMAL logical type nor zstd: amounts are written as UTF8
 * canonical strings (exact, but readers see text, not numbers) with SNAPPY and with GZIP.
 * Every file is read back with DuckDB and its quantity sum compared, exactly, with the input's.
 */

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Duck, literal } from '../src/adapters/duckdb/db.js';
import { RAW_TABLES } from '../src/adapters/lake/raw-tables.js';
import { writeRawFile } from '../src/adapters/lake/raw-writer.js';
import type { TransactionEvent } from '../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../src/core/money/decimal.js';
import { report } from './report.js';

interface ParquetWriter {
  appendRow(row: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}
interface ParquetLib {
  ParquetSchema: new (fields: Record<string, { type: string; compression?: string }>) => unknown;
  ParquetWriter: { openFile(schema: unknown, file: string, opts?: Record<string, unknown>): Promise<ParquetWriter> };
}
const parquet = createRequire(import.meta.url)('parquetjs-lite') as ParquetLib;

const N = Number(process.argv[2] ?? 200_000);
const T0 = Date.UTC(2026, 0, 10);

const rows = Array.from({ length: N }, (_, i) => {
  const event: TransactionEvent = {
    kind: 'transaction',
    eventId: `tx-${i}`,
    userId: `u${String(i % 100_000).padStart(6, '0')}`,
    type: i % 3 === 0 ? 'sell' : 'buy',
    asset: ['BTC', 'ETH', 'SOL'][i % 3]!,
    quantity: Decimal.fromUnits(BigInt(i) * 1_000_000_007n + 1n, QTY_SCALE),
    price: Decimal.fromUnits(43_000_000_000_000_000n + BigInt(i), PRICE_SCALE),
    fee: Decimal.fromUnits(BigInt(i % 1000) * 10n ** 9n, USD_SCALE),
    feeAsset: 'USD',
    eventTime: T0 + i * 10,
  };
  return { event, lineage: { topic: 'raw.transactions', partition: i % 6, offset: String(i) } };
});
const expectedSum = rows.reduce((s, r) => s.add(r.event.quantity), Decimal.zero(QTY_SCALE)).toString();

const writeParquetjs = async (file: string, compression: string): Promise<void> => {
  const f = (type: string) => ({ type, compression });
  const schema = new parquet.ParquetSchema({
    event_id: f('UTF8'),
    user_id: f('UTF8'),
    type: f('UTF8'),
    asset: f('UTF8'),
    quantity: f('UTF8'),
    price: f('UTF8'),
    fee: f('UTF8'),
    fee_asset: f('UTF8'),
    event_time_ms: f('INT64'),
    _topic: f('UTF8'),
    _partition: f('INT32'),
    _offset: f('INT64'),
  });
  const w = await parquet.ParquetWriter.openFile(schema, file);
  for (const { event: e, lineage: l } of rows) {
    await w.appendRow({
      event_id: e.eventId,
      user_id: e.userId,
      type: e.type,
      asset: e.asset,
      quantity: e.quantity.toString(),
      price: e.price.toString(),
      fee: e.fee.rescale(QTY_SCALE).toString(),
      fee_asset: e.feeAsset,
      event_time_ms: e.eventTime,
      _topic: l.topic,
      _partition: l.partition,
      _offset: Number(l.offset),
    });
  }
  await w.close();
};

const main = async (): Promise<void> => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cl-bench-pq-'));
  console.log(`node ${process.version}, ${N.toLocaleString('en-US')} transaction rows (12 columns, 3 exact amounts)`);
  const duck = await Duck.open(':memory:', { threads: 2 });
  try {
    const run = async (label: string, file: string, write: () => Promise<void>, quantityType: string) => {
      const t0 = performance.now();
      await write();
      const ms = performance.now() - t0;
      const bytes = statSync(file).size;
      report(
        'parquet-writers',
        label,
        (N * 1000) / ms,
        'rows/s',
        `${(bytes / 1e6).toFixed(2)} MB, amounts as ${quantityType}`,
      );
      const [check] = await duck.rows<{ s: string; t: string }>(
        `SELECT CAST(sum(CAST(quantity AS DECIMAL(38, 18))) AS VARCHAR) AS s, any_value(typeof(quantity)) AS t FROM read_parquet(${literal(file)})`,
      );
      console.log(
        `${label.padEnd(30)} ${String(Math.round(ms)).padStart(7)} ms  ${Math.round((N * 1000) / ms)
          .toLocaleString('en-US')
          .padStart(
            9,
          )} rows/s  ${(bytes / 1e6).toFixed(2).padStart(7)} MB  quantity read back as ${check!.t} (${quantityType}), sum ${check!.s === expectedSum ? 'exact' : `WRONG ${check!.s}`}`,
      );
    };
    await run(
      'DuckDB (chunks + COPY, zstd)',
      path.join(dir, 'duck.parquet'),
      async () => void (await writeRawFile(duck, RAW_TABLES.transactions, rows, path.join(dir, 'duck.parquet'))),
      'DECIMAL',
    );
    for (const c of ['SNAPPY', 'GZIP']) {
      const file = path.join(dir, `parquetjs-${c}.parquet`);
      await run(`parquetjs-lite (${c.toLowerCase()})`, file, () => writeParquetjs(file, c), 'text');
    }
  } finally {
    duck.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

await main();
