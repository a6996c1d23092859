import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Duck, literal } from '../../src/adapters/duckdb/db.js';
import { ensureTopics, withAdmin } from '../../src/adapters/kafka/client.js';
import { BatchingProducer } from '../../src/adapters/kafka/producer.js';
import { readManifest } from '../../src/adapters/lake/manifest.js';
import type { RawTableName } from '../../src/adapters/lake/raw-tables.js';
import { compactRawZone, type Decoder, runIngest } from '../../src/app/ingest.js';
import type { DomainEvent, PriceEvent, TransactionEvent } from '../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE } from '../../src/core/money/decimal.js';
import { TOPICS, topicName } from '../../src/core/topics.js';
import { cleanupTopicsAfter, deleteRecordsBefore, testConfig } from '../support/int.js';

// The ingest pipeline is independent of the wire format; this test uses a JSON stand-in decoder so
// it exercises Kafka → Parquet → manifest on its own. The Avro contracts have their own tests.
const toJson = (e: DomainEvent): Buffer => Buffer.from(JSON.stringify(e)); // Decimal.toJSON gives its canonical string
const SCALES: Record<string, number> = { price: PRICE_SCALE, quantity: QTY_SCALE, fee: QTY_SCALE };
const jsonDecoder: Decoder = (_table: RawTableName, value: Buffer) => {
  try {
    const o = JSON.parse(value.toString(), (k, v) =>
      k in SCALES && typeof v === 'string' ? Decimal.parse(v, SCALES[k]!) : v,
    );
    if (typeof o.eventId !== 'string') return { ok: false, reason: 'missing eventId' };
    return { ok: true, event: o as DomainEvent };
  } catch (e) {
    return { ok: false, reason: `not JSON: ${(e as Error).message}` };
  }
};

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 20);

const price = (i: number, day: number): PriceEvent => ({
  kind: 'price',
  eventId: `synthetic:BTCUSDT:${i}`,
  symbol: 'BTCUSDT',
  price: Decimal.parse(`${60000 + i}.123456789012`, PRICE_SCALE),
  quantity: Decimal.parse(`0.${String(i).padStart(18, '0')}`, QTY_SCALE),
  eventTime: T0 + day * DAY + i * 1000,
  tradeId: String(i),
  source: 'synthetic',
});

const buy = (i: number, day: number): TransactionEvent => ({
  kind: 'transaction',
  eventId: `tx-${i}`,
  userId: `user-${i % 7}`,
  type: 'buy',
  asset: 'BTC',
  quantity: Decimal.parse('0.000000000000000001', QTY_SCALE),
  price: Decimal.parse('60000.5', PRICE_SCALE),
  fee: Decimal.parse('0.25', QTY_SCALE),
  feeAsset: 'USD',
  eventTime: T0 + day * DAY + i,
});

const setup = async () => {
  const config = testConfig({ lakeDir: mkdtempSync(path.join(tmpdir(), 'cl-lake-')) });
  cleanupTopicsAfter(config);
  onTestFinished(() => rmSync(config.lakeDir, { recursive: true, force: true }));
  await withAdmin(config, (a) =>
    ensureTopics(a, config.topicPrefix, [TOPICS.prices, TOPICS.transactions, TOPICS.rewards]),
  );
  const producer = await BatchingProducer.connect(config, { lingerMs: 2 });
  onTestFinished(() => producer.disconnect());
  const send = async (events: DomainEvent[]) => {
    for (const e of events) {
      const topic = topicName(config.topicPrefix, e.kind === 'price' ? 'prices' : 'transactions');
      await producer.push(topic, [
        { key: e.kind === 'price' ? e.symbol : (e as TransactionEvent).userId, value: toJson(e) },
      ]);
    }
    await producer.flush();
  };
  const sendRaw = async (topicKey: 'prices', value: string) => {
    await producer.push(topicName(config.topicPrefix, topicKey), [{ key: 'x', value: Buffer.from(value) }]);
    await producer.flush();
  };
  return { config, send, sendRaw };
};

const readLake = async (lakeDir: string, table: string) => {
  const m = await readManifest(lakeDir);
  const files = m.files.filter((f) => f.table === table).map((f) => literal(path.join(lakeDir, f.path)));
  if (files.length === 0) return [];
  const duck = await Duck.open();
  try {
    return await duck.rows<Record<string, string>>(
      `SELECT event_id, CAST(${table === 'prices' ? 'price' : 'quantity'} AS VARCHAR) AS amount, event_time_ms::VARCHAR AS t,
              regexp_extract(filename, 'dt=([0-9-]+)', 1) AS dt
       FROM read_parquet([${files.join(',')}], filename = true) ORDER BY event_id`,
    );
  } finally {
    duck.close();
  }
};

describe('ingest: Kafka → Parquet raw zone with an atomic manifest', () => {
  it('lands every event in its event-date partition with exact decimals, and resumes incrementally', async () => {
    const t = await setup();
    const prices = [price(1, 0), price(2, 0), price(3, 1)];
    const txs = [buy(10, 0), buy(11, 1), buy(12, 1)];
    await t.send([...prices, ...txs]);
    const rejects: string[] = [];
    const first = await runIngest(t.config, {
      decode: jsonDecoder,
      onReject: async (_r, why) => void rejects.push(why),
    });
    expect(first.records).toBe(6);
    expect(first.rejected).toBe(0);
    expect(first.dates).toEqual(['2026-11-20', '2026-11-21']);
    const rows = await readLake(t.config.lakeDir, 'prices');
    expect(rows).toEqual([
      { event_id: 'synthetic:BTCUSDT:1', amount: '60001.123456789012', t: String(T0 + 1000), dt: '2026-11-20' },
      { event_id: 'synthetic:BTCUSDT:2', amount: '60002.123456789012', t: String(T0 + 2000), dt: '2026-11-20' },
      { event_id: 'synthetic:BTCUSDT:3', amount: '60003.123456789012', t: String(T0 + DAY + 3000), dt: '2026-11-21' },
    ]);
    const txRows = await readLake(t.config.lakeDir, 'transactions');
    expect(txRows.map((r) => r.amount)).toEqual([
      '0.000000000000000001',
      '0.000000000000000001',
      '0.000000000000000001',
    ]);

    // A late event for day 0 and a malformed message: the late one lands in dt=2026-11-20, the bad one is rejected.
    await t.send([price(4, 0)]);
    await t.sendRaw('prices', '{not json');
    const second = await runIngest(t.config, {
      decode: jsonDecoder,
      onReject: async (_r, why) => void rejects.push(why),
    });
    expect(second.records).toBe(2);
    expect(second.rejected).toBe(1);
    expect(second.dates).toEqual(['2026-11-20']);
    expect(rejects).toHaveLength(1);
    expect(rejects[0]).toMatch(/^not JSON/);
    expect((await readLake(t.config.lakeDir, 'prices')).map((r) => r.event_id)).toEqual([
      'synthetic:BTCUSDT:1',
      'synthetic:BTCUSDT:2',
      'synthetic:BTCUSDT:3',
      'synthetic:BTCUSDT:4',
    ]);
    const third = await runIngest(t.config, { decode: jsonDecoder, onReject: async () => undefined });
    expect(third.records).toBe(0);
  });

  it("stamps each user row with its topic partition's event-time high-water mark before it, continued across runs", async () => {
    const t = await setup();
    const at = (id: string, ms: number): TransactionEvent => ({
      ...buy(0, 0),
      eventId: id,
      userId: 'hwm-u',
      eventTime: T0 + ms,
    });
    // Offset order: 5 s, 1 s (behind), 9 s; the next run: 2 s.
    await t.send([at('h1', 5000), at('h2', 1000), at('h3', 9000)]);
    await runIngest(t.config, { decode: jsonDecoder, onReject: async () => undefined });
    await t.send([at('h4', 2000)]);
    await runIngest(t.config, { decode: jsonDecoder, onReject: async () => undefined });
    const m = await readManifest(t.config.lakeDir);
    const files = m.files.filter((f) => f.table === 'transactions');
    expect(files.every((f) => f.hwm === true)).toBe(true);
    const duck = await Duck.open();
    try {
      const rows = await duck.rows<{ event_id: string; p: number; hwm: bigint | null }>(
        `SELECT event_id, _partition AS p, _hwm_ms AS hwm FROM read_parquet([${files.map((f) => literal(path.join(t.config.lakeDir, f.path))).join(',')}]) ORDER BY _offset`,
      );
      expect(rows.map((r) => [r.event_id, r.hwm === null ? null : Number(r.hwm) - T0])).toEqual([
        ['h1', null],
        ['h2', 5000],
        ['h3', 5000],
        ['h4', 9000],
      ]);
      const topic = topicName(t.config.topicPrefix, 'transactions');
      expect(m.hwm?.[topic]?.[String(rows[0]!.p)]).toBe(String(T0 + 9000));
    } finally {
      duck.close();
    }
  });

  it('a crash between writing Parquet and publishing the manifest neither loses nor duplicates', async () => {
    const t = await setup();
    await t.send([price(1, 0), price(2, 0), buy(1, 0)]);
    const crash = runIngest(t.config, {
      decode: jsonDecoder,
      onReject: async () => undefined,
      beforePublish: async () => {
        throw new Error('injected crash');
      },
    });
    await expect(crash).rejects.toThrow('injected crash');
    expect((await readManifest(t.config.lakeDir)).commit).toBe(0);
    // The unpublished files are where a directory-listing engine (Spark, Hive) never looks.
    const parquet = (dir: string) =>
      existsSync(dir) ? readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.parquet')) : [];
    expect(parquet(path.join(t.config.lakeDir, 'raw', 'prices'))).toEqual([]);
    expect(parquet(path.join(t.config.lakeDir, 'raw', '_staging'))).toHaveLength(2);

    await t.send([price(3, 0)]);
    const rerun = await runIngest(t.config, { decode: jsonDecoder, onReject: async () => undefined });
    expect(rerun.orphansRemoved).toBe(2);
    expect(rerun.records).toBe(4);
    expect((await readLake(t.config.lakeDir, 'prices')).map((r) => r.event_id)).toEqual([
      'synthetic:BTCUSDT:1',
      'synthetic:BTCUSDT:2',
      'synthetic:BTCUSDT:3',
    ]);
    expect(await readLake(t.config.lakeDir, 'transactions')).toHaveLength(1);
  });

  it('publishes in several commits on a large backlog, each with its own offsets', async () => {
    const t = await setup();
    await t.send(Array.from({ length: 50 }, (_, i) => price(i, i % 3)));
    const r = await runIngest(t.config, { decode: jsonDecoder, onReject: async () => undefined, rowsPerCommit: 20 });
    expect(r.records).toBe(50);
    expect(r.commits).toBeGreaterThanOrEqual(2);
    expect(await readLake(t.config.lakeDir, 'prices')).toHaveLength(50);
    const m = await readManifest(t.config.lakeDir);
    const covered = Object.values(m.offsets[topicName(t.config.topicPrefix, 'prices')]!).reduce(
      (n, o) => n + Number(o),
      0,
    );
    expect(covered).toBe(50);
  });

  it('--compact merges small files per partition without changing the rows', async () => {
    const t = await setup();
    for (let i = 0; i < 3; i++) {
      await t.send([price(i, 0), price(i + 10, 1)]);
      await runIngest(t.config, { decode: jsonDecoder, onReject: async () => undefined });
    }
    const before = await readLake(t.config.lakeDir, 'prices');
    expect((await readManifest(t.config.lakeDir)).files).toHaveLength(6);
    const c = await compactRawZone(t.config);
    expect(c).toMatchObject({ partitions: 2, filesBefore: 6, filesAfter: 2 });
    expect(await readLake(t.config.lakeDir, 'prices')).toEqual(before);
    expect((await compactRawZone(t.config)).partitions).toBe(0);
  });

  it('records deleted from Kafka before ingest read them stop it with DATA_GAP; --accept-gap records the hole', async () => {
    const t = await setup();
    const topic = topicName(t.config.topicPrefix, 'prices');
    await t.send(Array.from({ length: 20 }, (_, i) => price(i, 0)));
    const first = await runIngest(t.config, { decode: jsonDecoder, onReject: async () => undefined });
    expect(first.records).toBe(20);
    await t.send(Array.from({ length: 30 }, (_, i) => price(100 + i, 0)));
    // What 7-day retention does to a lagging reader: the next 25 records vanish before ingest runs.
    const m1 = await readManifest(t.config.lakeDir);
    // The partition holding the symbol's records (the manifest names the empty ones too).
    const p = Object.entries(m1.offsets[topic]!).find(([, o]) => o !== '0')![0];
    const stored = BigInt(m1.offsets[topic]![p]!);
    await deleteRecordsBefore(t.config, topic, new Map([[Number(p), stored + 25n]]));

    await expect(runIngest(t.config, { decode: jsonDecoder, onReject: async () => undefined })).rejects.toMatchObject({
      code: 'DATA_GAP',
      message: expect.stringMatching(
        new RegExp(`25 offsets are gone from Kafka.*\\[${p}\\] ${stored}\\.\\.${stored + 24n}`),
      ),
    });
    // Nothing moved: the manifest still points at the first missing offset.
    expect((await readManifest(t.config.lakeDir)).commit).toBe(m1.commit);

    const accepted = await runIngest(t.config, {
      decode: jsonDecoder,
      onReject: async () => undefined,
      acceptGap: true,
    });
    expect(accepted.records).toBe(5);
    expect(accepted.gaps).toMatchObject([
      { topic, partition: Number(p), from: String(stored), to: String(stored + 25n), lost: 25 },
    ]);
    const m2 = await readManifest(t.config.lakeDir);
    expect(m2.gaps).toEqual(accepted.gaps);
    expect(m2.offsets[topic]![p]).toBe(String(stored + 30n));
    // The gap is recorded once: the next run finds nothing missing.
    const again = await runIngest(t.config, { decode: jsonDecoder, onReject: async () => undefined });
    expect(again.gaps).toEqual([]);
    expect((await readManifest(t.config.lakeDir)).gaps).toHaveLength(1);
  });
});
