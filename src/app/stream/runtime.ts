import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { createKafka, retryRetriable, toBrokerError } from '../../adapters/kafka/client.js';
import { CoPartitionAssigner } from '../../adapters/kafka/co-partition-assigner.js';
import { type ConsumedRecord, fetchedRecord } from '../../adapters/kafka/consumer.js';
import { BatchingProducer } from '../../adapters/kafka/producer.js';
import { CheckpointTx, commitFenced, type RedisConn } from '../../adapters/redis/checkpoint-tx.js';
import { connectRedis } from '../../adapters/redis/client.js';
import { type SpeedKeys, speedKeys } from '../../adapters/redis/speed-keys.js';
import type { Config } from '../../config/config.js';
import { CryptolambdaError } from '../../core/errors.js';
import { registerPending } from '../../core/pending.js';

/** A message for Kafka produced as an effect of processing (late events, tier changes). */
export interface OutboxMessage {
  readonly topic: string;
  readonly key: string;
  readonly value: Buffer;
}

/**
 * The stateful logic the runtime drives. State is sharded by partition number `n`: partition n of
 * every input topic belongs to one worker at a time (co-partition assignor), so a handler may
 * keep per-user or per-symbol state for n in memory between checkpoints.
 */
export interface PartitionHandler {
  /** n became ours (its epoch is fenced): drop any cached state for n; load lazily or eagerly. */
  acquire(n: number): Promise<void>;
  /** n is no longer ours: forget its in-memory state. Work not checkpointed is redone by the next owner. */
  release(n: number): void;
  /** Apply one topic-partition's records, in offset order. Must be deterministic. */
  apply(topic: string, n: number, records: readonly ConsumedRecord[]): Promise<void>;
  /**
   * Record writes for what changed in n since the previous flush into n's checkpoint transaction
   * (committed atomically with n's offsets and outbox); return messages for Kafka.
   */
  flush(n: number, tx: CheckpointTx): OutboxMessage[];
  /**
   * Optional timer hook (every checkpoint interval): return true when n's state changed without new
   * records. `caughtUp(topic)` tells whether topic-partition n has been processed up to the high
   * watermark last seen: a handler may treat an input as idle only then, so data still waiting in
   * Kafka is never overtaken because of processing-time timing.
   */
  tick?(n: number, caughtUp: (topic: string) => boolean): boolean;
}

export interface RuntimeOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Redis key prefix for the runtime's own keys (offsets, epochs, outbox, workers). */
  readonly keyspace: string;
  /** Commit state + offsets at least this often. */
  readonly checkpointIntervalMs?: number;
  /** ... or after this many records, whichever comes first. */
  readonly checkpointRecords?: number;
  /**
   * Adaptive commit: when a batch leaves its topic-partition caught up (input quiet), checkpoint after
   * this many ms instead of waiting for the interval, so a lone event reaches Redis in milliseconds;
   * under load (lag) checkpoints stay batched by interval and record count. A negative value turns
   * it off (fixed interval only).
   */
  readonly checkpointLingerMs?: number;
  readonly workerId?: string;
  /**
   * Kafka group session timeout (ms): how long a worker that died without leaving the group (kill -9,
   * power loss) keeps its partitions before the broker reassigns them. Broker minimum 6000.
   */
  readonly sessionTimeoutMs?: number;
  /** Told about every checkpoint that wrote something (metrics): its duration and whether it committed. */
  readonly onCheckpoint?: (seconds: number, outcome: 'committed' | 'fenced' | 'failed') => void;
  /**
   * A stored offset below the log start (retention, deleted records) is data loss. By default the
   * worker stops with DATA_GAP; with acceptGap it records the gap (`stream:gaps`) and moves on.
   */
  readonly acceptGap?: boolean;
}

/** Offsets that vanished from Kafka before they were processed, as recorded in `stream:gaps`. */
export interface RecordedGap {
  readonly topic: string;
  readonly partition: number;
  /** First lost offset. */
  readonly from: string;
  /** First offset still in the log (exclusive end of the gap). */
  readonly to: string;
  readonly lost: number;
  readonly at: string;
  readonly workerId: string;
}

export interface RuntimeMetrics {
  readonly workerId: string;
  records: number;
  duplicatesSkipped: number;
  checkpoints: number;
  lastCheckpointMs: number;
  fenced: number;
  outboxSent: number;
  /** Offsets that vanished (retention) before this worker processed them. */
  lostOffsets: number;
  owned: number[];
  /** Per owned topic-partition: high watermark last seen (fetch or acquire) minus next offset to process. */
  lag: Record<string, number>;
}

/** A checkpoint sent and not settled yet. */
interface Inflight {
  readonly t0: number;
  readonly commits: readonly {
    readonly n: number;
    readonly o: Owned;
    readonly msgs: readonly OutboxMessage[];
    /** The offsets it covers. */
    readonly next: ReadonlyMap<string, bigint>;
    readonly tx: CheckpointTx;
  }[];
  readonly results: Promise<boolean[]>;
}

interface Owned {
  readonly epoch: number;
  /** Next offset to process per topic (what the last checkpoint, plus work since, has covered). */
  readonly next: Map<string, bigint>;
  dirty: boolean;
}

/** The field of `stream:offsets:<t>` holding topic-partition n's next offset. */
export const tpField = (topic: string, n: number): string => `${topic}|${n}`;

/** Wait for a shutdown step at most `ms`; its failure is ignored (we are leaving anyway). */
const bounded = async (p: Promise<unknown> | undefined, ms = 5000): Promise<void> => {
  if (p === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    p.catch(() => undefined),
    new Promise<void>((r) => {
      timer = setTimeout(r, ms);
    }),
  ]);
  clearTimeout(timer);
};

/**
 * Default checkpoint policy, chosen by measurement (bench/stream.ts, bench/stream-users.ts; README):
 * adaptive — a checkpoint CHECKPOINT_LINGER_MS after a batch that left its input caught up (quiet
 * input: events reach Redis in milliseconds), otherwise every DEFAULT_CHECKPOINT_INTERVAL_MS or
 * 20,000 records (load: commits stay batched, throughput unchanged).
 */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 250;
export const CHECKPOINT_LINGER_MS = 5;
/** While eachBatch waits for the lock: a heartbeat this often (kafkajs sends at most one per heartbeatInterval). */
const HEARTBEAT_WHILE_LOCKED_MS = 1000;

/**
 * Wait for `run`, calling `heartbeat` every `everyMs` until it settles. A heartbeat that fails (kafkajs:
 * the group is rebalancing) calls `abandon` and rejects with its error, without waiting for `run`
 * (whose own rejection is then ignored); otherwise the outcome is `run`'s.
 */
export const awaitWithHeartbeats = async (
  run: Promise<unknown>,
  heartbeat: () => Promise<void>,
  everyMs: number,
  abandon: () => void,
): Promise<void> => {
  let settled = false;
  const done = run.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  while (!settled) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((r) => {
        timer = setTimeout(r, everyMs);
      }),
    ]);
    clearTimeout(timer);
    if (settled) break;
    try {
      await heartbeat();
    } catch (err) {
      abandon();
      throw err;
    }
  }
  await run;
};

/**
 * How long the broker may hold a fetch with no new data (kafkajs maxWaitTimeInMs, 5 s by default).
 * A member learns of a rebalance and can leave the group only between fetches, so a quiet worker's
 * SIGTERM, exit-when-idle and its part of every rebalance of the group used to wait out up to 5 s
 * of an empty long poll. Data is returned as soon as it arrives either way; the price of 1 s is one
 * empty fetch per broker a second while idle.
 */
export const FETCH_MAX_WAIT_MS = 1000;

/**
 * Exactly-once effects for a consumer group writing to Redis.
 *
 * Kafka offsets are NOT the source of truth: each checkpoint writes the handler's dirty state and the
 * next offset of every owned topic-partition in one Redis MULTI/EXEC, so state and position can never
 * disagree. On (re)assignment a worker bumps the partition's epoch and resumes from the offsets stored
 * with the state; a batch that starts past them is rewound with seek, records before them are skipped.
 * A worker that lost a partition without noticing (long GC pause, network split) is fenced: its
 * checkpoint WATCHes the epochs it acquired and EXEC fails if another worker bumped one.
 *
 * Effects on Kafka (late events, tier changes) go through a transactional outbox: they are written
 * to a Redis list in the same MULTI/EXEC, then produced, then removed. A crash in between re-sends
 * them on the next acquire (at least once, with deterministic keys and ids for downstream dedup).
 */
export class StreamRuntime {
  readonly metrics: RuntimeMetrics;
  private consumer?: Consumer;
  private admin?: Admin;
  private producer?: BatchingProducer;
  private redis?: RedisConn;
  private redisTx?: RedisConn;
  private readonly keys: SpeedKeys;
  private readonly owned = new Map<number, Owned>();
  /** Partition numbers of the current group generation: the only ones this worker may acquire. */
  private assigned = new Set<number>();
  private chain: Promise<unknown> = Promise.resolve();
  /** The checkpoint sent and not settled yet (at most one). */
  private inflight?: Inflight;
  private timer?: NodeJS.Timeout;
  private soonTimer?: NodeJS.Timeout;
  private sinceCheckpoint = 0;
  private readonly sought = new Map<string, bigint>();
  /** High watermark per owned topic-partition: from the acquire-time offsets, then from every fetched batch. */
  private readonly highWatermarks = new Map<string, bigint>();
  private endOffsetsCache?: { at: number; byTopic: Map<string, { partition: number; high: string; low: string }[]> };
  private joined = false;
  private joins = 0;
  private failure: unknown;
  private stopped = false;
  private readonly kafka: Kafka;

  constructor(
    private readonly config: Config,
    private readonly handler: PartitionHandler,
    private readonly opts: RuntimeOptions,
  ) {
    const workerId = opts.workerId ?? `${process.pid}-${randomUUID().slice(0, 6)}`;
    this.metrics = {
      workerId,
      records: 0,
      duplicatesSkipped: 0,
      checkpoints: 0,
      lastCheckpointMs: 0,
      fenced: 0,
      outboxSent: 0,
      lostOffsets: 0,
      owned: [],
      lag: {},
    };
    this.kafka = createKafka(config, { clientIdSuffix: `stream-${workerId}` });
    this.keys = speedKeys(opts.keyspace);
  }

  /** Serialize processing, checkpoints and rebalances: they all touch the owned-state map. */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * `fn` under the lock, heartbeating the group while it waits or runs. An acquire loads a whole
   * partition's users and a checkpoint may wait on Redis: under load either can hold the lock past
   * the session timeout, and a member whose eachBatch sends no heartbeat meanwhile is evicted, so
   * the group rebalances again and the next acquire is as long (measured: two workers on 1M events
   * of 100k users re-acquired every partition 15-33 times in 15 minutes). A heartbeat that reports a
   * rebalance (or any error) goes to kafkajs, which rejoins; `fn` is then dropped if it had not
   * started: a batch of the old generation, fetched again by whoever owns its partition.
   */
  private async lockedBeating(fn: () => Promise<void>, heartbeat: () => Promise<void>): Promise<void> {
    let abandoned = false;
    const run = this.locked(() => (abandoned ? Promise.resolve() : fn()));
    await awaitWithHeartbeats(run, heartbeat, HEARTBEAT_WHILE_LOCKED_MS, () => {
      abandoned = true;
    });
  }

  private unregister: () => void = () => undefined;

  async start(): Promise<void> {
    this.unregister = registerPending(() =>
      this.sinceCheckpoint > 0
        ? `${this.sinceCheckpoint} record(s) processed since the last checkpoint (not acknowledged; the next owner redoes them)`
        : undefined,
    );
    const consumer = this.kafka.consumer({
      groupId: this.opts.groupId,
      partitionAssigners: [CoPartitionAssigner],
      sessionTimeout: this.opts.sessionTimeoutMs ?? 10_000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: 4 * 1024 * 1024,
    });
    this.consumer = consumer;
    this.admin = this.kafka.admin();
    const admin = this.admin;
    // The five connections side by side (each is its own round trips to Redis or the brokers: one
    // after another they were a few hundred ms of every start). Each one set is closed by stop().
    const broker = (p: Promise<void>) => p.catch((err) => Promise.reject(toBrokerError(err, this.config)));
    const started = await Promise.allSettled([
      connectRedis(this.config, { name: `cl-stream-${this.metrics.workerId}`, retry: true }).then((r) => {
        this.redis = r;
      }),
      connectRedis(this.config, { name: `cl-stream-tx-${this.metrics.workerId}`, retry: true }).then((r) => {
        this.redisTx = r;
      }),
      BatchingProducer.connect(this.config, { lingerMs: 5 }, this.kafka).then((p) => {
        this.producer = p;
      }),
      broker(admin.connect()),
      broker(consumer.connect().then(() => consumer.subscribe({ topics: [...this.opts.topics], fromBeginning: true }))),
    ]);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await this.abort();
      throw failed.reason;
    }
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const assigned = new Set(Object.values(e.payload.memberAssignment).flat());
      this.assigned = assigned;
      // Not caught up until the new assignment is acquired (its partitions may have work pending).
      this.joined = false;
      const generation = ++this.joins;
      void this.locked(async () => {
        // Ownership changes only with no checkpoint in flight (its outcome may release partitions).
        await this.settle();
        for (const n of [...this.owned.keys()]) if (!assigned.has(n)) this.release(n);
        // A partition kept across generations is re-acquired if another worker took it meanwhile
        // (this one was paused past its session): its epoch moved, so our state of it is stale, and
        // keeping it would get every checkpoint fenced while the group still assigns it to us.
        const kept = [...this.owned.keys()];
        if (kept.length > 0) {
          // One GET per partition: the epochs live in different slots on a Redis Cluster.
          const epochs = await Promise.all(kept.map((n) => this.redis!.get(this.keys.epoch(n))));
          kept.forEach((n, i) => {
            if (epochs[i] !== String(this.owned.get(n)!.epoch)) this.release(n);
          });
        }
        // Acquire eagerly, not on the first batch: a partition with nothing new to read must still be
        // owned (fenced, caught-up known) so idleness and exit-when-idle can be decided.
        if (!this.stopped)
          for (const n of [...assigned].sort((a, b) => a - b))
            if (!this.owned.has(n) && this.assigned === assigned) await this.acquire(n);
        if (generation === this.joins) this.joined = true;
      }).catch((err) => {
        this.failure = err;
      });
    });
    consumer.on(consumer.events.CRASH, (e) => {
      // kafkajs restarts the consumer after a retriable crash (it rejoins; GROUP_JOIN re-syncs ownership).
      if (!e.payload.restart) this.failure = e.payload.error;
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, heartbeat }) => {
        await this.lockedBeating(
          () => this.onBatch(batch.topic, batch.partition, batch.highWatermark, batch.messages),
          heartbeat,
        );
        if (this.sinceCheckpoint >= (this.opts.checkpointRecords ?? 20_000))
          await this.lockedBeating(() => this.checkpoint(), heartbeat);
        else if (this.caughtUpOn(batch.topic, batch.partition)) this.checkpointSoon();
        await heartbeat();
      },
    });
    const every = this.opts.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    this.timer = setInterval(() => {
      void this.locked(async () => {
        const tick = this.handler.tick?.bind(this.handler);
        if (tick) for (const [n, o] of this.owned) if (tick(n, (topic) => this.caughtUpOn(topic, n))) o.dirty = true;
        await this.checkpoint();
      }).catch((err) => {
        this.failure = err;
      });
    }, every);
  }

  /** Quiet input: commit within the linger (one pending commit at a time; the interval still runs). */
  private checkpointSoon(): void {
    const linger = this.opts.checkpointLingerMs ?? CHECKPOINT_LINGER_MS;
    if (linger < 0 || this.soonTimer !== undefined || this.stopped) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      void this.locked(() => this.checkpoint()).catch((err) => {
        this.failure = err;
      });
    }, linger);
  }

  /** The first error that stopped the worker (consumer crash, Redis failure), if any. */
  get error(): unknown {
    return this.failure;
  }

  /** Topic-partition n of `topic` has been processed up to the last high watermark seen. */
  caughtUpOn(topic: string, n: number): boolean {
    const o = this.owned.get(n);
    const hw = this.highWatermarks.get(tpField(topic, n));
    if (o === undefined || hw === undefined) return false;
    return (o.next.get(topic) ?? 0n) >= hw;
  }

  /** Joined the group and every owned topic-partition is processed up to its last seen high watermark. */
  caughtUp(): boolean {
    if (!this.joined) return false;
    for (const n of this.owned.keys()) for (const t of this.opts.topics) if (!this.caughtUpOn(t, n)) return false;
    return true;
  }

  private updateLag(topic: string, n: number): void {
    const o = this.owned.get(n);
    const hw = this.highWatermarks.get(tpField(topic, n));
    if (o === undefined || hw === undefined) return;
    const next = o.next.get(topic) ?? 0n;
    this.metrics.lag[tpField(topic, n)] = hw > next ? Number(hw - next) : 0;
  }

  /** End offsets of every topic, shared by the acquisitions of one rebalance (one admin call per topic). */
  private async endOffsets(topic: string): Promise<{ partition: number; high: string; low: string }[]> {
    const now = Date.now();
    if (this.endOffsetsCache === undefined || now - this.endOffsetsCache.at > 1000) {
      this.endOffsetsCache = { at: now, byTopic: new Map() };
    }
    let offs = this.endOffsetsCache.byTopic.get(topic);
    if (offs === undefined) {
      // Retriable right after topic creation or a leader move (NOT_LEADER_FOR_PARTITION): retry with backoff.
      offs = await retryRetriable(() => this.admin!.fetchTopicOffsets(topic));
      this.endOffsetsCache.byTopic.set(topic, offs);
    }
    return offs;
  }

  private release(n: number): void {
    this.owned.delete(n);
    this.handler.release(n);
    for (const t of this.opts.topics) {
      const field = tpField(t, n);
      this.sought.delete(field);
      this.highWatermarks.delete(field);
      // A partition that moved away must not keep counting as lag here (exit-when-idle waits for 0).
      delete this.metrics.lag[field];
    }
    this.metrics.owned = [...this.owned.keys()].sort((a, b) => a - b);
  }

  private async acquire(n: number): Promise<Owned> {
    const redis = this.redis!;
    const epoch = await redis.incr(this.keys.epoch(n));
    const stored = await redis.hmget(this.keys.offsets(n), ...this.opts.topics.map((t) => tpField(t, n)));
    const next = new Map<string, bigint>();
    for (const [i, topic] of this.opts.topics.entries()) {
      const s = stored[i];
      if (s !== null && s !== undefined) next.set(topic, BigInt(s));
    }
    for (const topic of this.opts.topics) {
      const p = (await this.endOffsets(topic)).find((o) => o.partition === n);
      const low = BigInt(p?.low ?? '0');
      const stored = next.get(topic);
      // Partitions never checkpointed start at the log start, not wherever Kafka's group offsets say.
      // A log that no longer starts at 0 lost records this speed layer never saw (a keyspace wiped
      // after retention): that is a gap too, or a rebuild from the logs would skip them silently.
      if (stored === undefined) {
        if (low > 0n) await this.gap(topic, n, 0n, low);
        next.set(topic, low);
      } else if (stored < low) {
        await this.gap(topic, n, stored, low);
        next.set(topic, low);
      }
      this.highWatermarks.set(tpField(topic, n), BigInt(p?.high ?? '0'));
    }
    // Redis, not Kafka's group offsets, is the resume point: position the consumer there now. A
    // group whose committed offsets are at the end (a finished run before --from-beginning) would
    // otherwise fetch nothing and never get a batch to rewind on.
    for (const [topic, offset] of next) this.consumer!.seek({ topic, partition: n, offset: offset.toString() });
    await this.relayOutbox(n, epoch);
    await this.handler.acquire(n);
    const o: Owned = { epoch, next, dirty: false };
    this.owned.set(n, o);
    this.metrics.owned = [...this.owned.keys()].sort((a, b) => a - b);
    for (const topic of this.opts.topics) this.updateLag(topic, n);
    return o;
  }

  private async onBatch(
    topic: string,
    n: number,
    highWatermark: string,
    messages: EachBatchPayload['batch']['messages'],
  ): Promise<void> {
    if (this.stopped || this.failure !== undefined || messages.length === 0) return;
    // Only partitions acquired for the current assignment are processed. A batch for one we do not
    // own (fenced by a successor while this process was paused, or fetched before a revoke) is
    // dropped: re-acquiring here would bump the epoch under the rightful owner and flap ownership.
    const o = this.owned.get(n);
    if (o === undefined) return;
    const field = tpField(topic, n);
    const hw = BigInt(highWatermark);
    if (hw > (this.highWatermarks.get(field) ?? -1n)) this.highWatermarks.set(field, hw);
    const expected = o.next.get(topic)!;
    let start = 0;
    while (start < messages.length && BigInt(messages[start]!.offset) < expected) start++;
    this.metrics.duplicatesSkipped += start;
    if (start === messages.length) {
      this.updateLag(topic, n);
      return;
    }
    const first = BigInt(messages[start]!.offset);
    if (first > expected) {
      if (this.sought.get(field) !== expected) {
        // kafkajs began past our checkpoint (its group offset ran ahead of Redis): rewind.
        this.sought.set(field, expected);
        this.consumer!.seek({ topic, partition: n, offset: expected.toString() });
        return;
      }
      // Rewound once and the batch still starts later: either a fetch from before the seek, or
      // retention removed those records. Only the log start says which.
      const low = BigInt(
        (await retryRetriable(() => this.admin!.fetchTopicOffsets(topic))).find((p) => p.partition === n)?.low ?? '0',
      );
      if (low <= expected) {
        this.consumer!.seek({ topic, partition: n, offset: expected.toString() });
        return;
      }
      try {
        await this.gap(topic, n, expected, first);
      } catch (err) {
        this.failure = err;
        return;
      }
    }
    const records: ConsumedRecord[] = [];
    for (let i = start; i < messages.length; i++) records.push(fetchedRecord(topic, n, messages[i]!));
    await this.handler.apply(topic, n, records);
    const last = BigInt(records[records.length - 1]!.offset);
    o.next.set(topic, last + 1n);
    o.dirty = true;
    this.sinceCheckpoint += records.length;
    this.metrics.records += records.length;
    this.updateLag(topic, n);
  }

  /**
   * Offsets [from, to) of topic-partition n are gone from Kafka. Without acceptGap that is a
   * DATA_GAP failure (the worker leaves the group and exits non-zero). Accepted, the gap is recorded
   * in Redis (idempotent: one field per gap start, so a redo after a crash does not count it twice)
   * and counted in lostOffsets.
   */
  private async gap(topic: string, n: number, from: bigint, to: bigint): Promise<void> {
    const lost = Number(to - from);
    if (!this.opts.acceptGap) {
      throw new CryptolambdaError(
        'DATA_GAP',
        `${topic}[${n}]: offsets ${from}..${to - 1n} (${lost}) are gone from Kafka before the speed layer processed them`,
        'the speed layer would silently miss those records: rebuild it from the batch (`stream --bootstrap-from-batch`, docs/runbook.md), or rerun with --accept-gap to record the loss and continue',
      );
    }
    const gap: RecordedGap = {
      topic,
      partition: n,
      from: from.toString(),
      to: to.toString(),
      lost,
      at: new Date().toISOString(),
      workerId: this.metrics.workerId,
    };
    const isNew = await this.redis!.hsetnx(this.keys.gaps(), `${topic}|${n}|${from}`, JSON.stringify(gap));
    if (isNew === 1) this.metrics.lostOffsets += lost;
    process.stderr.write(
      `stream: ${topic}[${n}] offsets ${from}..${to - 1n} (${lost}) are gone from Kafka; gap accepted and recorded, continuing at ${to}\n`,
    );
  }

  /**
   * A checkpoint: the previous one is settled first, then this one's transactions are built and
   * SENT; it settles (fencing outcome, outbox, metrics) when its replies are in, at the latest when
   * the next checkpoint, a rebalance or `stop` settles it. Processing goes on meanwhile: Redis
   * executes a checkpoint while the worker decodes and applies the next batches (before, the worker
   * sat idle for the whole EXEC: a third of the wall time under load). At most one is in flight, so
   * checkpoints still apply in order, and a partition is released before anything after a fenced
   * checkpoint of it could be committed.
   */
  private async checkpoint(): Promise<void> {
    await this.settle();
    // After a failed commit nothing more may be committed: its changes left the handler's tracking.
    if (this.failure !== undefined) return;
    const sent = this.send();
    if (sent === undefined) return;
    this.inflight = sent;
    // Settle as soon as the replies arrive (in the lock: it may release partitions).
    sent.results.then(
      () => this.locked(() => this.settle()).catch((err) => this.fail(err)),
      () => this.locked(() => this.settle()).catch((err) => this.fail(err)),
    );
  }

  private fail(err: unknown): void {
    if (this.failure === undefined) this.failure = err;
  }

  /**
   * One atomic, fenced commit per dirty partition we own: its changed state, the next offsets of its
   * topic-partitions and its outbox, in one script that runs only while the partition's epoch is still
   * ours (a worker that lost the partition without noticing changes nothing). Every key of the commit
   * carries the partition's hash tag, so this is one slot on a Redis Cluster too.
   */
  private send(): Inflight | undefined {
    const dirty = [...this.owned.entries()].filter(([, o]) => o.dirty);
    if (dirty.length === 0) return undefined;
    const t0 = performance.now();
    const commits = dirty.map(([n, o]) => {
      const tx = new CheckpointTx();
      const msgs = this.handler.flush(n, tx);
      if (msgs.length > 0) {
        tx.list(
          'RPUSH',
          this.keys.outbox(n),
          msgs.map((m) => JSON.stringify({ topic: m.topic, key: m.key, value: m.value.toString('base64') })),
        );
      }
      // The offsets this checkpoint covers (processing moves `o.next` on while it is in flight).
      const next = new Map(o.next);
      tx.hset(
        this.keys.offsets(n),
        [...next].map(([topic, at]) => [tpField(topic, n), at.toString()]),
      );
      // Work after this point makes the partition dirty again for the next checkpoint.
      o.dirty = false;
      return { n, o, msgs, next, tx };
    });
    this.sinceCheckpoint = 0;
    const results = Promise.all(commits.map((c) => commitFenced(this.redisTx!, this.keys.epoch(c.n), c.o.epoch, c.tx)));
    return { t0, commits, results };
  }

  /** Settle the checkpoint in flight, if any: release fenced partitions, relay the outbox, report. */
  private async settle(): Promise<void> {
    const p = this.inflight;
    if (p === undefined) return;
    this.inflight = undefined;
    let outcome: 'committed' | 'fenced' | 'failed' = 'failed';
    try {
      const results = await p.results;
      const live = p.commits.filter((c, i) => {
        if (results[i]) return true;
        // The epoch moved: another worker owns n now (its work since the last checkpoint is redone there).
        this.metrics.fenced++;
        if (this.owned.get(c.n) === c.o) this.release(c.n);
        return false;
      });
      if (live.length === 0) {
        outcome = 'fenced';
        return;
      }
      this.metrics.checkpoints++;
      for (const c of live) if (c.msgs.length > 0) await this.sendOutbox(c.n, c.o.epoch, c.msgs);
      // Informational: lets standard tools show the group's lag. Never read back as truth.
      await this.consumer!.commitOffsets(
        live.flatMap(({ n, next }) => [...next].map(([topic, at]) => ({ topic, partition: n, offset: at.toString() }))),
      ).catch(() => undefined);
      this.metrics.lastCheckpointMs = Math.round((performance.now() - p.t0) * 10) / 10;
      outcome = 'committed';
    } catch (err) {
      // Whatever of it failed, nothing after it may be committed: the worker stops.
      this.fail(err);
      throw err;
    } finally {
      this.opts.onCheckpoint?.((performance.now() - p.t0) / 1000, outcome);
    }
  }

  private async sendOutbox(n: number, epoch: number, msgs: readonly OutboxMessage[]): Promise<void> {
    const byTopic = new Map<string, { key: string; value: Buffer }[]>();
    for (const m of msgs) {
      const list = byTopic.get(m.topic) ?? [];
      list.push({ key: m.key, value: m.value });
      byTopic.set(m.topic, list);
    }
    for (const [topic, records] of byTopic) await this.producer!.push(topic, records);
    await this.producer!.flush();
    this.metrics.outboxSent += msgs.length;
    // Remove exactly what was sent, and only while still the owner (a new owner relays it itself).
    const tx = new CheckpointTx();
    tx.add('LTRIM', this.keys.outbox(n), msgs.length, -1);
    await commitFenced(this.redisTx!, this.keys.epoch(n), epoch, tx);
  }

  private async relayOutbox(n: number, epoch: number): Promise<void> {
    const pending = await this.redis!.lrange(this.keys.outbox(n), 0, -1);
    if (pending.length === 0) return;
    const msgs = pending.map((s) => {
      const j = JSON.parse(s) as { topic: string; key: string; value: string };
      return { topic: j.topic, key: j.key, value: Buffer.from(j.value, 'base64') };
    });
    await this.sendOutbox(n, epoch, msgs);
  }

  /**
   * Graceful: final checkpoint, then leave the group so partitions move at once. The group is left
   * and every connection closed even when the final checkpoint fails (Redis gone): a worker must
   * never stay a member holding partitions it can no longer commit. The checkpoint's error is
   * rethrown afterwards; work since the last good checkpoint is redone by the next owner.
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.soonTimer) clearTimeout(this.soonTimer);
    let failed: unknown;
    await this.locked(async () => {
      if (!this.stopped && this.failure === undefined) await this.checkpoint();
      await this.settle();
    }).catch((err) => {
      failed = err;
    });
    this.stopped = true;
    // A broker that is down makes kafkajs retry LeaveGroup for ~30 s: bound each step.
    await bounded(this.consumer?.disconnect());
    await bounded(this.producer?.disconnect());
    await bounded(this.admin?.disconnect());
    this.redis?.disconnect();
    this.redisTx?.disconnect();
    this.unregister();
    if (failed !== undefined) throw failed;
  }

  /** Test hook: vanish like a killed process (no final checkpoint, no clean group leave). */
  async abort(): Promise<void> {
    this.unregister();
    if (this.timer) clearInterval(this.timer);
    if (this.soonTimer) clearTimeout(this.soonTimer);
    this.stopped = true;
    this.redis?.disconnect();
    this.redisTx?.disconnect();
    await this.consumer?.disconnect().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }
}
