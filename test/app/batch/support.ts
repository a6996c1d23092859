import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { codec } from '../../../src/adapters/avro/codec.js';
import { Duck } from '../../../src/adapters/duckdb/db.js';
import { ensureTopics, withAdmin } from '../../../src/adapters/kafka/client.js';
import { BatchingProducer } from '../../../src/adapters/kafka/producer.js';
import { createViews, readLedger } from '../../../src/adapters/lake/warehouse-store.js';
import type { Config } from '../../../src/config/config.js';
import type { DomainEvent } from '../../../src/core/events/types.js';
import { TOPICS, topicName } from '../../../src/core/topics.js';
import { WAREHOUSE_TABLES } from '../../../src/core/warehouse/schema.js';
import { cleanupTopicsAfter, testConfig } from '../../support/int.js';

/** A fresh lake dir and topic prefix for one test, removed afterwards. */
export const batchSetup = async (): Promise<Config> => {
  const config = testConfig({ lakeDir: mkdtempSync(path.join(tmpdir(), 'cl-batch-')) });
  cleanupTopicsAfter(config);
  onTestFinished(() => rmSync(config.lakeDir, { recursive: true, force: true }));
  await withAdmin(config, (a) =>
    ensureTopics(a, config.topicPrefix, [TOPICS.prices, TOPICS.transactions, TOPICS.rewards, TOPICS.deadLetter]),
  );
  return config;
};

const TOPIC_OF = { price: 'prices', transaction: 'transactions', reward: 'rewards' } as const;
const CONTRACT_OF = { price: 'price', transaction: 'transaction', reward: 'reward' } as const;

/**
 * Produce raw objects (the golden fixtures' shape, decimals as strings) as Avro single-object
 * records WITHOUT validating them first, so invalid ones reach ingest as they would from a buggy
 * producer.
 */
/**
 * User events in event-time order (stable), as a live producer writes them: the lateness rule judges
 * each event against the latest event time earlier in its topic partition (docs/core.md §5b), so a
 * hand-written list of several users' multi-day histories must not go out user by user. Prices keep
 * the given order (their lateness cases depend on it); rows without a numeric time keep their place.
 */
const inEventTimeOrder = <T extends { kind?: unknown; eventTime?: unknown }>(rows: readonly T[]): T[] => {
  const user = rows.filter((r) => r.kind !== 'price' && typeof r.eventTime === 'number');
  const sorted = [...user].sort((a, b) => (a.eventTime as number) - (b.eventTime as number));
  let i = 0;
  return rows.map((r) => (r.kind !== 'price' && typeof r.eventTime === 'number' ? sorted[i++]! : r));
};

export const produceRaw = async (config: Config, raws: readonly Record<string, unknown>[]): Promise<void> => {
  const p = await BatchingProducer.connect(config, { lingerMs: 2 });
  try {
    for (const raw of inEventTimeOrder(raws)) {
      const kind = raw.kind as keyof typeof TOPIC_OF;
      const { kind: _k, ...body } = raw;
      const record = kind === 'reward' ? { refEventId: null, ...body } : body;
      await p.push(topicName(config.topicPrefix, TOPIC_OF[kind]), [
        {
          key: String(raw.userId ?? raw.symbol),
          value: codec().store.encode(CONTRACT_OF[kind], record),
        },
      ]);
    }
    await p.flush();
  } finally {
    await p.disconnect();
  }
};

export const produceEvents = async (config: Config, events: readonly DomainEvent[]): Promise<void> => {
  const c = codec();
  const p = await BatchingProducer.connect(config);
  try {
    for (const e of inEventTimeOrder(events)) {
      const value =
        e.kind === 'price' ? c.encodePrice(e) : e.kind === 'transaction' ? c.encodeTransaction(e) : c.encodeReward(e);
      await p.push(topicName(config.topicPrefix, TOPIC_OF[e.kind]), [
        { key: e.kind === 'price' ? e.symbol : e.userId, value },
      ]);
    }
    await p.flush();
  } finally {
    await p.disconnect();
  }
};

/** Run `fn` on a connection with a view per published warehouse table. */
export const withWarehouse = async <T>(lakeDir: string, fn: (duck: Duck) => Promise<T>): Promise<T> => {
  const duck = await Duck.open();
  try {
    await createViews(
      duck,
      await readLedger(lakeDir),
      lakeDir,
      WAREHOUSE_TABLES.map((t) => t.name),
    );
    return await fn(duck);
  } finally {
    duck.close();
  }
};

/** Every column of a table as text (exact decimals), rows ordered by every column: comparable with toEqual. */
export const dumpTable = async (
  duck: Duck,
  table: string,
  where = 'true',
): Promise<Record<string, string | null>[]> => {
  const def = WAREHOUSE_TABLES.find((t) => t.name === table)!;
  const cols = def.columns.map((c) => `CAST("${c.name}" AS VARCHAR) AS "${c.name}"`).join(', ');
  const order = def.columns.map((_, i) => String(i + 1)).join(', ');
  return duck.rows(`SELECT ${cols} FROM "${table}" WHERE ${where} ORDER BY ${order}`);
};
