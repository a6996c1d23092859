import type { Consumer } from 'kafkajs';
import { codec } from '../adapters/avro/codec.js';
import { readRanges } from '../adapters/kafka/bounded-reader.js';
import { createKafka, retryRetriable, toBrokerError, withAdmin } from '../adapters/kafka/client.js';
import type { ConsumedRecord } from '../adapters/kafka/consumer.js';
import type { Config } from '../config/config.js';
import { CryptolambdaError } from '../core/errors.js';
import { eventToRaw } from '../core/events/json.js';
import { TOPICS, type TopicKey, topicName } from '../core/topics.js';

export interface TopicInfo {
  /** Logical name (raw.prices, dlq, …). */
  readonly topic: string;
  /** Physical name with the prefix. */
  readonly name: string;
  readonly present: boolean;
  readonly partitions: number | null;
  /** Records currently retained (sum of high - low watermarks). */
  readonly records: number | null;
  readonly description: string;
}

/** Every topic cryptolambda owns under the configured prefix, whether it exists and how much it holds. */
export const listTopics = async (config: Config): Promise<TopicInfo[]> =>
  withAdmin(config, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const out: TopicInfo[] = [];
    for (const key of Object.keys(TOPICS) as TopicKey[]) {
      const spec = TOPICS[key];
      const name = topicName(config.topicPrefix, key);
      if (!existing.has(name)) {
        out.push({
          topic: spec.name,
          name,
          present: false,
          partitions: null,
          records: null,
          description: spec.description,
        });
        continue;
      }
      const offsets = await retryRetriable(() => admin.fetchTopicOffsets(name));
      const records = offsets.reduce((a, o) => a + Number(BigInt(o.high) - BigInt(o.low)), 0);
      out.push({
        topic: spec.name,
        name,
        present: true,
        partitions: offsets.length,
        records,
        description: spec.description,
      });
    }
    return out;
  });

export interface TailRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** Broker timestamp (ms). */
  readonly timestamp: number;
  readonly key: string | null;
  /** The decoded record (the contract's fields, decimals as exact strings). */
  readonly value: Record<string, unknown> | null;
  /** Why the value could not be decoded, when it could not. */
  readonly error?: string;
}

const keyOf = (logical: string): TopicKey => {
  const k = (Object.keys(TOPICS) as TopicKey[]).find((t) => TOPICS[t].name === logical);
  if (k === undefined)
    throw new CryptolambdaError(
      'INVALID_ARGUMENT',
      `unknown topic ${JSON.stringify(logical)}`,
      `topics: ${Object.values(TOPICS)
        .map((t) => t.name)
        .join(', ')}`,
    );
  return k;
};

/** A printable preview of a dead-lettered payload: the text when it is UTF-8, else base64. */
const preview = (b: Buffer): string => {
  const t = b.toString('utf8');
  return /^[\P{C}\t\n\r]*$/u.test(t) && !t.includes('\uFFFD') ? t : `base64:${b.toString('base64')}`;
};

/** Decode one record by its topic's contract (Avro for raw/late/dlq, JSON for tier.changes). */
export const decodeTopicValue = (key: TopicKey, v: Buffer | null): Pick<TailRecord, 'value' | 'error'> => {
  if (v === null) return { value: null, error: 'tombstone (null value)' };
  const c = codec();
  switch (key) {
    case 'prices':
    case 'latePrices':
    case 'transactions':
    case 'rewards': {
      const d = c.decodeRecord(key === 'latePrices' ? 'prices' : key, v);
      return d.ok ? { value: eventToRaw(d.event) as Record<string, unknown> } : { value: null, error: d.reason };
    }
    case 'deadLetter': {
      const d = c.decodeDeadLetter(v);
      if (!d.ok) return { value: null, error: d.reason };
      const { payload, ...rest } = d.event;
      return { value: { ...rest, payload: preview(payload) } };
    }
    case 'tierChanges':
      try {
        return { value: JSON.parse(v.toString('utf8')) as Record<string, unknown> };
      } catch (e) {
        return { value: null, error: `not JSON: ${(e as Error).message}` };
      }
  }
};

const toTail = (key: TopicKey, r: ConsumedRecord): TailRecord => ({
  topic: TOPICS[key].name,
  partition: r.partition,
  offset: r.offset,
  timestamp: Number(r.timestamp),
  key: r.key,
  ...decodeTopicValue(key, r.value),
});

export interface TailOptions {
  readonly fromBeginning: boolean;
  readonly limit: number;
  readonly follow: boolean;
  readonly signal?: AbortSignal;
  readonly onRecord: (r: TailRecord) => void;
}

/**
 * `topics tail`: the last `limit` records (or the first, --from-beginning) in timestamp order; with
 * --follow, then every new record until stopped. Reads with offsets only (no committed group), so
 * tailing never disturbs the stream's or ingest's consumer groups.
 */
export const tailTopic = async (config: Config, logical: string, o: TailOptions): Promise<{ records: number }> => {
  const key = keyOf(logical);
  const name = topicName(config.topicPrefix, key);
  const ranges = await withAdmin(config, async (admin) => {
    if (!(await admin.listTopics()).includes(name))
      throw new CryptolambdaError(
        'NOT_FOUND',
        `topic ${name} does not exist (prefix ${JSON.stringify(config.topicPrefix)})`,
        `create it with \`cryptolambda stack up\` (creates every topic under the prefix), or check --topic-prefix; \`cryptolambda topics list\` shows what exists`,
      );
    const offsets = await retryRetriable(() => admin.fetchTopicOffsets(name));
    return offsets.map((p) => {
      const low = BigInt(p.low);
      const high = BigInt(p.high);
      const n = BigInt(o.limit);
      return o.fromBeginning
        ? { topic: name, partition: p.partition, from: low, to: low + n < high ? low + n : high }
        : { topic: name, partition: p.partition, from: high - n > low ? high - n : low, to: high };
    });
  });
  const got: TailRecord[] = [];
  await readRanges(config, `${config.clientId}-tail-${process.pid}-${Date.now()}`, ranges, async (records) => {
    for (const r of records) got.push(toTail(key, r));
  });
  got.sort(
    (a, b) => a.timestamp - b.timestamp || a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)),
  );
  const shown = o.fromBeginning ? got.slice(0, o.limit) : got.slice(-o.limit);
  for (const r of shown) o.onRecord(r);
  if (!o.follow) return { records: shown.length };
  // Follow: a consumer positioned at each partition's end as read above.
  let count = shown.length;
  const consumer: Consumer = createKafka(config, { clientIdSuffix: 'tail' }).consumer({
    groupId: `${config.clientId}-tail-${process.pid}-${Date.now()}-follow`,
    allowAutoTopicCreation: false,
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: name, fromBeginning: false });
    // Continue where the bounded read stopped (seek once: a later rejoin keeps its position).
    let seeked = false;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (seeked) return;
      seeked = true;
      for (const r of ranges) consumer.seek({ topic: name, partition: r.partition, offset: r.to.toString() });
    });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        count++;
        o.onRecord(
          toTail(key, {
            topic: name,
            partition,
            offset: message.offset,
            key: message.key?.toString('utf8') ?? null,
            value: message.value,
            timestamp: message.timestamp,
            headers: {},
          }),
        );
      },
    });
    await new Promise<void>((resolve) => {
      if (o.signal?.aborted) resolve();
      o.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  } catch (err) {
    throw toBrokerError(err, config);
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return { records: count };
};
