import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { decodeDeadLetter, encodePrice } from '../../../src/adapters/avro/codec.js';
import { createKafka } from '../../../src/adapters/kafka/client.js';
import { BatchingProducer } from '../../../src/adapters/kafka/producer.js';
import { readManifest } from '../../../src/adapters/lake/manifest.js';
import { runIngestRaw } from '../../../src/app/batch/ingest-raw.js';
import type { PriceEvent } from '../../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE } from '../../../src/core/money/decimal.js';
import { topicName } from '../../../src/core/topics.js';
import { runStreamToIdle, streamTestConfig } from '../../support/stream.js';
import { readTopics } from '../produce/read-topic.js';

const T0 = Date.UTC(2026, 10, 20, 10);
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
const price = (i: number): PriceEvent => ({
  kind: 'price',
  eventId: `synthetic:${SYMBOLS[i % 3]}:${i}`,
  symbol: SYMBOLS[i % 3]!,
  price: Decimal.parse(`${100 + i}.5`, PRICE_SCALE),
  quantity: Decimal.parse('0.01', QTY_SCALE),
  eventTime: T0 + i * 100,
  tradeId: String(i),
  source: 'synthetic',
});

/** Just under the broker's default message.max.bytes (1,048,588) once framed: the broker accepts it. */
const AT_LIMIT = 1_048_400;

describe('no poison pill: a record at the broker limit is dead-lettered as a bounded envelope', () => {
  it('ingest and stream both move past it, land every good record, and dead-letter it with size and digest', async () => {
    const lakeDir = mkdtempSync(path.join(tmpdir(), 'cl-pill-'));
    onTestFinished(() => rmSync(lakeDir, { recursive: true, force: true }));
    const config = await streamTestConfig({ lakeDir });
    const topic = topicName(config.topicPrefix, 'prices');
    const p = await BatchingProducer.connect(config, { lingerMs: 2 });
    await p.push(
      topic,
      Array.from({ length: 150 }, (_, i) => price(i)).map((e) => ({ key: e.symbol, value: encodePrice(e) })),
    );
    await p.flush();
    // The pill: sent on its own (one record per request), keyed like a symbol so it lands mid-stream.
    const raw = createKafka(config).producer({ allowAutoTopicCreation: false });
    await raw.connect();
    const pill = Buffer.alloc(AT_LIMIT, 0x7b);
    await raw.send({ topic, acks: -1, messages: [{ key: 'BTCUSDT', value: pill }] });
    await raw.disconnect();
    await p.push(
      topic,
      Array.from({ length: 150 }, (_, i) => price(150 + i)).map((e) => ({ key: e.symbol, value: encodePrice(e) })),
    );
    await p.disconnect();

    const ing = await runIngestRaw(config);
    expect(ing.records).toBe(301);
    expect(ing.rejected).toBe(1);
    expect(ing.deadLetters).toBe(1);
    expect(ing.files.reduce((n, f) => n + f.rows, 0)).toBe(300);
    // And the next run does not trip over it again.
    expect((await runIngestRaw(config)).records).toBe(0);
    expect(Object.values((await readManifest(lakeDir)).offsets[topic]!).reduce((n, o) => n + Number(o), 0)).toBe(301);

    const s = await runStreamToIdle(config);
    expect(s.records).toBe(301);
    expect(s.invalid).toBe(1);

    const dlq = await readTopics(config, [topicName(config.topicPrefix, 'deadLetter')]);
    expect(dlq.map((r) => r.key).sort()).toEqual([`ingest:${topic}`, `stream:${topic}`]);
    for (const r of dlq) {
      const d = decodeDeadLetter(r.value!);
      if (!d.ok) throw new Error(d.reason);
      expect(d.event).toMatchObject({ payloadSize: AT_LIMIT, payloadTruncated: true });
      expect(d.event.payload.length).toBe(4096);
      expect(d.event.payloadSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(`${d.event.source} ${d.event.key ?? ''}`).toMatch(/\[\d\]@\d+/);
    }
  });
});
