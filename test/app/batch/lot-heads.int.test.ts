import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { readManifest } from '../../../src/adapters/lake/manifest.js';
import { userTopicPartitions } from '../../../src/adapters/lake/raw-zone-reader.js';
import { readLedger } from '../../../src/adapters/lake/warehouse-store.js';
import { runIngestRaw } from '../../../src/app/batch/ingest-raw.js';
import { runBatch } from '../../../src/app/batch/run-batch.js';
import type { Config } from '../../../src/config/config.js';
import type { DomainEvent, TransactionEvent } from '../../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../../../src/core/money/decimal.js';
import { COST_METHODS } from '../../../src/core/portfolio/lots.js';
import { TOPICS, topicName } from '../../../src/core/topics.js';
import { batchSetup, dumpTable, produceEvents, withWarehouse } from './support.js';

/**
 * A date built from the previous date's snapshot reads only the heads of the lot queues its
 * disposals can reach and copies the other lots forward in DuckDB (docs/warehouse.md, "Untouched
 * lots stay in DuckDB"). Under every cost-basis method that build must equal the build of the same
 * date from the whole history, which reads every lot through the core.
 */

const D1 = '2026-01-10';
const D2 = '2026-01-11';
const T1 = Date.UTC(2026, 0, 10, 8);
const T2 = Date.UTC(2026, 0, 11, 8);
const MIN = 60_000;

let n = 0;
const tx = (
  userId: string,
  type: TransactionEvent['type'],
  asset: string,
  quantity: string,
  price: string,
  at: number,
  fee?: { fee: string; asset: string },
): TransactionEvent => ({
  kind: 'transaction',
  eventId: `lh-${n++}`,
  userId,
  type,
  asset,
  quantity: Decimal.parse(quantity, QTY_SCALE),
  price: Decimal.parse(price, PRICE_SCALE),
  fee: Decimal.parse(fee?.fee ?? '0', fee === undefined || fee.asset === 'USD' ? USD_SCALE : QTY_SCALE),
  feeAsset: fee?.asset ?? 'USD',
  eventTime: at,
});

/** Many lots on D1; on D2 disposals of every kind that reach past the first lots, and new buys. */
const events = (): DomainEvent[] => {
  const out: DomainEvent[] = [];
  const costs = ['100', '120', '90', '200', '150', '110', '95', '130'];
  for (const user of ['alice', 'bob', 'carol', 'dave']) {
    costs.forEach((c, i) => {
      out.push(tx(user, 'buy', 'BTC', i % 2 === 0 ? '1' : '0.5', c, T1 + i * MIN, { fee: '0.1', asset: 'USD' }));
    });
    out.push(tx(user, 'buy', 'ETH', '3', '10', T1 + 20 * MIN), tx(user, 'buy', 'ETH', '2', '12', T1 + 21 * MIN));
    out.push({
      kind: 'reward',
      eventId: `lh-${n++}`,
      userId: user,
      rewardType: 'staking',
      asset: 'BTC',
      quantity: Decimal.parse('0.1', QTY_SCALE),
      price: Decimal.parse('105', PRICE_SCALE),
      eventTime: T1 + 30 * MIN,
    });
  }
  // alice: a buy, then a sell past the first lot, a card spend, a withdrawal and a stake paying base fees.
  out.push(
    tx('alice', 'buy', 'BTC', '0.4', '140', T2),
    tx('alice', 'sell', 'BTC', '1.2', '160', T2 + MIN),
    tx('alice', 'card_spend', 'ETH', '0.5', '11', T2 + 2 * MIN),
    tx('alice', 'withdrawal', 'BTC', '0.3', '160', T2 + 3 * MIN, { fee: '0.01', asset: 'BTC' }),
    tx('alice', 'stake', 'BTC', '0.2', '160', T2 + 4 * MIN, { fee: '0.001', asset: 'BTC' }),
  );
  // bob: nothing on D2 (every lot copied forward). carol: only a buy. dave: sells exactly two lots' worth.
  out.push(tx('carol', 'buy', 'BTC', '2', '170', T2 + 5 * MIN));
  out.push(tx('dave', 'sell', 'BTC', '1.5', '150', T2 + 6 * MIN), tx('dave', 'sell', 'ETH', '5', '9', T2 + 7 * MIN));
  // erin: amounts near the columns' limit. Her D2 sells sum to 2e20 units, past what DuckDB's SUM of
  // a DECIMAL(38, 18) holds (it fails past 1.7e20): her queue is read whole instead (7 sells apply).
  for (let i = 0; i < 5; i++) out.push(tx('erin', 'buy', 'BTC', '15000000000000000000', '0.000001', T1 + i * MIN));
  for (let i = 0; i < 20; i++)
    out.push(tx('erin', 'sell', 'BTC', '10000000000000000000', '0.000002', T2 + (10 + i) * MIN));
  for (const [day, t] of [
    [0, T1],
    [1, T2],
  ] as const)
    for (const [sym, px] of [
      ['BTCUSDT', '150'],
      ['ETHUSDT', '11'],
    ] as const)
      out.push({
        kind: 'price',
        eventId: `lh-px-${sym}-${day}`,
        symbol: sym,
        price: Decimal.parse(px, PRICE_SCALE),
        quantity: Decimal.parse('1', QTY_SCALE),
        eventTime: t + 50 * MIN,
        tradeId: `${day}`,
        source: 'synthetic',
      });
  return out;
};

const TABLES = ['fact_lot_daily', 'fact_realized_gain', 'fact_portfolio_daily', 'snapshot_user_state'];
const dump = (lakeDir: string): Promise<Record<string, Record<string, string | null>[]>> =>
  withWarehouse(lakeDir, async (duck) => {
    const out: Record<string, Record<string, string | null>[]> = {};
    for (const t of TABLES) out[t] = await dumpTable(duck, t, `date = DATE '${D2}'`);
    return out;
  });

const copyLake = (from: string): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cl-heads-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(from, dir, { recursive: true });
  return dir;
};

describe('batch: a date from the snapshot reads only the lots its disposals reach', () => {
  it('equals the build of the date from history under every cost-basis method, with lots copied forward', async () => {
    const config = await batchSetup();
    await produceEvents(config, events());
    const ingest = await runIngestRaw(config);
    expect(ingest.dates).toEqual([D1, D2]);
    // Five users leave some partitions of the user topics empty: the manifest still names every
    // partition, so sharded builds take the producer's murmur2 modulo the topics' real count.
    const m = await readManifest(config.lakeDir);
    for (const t of ['transactions', 'rewards'] as const)
      expect(Object.keys(m.offsets[topicName(config.topicPrefix, t)] ?? {})).toHaveLength(TOPICS[t].partitions);
    expect(userTopicPartitions(m)).toBe(TOPICS.transactions.partitions);
    for (const method of COST_METHODS) {
      for (const shards of method === 'fifo' ? [1, 2] : [2]) {
        const snap: Config = { ...config, lakeDir: copyLake(config.lakeDir), costBasis: method };
        const hist: Config = { ...config, lakeDir: copyLake(config.lakeDir), costBasis: method };
        await runBatch(snap, { date: D1, shards });
        const b2 = await runBatch(snap, { date: D2, shards });
        expect(b2.fromHistory).toBe(false);
        const h2 = await runBatch(hist, { date: D2, shards });
        expect(h2.fromHistory).toBe(true);
        const want = await dump(hist.lakeDir);
        expect(want.fact_lot_daily!.length).toBeGreaterThan(30);
        expect(want.fact_realized_gain!.length).toBeGreaterThan(5);
        expect(
          want.fact_realized_gain!.filter((g) => g.user_id === 'erin' && g.kind === 'sell').length,
        ).toBeGreaterThanOrEqual(7);
        expect({ method, shards, ...(await dump(snap.lakeDir)) }).toEqual({ method, shards, ...want });
        const stats = (await readLedger(snap.lakeDir)).builds[D2]!.stats;
        // Every one of D1's 49 open lots is either read or copied. Out of reach of D2's disposals:
        // bob's and carol's all, and (but under hifo, whose queues with disposals are read whole)
        // the tails of alice's and dave's queues; erin's are all read.
        expect((stats.lotsRead ?? 0) + (stats.lotsCopied ?? 0), method).toBe(49);
        expect(stats.lotsRead, method).toBeGreaterThanOrEqual(5);
        expect(stats.lotsCopied, method).toBeGreaterThanOrEqual(method === 'hifo' ? 22 : 30);
        expect(stats.lotsRead, method).toBeGreaterThan(0);
        expect((await readLedger(hist.lakeDir)).builds[D2]!.stats.lotsCopied).toBe(0);
      }
    }
  });
});
