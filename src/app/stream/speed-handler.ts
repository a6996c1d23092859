import { decodeRecord } from '../../adapters/avro/codec.js';
import type { ConsumedRecord } from '../../adapters/kafka/consumer.js';
import type { CheckpointTx } from '../../adapters/redis/checkpoint-tx.js';
import type { CommittedChangesSink, LiveCandle, PriceChange } from '../../adapters/redis/live-feed.js';
import type { CandleInterval } from '../../adapters/redis/speed-keys.js';
import type { RedisSpeedStore } from '../../adapters/redis/speed-store.js';
import type { Config } from '../../config/config.js';
import { eventToRaw } from '../../core/events/json.js';
import type { UserEvent } from '../../core/events/types.js';
import { deadLetterCategory } from '../../core/metrics/dead-letter.js';
import {
  DEFAULT_ENGINE_OPTIONS,
  PartitionEngine,
  type SpeedChanges,
  type SpeedEngineOptions,
  type UserTable,
} from '../../core/speed/engine.js';
import { candleToJson } from '../../core/speed/price-windows.js';
import { topicName } from '../../core/topics.js';
import { DeadLetterSink } from '../produce/dead-letter.js';
import type { OutboxMessage, PartitionHandler } from './runtime.js';

export interface SpeedOptions extends SpeedEngineOptions {
  /** Candles kept per symbol and interval. */
  readonly history: Readonly<Record<CandleInterval, number>>;
  /** TTL (s) of per-day keys (deltas, day rewards, end-of-day positions); batch shortens it once a day is covered. */
  readonly dayTtlSec: number;
}

export const DEFAULT_SPEED_OPTIONS: SpeedOptions = {
  ...DEFAULT_ENGINE_OPTIONS,
  history: { '1m': 1440, '5m': 2016 },
  dayTtlSec: 8 * 24 * 3600,
};

interface Partition {
  readonly engine: PartitionEngine;
  readonly outbox: OutboxMessage[];
  /** Dead letters of this partition go to its outbox, i.e. to Kafka only once the checkpoint holding them commits. */
  readonly dlq: DeadLetterSink;
}

/**
 * Wiring of the speed layer per partition n: decodes Avro records (malformed ones to the dead-letter
 * sink), feeds the pure engine (src/core/speed/engine.ts), and at each checkpoint hands the engine's
 * typed changes to the Redis store and its effects (late prices, tier changes, rejected events) to
 * the runtime's transactional outbox. No Redis or Kafka type reaches the engine.
 */
export class SpeedHandler implements PartitionHandler {
  private readonly parts = new Map<number, Partition>();
  /** Dead letters this process sent, by `topic|category` (metrics; monotonic, survives rebalances). */
  readonly deadLetters = new Map<string, number>();
  readonly topics: { prices: string; transactions: string; rewards: string; dlq: string; late: string; tiers: string };

  constructor(
    config: Config,
    private readonly store: RedisSpeedStore,
    readonly opts: SpeedOptions = DEFAULT_SPEED_OPTIONS,
    private readonly now: () => number = Date.now,
    /**
     * Told, inside the partition's checkpoint commit, what it commits (the live push reads this
     * feed); none on a Redis Cluster, where the feed's keys cannot share the partition's slot.
     */
    private readonly live?: CommittedChangesSink,
  ) {
    const p = config.topicPrefix;
    this.topics = {
      prices: topicName(p, 'prices'),
      transactions: topicName(p, 'transactions'),
      rewards: topicName(p, 'rewards'),
      dlq: topicName(p, 'deadLetter'),
      late: topicName(p, 'latePrices'),
      tiers: topicName(p, 'tierChanges'),
    };
    this.config = config;
  }

  private readonly config: Config;

  engines(): ReadonlyMap<number, PartitionEngine> {
    return new Map([...this.parts].map(([n, p]) => [n, p.engine]));
  }

  /** The owned partitions' engines (metrics read their counters and watermarks). */
  partitions(): ReadonlyMap<number, PartitionEngine> {
    return this.engines();
  }

  async acquire(n: number): Promise<void> {
    const loaded = await this.store.load(n);
    const engine = new PartitionEngine(this.opts, this.now(), loaded);
    const outbox: OutboxMessage[] = [];
    const dlq = new DeadLetterSink(
      { push: (topic, records) => void outbox.push(...records.map((r) => ({ topic, key: r.key, value: r.value }))) },
      this.config,
    );
    this.parts.set(n, { engine, outbox, dlq });
  }

  release(n: number): void {
    this.parts.delete(n);
  }

  async apply(topic: string, n: number, records: readonly ConsumedRecord[]): Promise<void> {
    const part = this.parts.get(n);
    if (part === undefined) throw new Error(`partition ${n} applied before acquire`);
    if (topic === this.topics.prices) await this.applyPrices(part, records);
    else await this.applyUsers(part, topic === this.topics.transactions ? 'transactions' : 'rewards', records);
  }

  private deadLetter(part: Partition, r: ConsumedRecord, reason: string): Promise<void> {
    part.engine.countInvalid();
    const cat = `${r.topic}|${deadLetterCategory(reason)}`;
    this.deadLetters.set(cat, (this.deadLetters.get(cat) ?? 0) + 1);
    return part.dlq.send({
      source: `stream:${r.topic}[${r.partition}]@${r.offset}`,
      kafkaKey: `stream:${r.topic}`,
      reason,
      payload: r.value ?? Buffer.alloc(0),
      ...(r.key === null ? {} : { key: r.key }),
      receivedAt: Number(r.timestamp),
    });
  }

  private async applyPrices(part: Partition, records: readonly ConsumedRecord[]): Promise<void> {
    for (const r of records) {
      if (r.value === null) {
        await this.deadLetter(part, r, 'empty message value');
        continue;
      }
      const d = decodeRecord('prices', r.value);
      if (!d.ok) {
        await this.deadLetter(part, r, d.reason);
        continue;
      }
      if (part.engine.addPrice(d.event).lateFor1m) {
        part.outbox.push({ topic: this.topics.late, key: d.event.symbol, value: r.value });
      }
    }
  }

  private async applyUsers(part: Partition, table: UserTable, records: readonly ConsumedRecord[]): Promise<void> {
    const events: UserEvent[] = [];
    for (const r of records) {
      const d =
        r.value === null
          ? { ok: false as const, reason: 'empty message value' }
          : table === 'transactions'
            ? decodeRecord('transactions', r.value)
            : decodeRecord('rewards', r.value);
      if (d.ok) events.push(d.event);
      else await this.deadLetter(part, r, d.reason);
    }
    part.engine.addUsers(table, events, this.now());
  }

  tick(n: number, caughtUp: (topic: string) => boolean): boolean {
    const part = this.parts.get(n);
    if (part === undefined) return false;
    return part.engine.tick(this.now(), (t) => caughtUp(this.topics[t]));
  }

  flush(n: number, tx: CheckpointTx): OutboxMessage[] {
    const part = this.parts.get(n);
    if (part === undefined) return [];
    const changes = part.engine.drain();
    this.store.write(tx, n, changes);
    if (this.live !== undefined) {
      this.live.prices(tx, priceChanges(changes));
      this.live.users(
        tx,
        changes.users.map((u) => u.userId),
      );
    }
    for (const fx of changes.effects) {
      if (fx.kind === 'tier-change') {
        const c = fx.change;
        part.outbox.push({
          topic: this.topics.tiers,
          key: fx.userId,
          value: Buffer.from(
            JSON.stringify({ userId: fx.userId, at: c.at, from: c.from, to: c.to, spend30d: c.spend30d.toString() }),
            'utf8',
          ),
        });
      } else {
        void part.dlq.send({
          source: 'stream:accounting',
          reason: `${fx.code}: ${fx.reason}`,
          payload: JSON.stringify(eventToRaw(fx.event)),
          key: fx.event.userId,
          receivedAt: fx.event.eventTime,
        });
      }
    }
    return part.outbox.splice(0, part.outbox.length);
  }
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Per symbol whose last price changed: the price and the newest state of each candle written. */
const priceChanges = (c: SpeedChanges): PriceChange[] => {
  const candles = new Map<string, Map<string, LiveCandle>>();
  for (const w of c.candles) {
    let m = candles.get(w.candle.symbol);
    if (m === undefined) {
      m = new Map();
      candles.set(w.candle.symbol, m);
    }
    const { symbol: _s, openKey: _o, closeKey: _c, ...fields } = candleToJson(w.candle, w.final);
    m.set(`${w.interval}|${w.candle.start}`, { interval: w.interval as CandleInterval, ...fields });
  }
  return [...c.lastPrices]
    .sort(([a], [b]) => byText(a, b))
    .map(([symbol, p]) => ({
      symbol,
      price: p.price.toString(),
      eventTime: p.eventTime,
      candles: [...(candles.get(symbol)?.values() ?? [])],
    }));
};
