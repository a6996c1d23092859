import { CompressionTypes, type Kafka, Partitioners, type Producer } from 'kafkajs';
import type { Config } from '../../config/config.js';
import { registerPending } from '../../core/pending.js';
import { createKafka, toBrokerError } from './client.js';

export interface OutgoingRecord {
  readonly key: string;
  readonly value: Buffer;
  readonly headers?: Record<string, string>;
}

export interface ProducerStats {
  /** Records handed to push() (accepted: they will be written or reported as failed). */
  accepted: number;
  /** Records acknowledged by all in-sync replicas. */
  acked: number;
  /** Times push() had to wait because the buffer was full (back-pressure is reported, never silent). */
  backpressureWaits: number;
  batches: number;
}

export interface BatchingProducerOptions {
  /** Records per produce request. */
  readonly maxBatch?: number;
  /** How long a partial batch waits for more records. */
  readonly lingerMs?: number;
  /** Bytes (keys + values) per produce request, kept under the broker's 1 MiB message.max.bytes. */
  readonly maxBatchBytes?: number;
  /** Records accepted but not yet acknowledged beyond which push() waits (back-pressure). */
  readonly maxBuffered?: number;
  readonly compression?: 'none' | 'gzip';
}

/** Per-record framing in a Kafka record batch (varints, headers), a safe upper estimate. */
const RECORD_OVERHEAD = 32;

/**
 * An idempotent (acks=all, broker-side dedup by producer id + sequence), batching producer.
 *
 * kafkajs assigns idempotence sequence numbers per partition at send time; two sendBatch calls in
 * flight at once can reach the broker out of order and fail with OUT_OF_ORDER_SEQUENCE_NUMBER, so
 * sends are strictly serialized here and throughput comes from large batches instead.
 */
export class BatchingProducer {
  readonly stats: ProducerStats = { accepted: 0, acked: 0, backpressureWaits: 0, batches: 0 };
  private buffer = new Map<string, OutgoingRecord[]>();
  private buffered = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> = Promise.resolve();
  private ackWaiters: (() => void)[] = [];
  private failure: unknown;
  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;
  private readonly lingerMs: number;
  private readonly maxBuffered: number;
  private readonly compression: CompressionTypes;

  constructor(
    private readonly producer: Producer,
    private readonly config: Config,
    opts: BatchingProducerOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 5000;
    this.maxBatchBytes = opts.maxBatchBytes ?? 768 * 1024;
    this.lingerMs = opts.lingerMs ?? 20;
    this.maxBuffered = opts.maxBuffered ?? 50_000;
    this.compression = opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  }

  static async connect(config: Config, opts: BatchingProducerOptions = {}, kafka?: Kafka): Promise<BatchingProducer> {
    const producer = (kafka ?? createKafka(config, { clientIdSuffix: 'producer' })).producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner, // Java-compatible murmur2 on the key
      allowAutoTopicCreation: false,
    });
    try {
      await producer.connect();
    } catch (err) {
      throw toBrokerError(err, config);
    }
    const bp = new BatchingProducer(producer, config, opts);
    bp.unregister = registerPending(() => {
      const n = bp.stats.accepted - bp.stats.acked;
      return n > 0
        ? `${n} record(s) accepted but not acknowledged by Kafka (not sent, or sent unconfirmed)`
        : undefined;
    });
    return bp;
  }

  private unregister: () => void = () => undefined;

  /** Records accepted but not yet acknowledged. */
  get pending(): number {
    return this.buffered;
  }

  /**
   * Accept records for `topic`. Resolves immediately unless the buffer is full, in which case it
   * waits for the in-flight flush (back-pressure). Rejects if an earlier batch failed for good.
   */
  async push(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    if (this.failure) throw this.failure;
    let list = this.buffer.get(topic);
    if (!list) {
      list = [];
      this.buffer.set(topic, list);
    }
    for (const r of records) list.push(r);
    this.buffered += records.length;
    this.stats.accepted += records.length;
    if (this.buffered >= this.maxBatch) {
      this.kick();
      // Everything accepted and not yet acknowledged (buffered + in flight) counts against the
      // bound, so a source faster than the broker is slowed down instead of growing memory.
      // Waking on each acknowledged request (not on the whole chain) keeps the pipe full.
      while (this.stats.accepted - this.stats.acked >= this.maxBuffered && !this.failure) {
        this.stats.backpressureWaits++;
        await new Promise<void>((resolve) => this.ackWaiters.push(resolve));
      }
      if (this.failure) throw this.failure;
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.kick(), this.lingerMs);
    }
  }

  /** Send everything accepted so far and wait for the acknowledgements. */
  async flush(): Promise<void> {
    this.kick();
    await this.inflight;
    if (this.failure) throw this.failure;
  }

  async disconnect(): Promise<void> {
    try {
      await this.flush();
    } finally {
      if (this.timer) clearTimeout(this.timer);
      this.unregister();
      await this.producer.disconnect();
    }
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.buffered === 0) return;
    const batch = this.buffer;
    this.buffer = new Map();
    this.buffered = 0;
    this.inflight = this.inflight.then(() => this.sendAll(batch));
  }

  private async sendAll(batch: Map<string, OutgoingRecord[]>): Promise<void> {
    if (this.failure) return;
    try {
      // Split into requests of at most maxBatch records and maxBatchBytes, preserving per-topic order.
      const chunks: { topic: string; messages: OutgoingRecord[] }[][] = [[]];
      let count = 0;
      let bytes = 0;
      for (const [topic, records] of batch) {
        let current: OutgoingRecord[] | undefined;
        for (const r of records) {
          const size = r.value.length + Buffer.byteLength(r.key) + RECORD_OVERHEAD;
          if (count > 0 && (count + 1 > this.maxBatch || bytes + size > this.maxBatchBytes)) {
            chunks.push([]);
            count = 0;
            bytes = 0;
            current = undefined;
          }
          if (current === undefined) {
            current = [];
            chunks[chunks.length - 1]!.push({ topic, messages: current });
          }
          current.push(r);
          count++;
          bytes += size;
        }
      }
      for (const topicMessages of chunks) {
        if (topicMessages.length === 0) continue;
        await this.producer.sendBatch({
          acks: -1,
          compression: this.compression,
          topicMessages: topicMessages.map((t) => ({
            topic: t.topic,
            messages: t.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
          })),
        });
        this.stats.batches++;
        this.stats.acked += topicMessages.reduce((n, t) => n + t.messages.length, 0);
        this.wakeWaiters();
      }
    } catch (err) {
      // Stored, not thrown: the chain of in-flight sends never rejects (no unhandled rejection);
      // push() and flush() surface the failure to the caller.
      this.failure = toBrokerError(err, this.config);
      this.wakeWaiters();
    }
  }

  private wakeWaiters(): void {
    const waiters = this.ackWaiters;
    this.ackWaiters = [];
    for (const w of waiters) w();
  }
}
