import { encodeDeadLetter } from '../../adapters/avro/codec.js';
import type { Config } from '../../config/config.js';
import { topicName } from '../../core/topics.js';

export interface RejectedInput {
  /** The component that rejected it (also the Kafka key): binance, replay, ingest:prices, ... */
  readonly source: string;
  readonly reason: string;
  /** The input exactly as received; strings are stored as UTF-8. */
  readonly payload: Buffer | string;
  /** Where it came from (stream name, file:line, topic/partition/offset). */
  readonly key?: string;
  /** When it was received (ms); defaults to the sink's clock. */
  readonly receivedAt?: number;
  /** The Kafka key when it is not the source (the stream keys by input topic; its source names the offset). */
  readonly kafkaKey?: string;
}

/** Where dead letters go: a producer, or a transactional outbox that produces them after a commit. */
export interface DeadLetterTarget {
  push(topic: string, records: readonly { key: string; value: Buffer }[]): Promise<void> | void;
}

export interface DeadLetterStats {
  total: number;
  bySource: Record<string, number>;
}

/**
 * Routes malformed input to the `dlq` topic as an Avro DeadLetter (schemas/dead-letter.avsc),
 * keyed by source, through the caller's producer, so dead letters are flushed, acknowledged and
 * counted together with the good records. Nothing malformed is ever dropped silently.
 */
export class DeadLetterSink {
  readonly stats: DeadLetterStats = { total: 0, bySource: {} };
  readonly topic: string;

  constructor(
    private readonly producer: DeadLetterTarget,
    config: Config,
    private readonly clock: () => number = Date.now,
  ) {
    this.topic = topicName(config.topicPrefix, 'deadLetter');
  }

  async send(input: RejectedInput): Promise<void> {
    const value = encodeDeadLetter({
      source: input.source,
      reason: input.reason,
      payload: typeof input.payload === 'string' ? Buffer.from(input.payload, 'utf8') : input.payload,
      receivedAt: input.receivedAt ?? this.clock(),
      ...(input.key === undefined ? {} : { key: input.key }),
    });
    this.stats.total++;
    this.stats.bySource[input.source] = (this.stats.bySource[input.source] ?? 0) + 1;
    await this.producer.push(this.topic, [{ key: input.kafkaKey ?? input.source, value }]);
  }
}
