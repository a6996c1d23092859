import { afterEach, describe, expect, it } from 'vitest';
import { withAdmin } from '../../../src/adapters/kafka/client.js';
import type { ConsumedRecord } from '../../../src/adapters/kafka/consumer.js';
import { BatchingProducer } from '../../../src/adapters/kafka/producer.js';
import type { CheckpointTx } from '../../../src/adapters/redis/checkpoint-tx.js';
import { connectRedis, type RedisConn as Redis } from '../../../src/adapters/redis/client.js';
import { speedKeys } from '../../../src/adapters/redis/speed-keys.js';
import { type OutboxMessage, type PartitionHandler, StreamRuntime } from '../../../src/app/stream/runtime.js';
import type { Config } from '../../../src/config/config.js';
import { cleanupTopicsAfter, deleteRecordsBefore, randomId, testConfig } from '../../support/int.js';
import { storedOffsets } from '../../support/redis-dump.js';

/**
 * A deterministic handler: per key, the count and sum of the integer values seen, plus one outbox
 * message per record whose value is a multiple of 100. Exactly-once means the final sums equal the
 * produced data exactly, whatever crashes and rebalances happened.
 */
class SumHandler implements PartitionHandler {
  private readonly state = new Map<number, Map<string, { count: number; sum: bigint }>>();
  private readonly dirty = new Map<number, Set<string>>();
  private readonly out = new Map<number, OutboxMessage[]>();
  /** Test hook: make the next flush throw (a checkpoint that cannot be written). */
  failFlush = false;
  constructor(
    private readonly ks: string,
    private readonly outTopic: string,
    private readonly config: Config,
  ) {}
  private redis!: Redis;
  async acquire(n: number): Promise<void> {
    if (this.redis === undefined) {
      this.redis = await connectRedis(this.config);
      connections.push(this.redis);
    }
    this.state.set(n, new Map());
    this.dirty.set(n, new Set());
    this.out.set(n, []);
  }
  release(n: number): void {
    this.state.delete(n);
    this.dirty.delete(n);
    this.out.delete(n);
  }
  async apply(_topic: string, n: number, records: readonly ConsumedRecord[]): Promise<void> {
    const redis = this.redis;
    const s = this.state.get(n)!;
    for (const r of records) {
      const k = r.key!;
      let cur = s.get(k);
      if (!cur) {
        const stored = await redis.hgetall(`${this.ks}sum:${k}`);
        cur = { count: Number(stored.count ?? 0), sum: BigInt(stored.sum ?? 0) };
        s.set(k, cur);
      }
      const v = BigInt(r.value!.toString());
      cur.count++;
      cur.sum += v;
      this.dirty.get(n)!.add(k);
      if (v % 100n === 0n) this.out.get(n)!.push({ topic: this.outTopic, key: k, value: Buffer.from(String(v)) });
    }
  }
  flush(n: number, tx: CheckpointTx): OutboxMessage[] {
    if (this.failFlush) throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
    const s = this.state.get(n)!;
    for (const k of this.dirty.get(n)!) {
      const cur = s.get(k)!;
      tx.hset(`${this.ks}sum:${k}`, [
        ['count', String(cur.count)],
        ['sum', cur.sum.toString()],
      ]);
    }
    this.dirty.get(n)!.clear();
    const msgs = this.out.get(n)!;
    this.out.set(n, []);
    return msgs;
  }
}

const runtimes: StreamRuntime[] = [];
/** The handlers' own connections (state loads), closed after each test. */
const connections: Redis[] = [];
afterEach(async () => {
  for (const r of runtimes.splice(0)) await r.stop().catch(() => undefined);
  for (const c of connections.splice(0)) c.disconnect();
});

const setup = async () => {
  const config = testConfig();
  cleanupTopicsAfter(config);
  const input = `${config.topicPrefix}in`;
  const output = `${config.topicPrefix}out`;
  await withAdmin(config, (a) =>
    a.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: input, numPartitions: 6 },
        { topic: output, numPartitions: 1 },
      ],
    }),
  );
  const ks = `test:${randomId()}:`;
  const redis = await connectRedis(config);
  const producer = await BatchingProducer.connect(config, { lingerMs: 2 });
  const expected = new Map<string, { count: number; sum: bigint }>();
  let produced = 0;
  const produce = async (n: number) => {
    const recs = [];
    for (let i = 0; i < n; i++) {
      const key = `u${(produced + i) % 37}`;
      const v = BigInt(produced + i + 1);
      const e = expected.get(key) ?? { count: 0, sum: 0n };
      e.count++;
      e.sum += v;
      expected.set(key, e);
      recs.push({ key, value: Buffer.from(v.toString()) });
    }
    produced += n;
    await producer.push(input, recs);
    await producer.flush();
  };
  const cleanup = async () => {
    await producer.disconnect();
    const keys = await redis.keys(`${ks}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  };
  return { config, input, output, ks, redis, produce, expected, cleanup, produced: () => produced };
};

const worker = (
  config: Config,
  ks: string,
  input: string,
  output: string,
  groupId: string,
  opts: { acceptGap?: boolean; handler?: SumHandler } = {},
) => {
  const rt = new StreamRuntime(config, opts.handler ?? new SumHandler(ks, output, config), {
    groupId,
    topics: [input],
    keyspace: ks,
    checkpointIntervalMs: 100,
    checkpointRecords: 500,
    ...(opts.acceptGap ? { acceptGap: true } : {}),
  });
  runtimes.push(rt);
  return rt;
};

const groupMembers = (config: Config, group: string) =>
  withAdmin(config, async (a) => (await a.describeGroups([group])).groups[0]?.members.length ?? 0);

/** Wait until the offsets stored with the state cover every record in the topic. */
const waitCaughtUp = async (redis: Redis, ks: string, input: string, total: number, timeoutMs = 45_000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const offsets = await storedOffsets(redis, ks);
    const covered = Object.entries(offsets)
      .filter(([f]) => f.startsWith(`${input}|`))
      .reduce((n, [, v]) => n + Number(v), 0);
    if (covered >= total) return;
    if (Date.now() > deadline) throw new Error(`caught up to ${covered}/${total}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

const readSums = async (redis: Redis, ks: string, keys: Iterable<string>) => {
  const out = new Map<string, { count: number; sum: bigint }>();
  for (const k of keys) {
    const h = await redis.hgetall(`${ks}sum:${k}`);
    out.set(k, { count: Number(h.count), sum: BigInt(h.sum ?? -1) });
  }
  return out;
};

describe('StreamRuntime: exactly-once effects into Redis', () => {
  it('a worker that crashes mid-stream and a successor end in exactly the uninterrupted state', async () => {
    const t = await setup();
    try {
      const group = `g-${randomId()}`;
      await t.produce(3000);
      const a = worker(t.config, t.ks, t.input, t.output, group);
      await a.start();
      // Let A checkpoint part of the stream, keep producing, then kill it without a final checkpoint.
      for (let i = 0; i < 50 && a.metrics.checkpoints < 2; i++) await new Promise((r) => setTimeout(r, 100));
      expect(a.metrics.checkpoints).toBeGreaterThanOrEqual(2);
      await t.produce(3000);
      await a.abort();
      runtimes.splice(runtimes.indexOf(a), 1);

      const b = worker(t.config, t.ks, t.input, t.output, group);
      await b.start();
      await t.produce(2000);
      await waitCaughtUp(t.redis, t.ks, t.input, t.produced());
      await b.stop();
      runtimes.splice(runtimes.indexOf(b), 1);

      expect(await readSums(t.redis, t.ks, t.expected.keys())).toEqual(t.expected);
      // The outbox reached Kafka: every multiple of 100 at least once, and nothing else.
      const offs = await withAdmin(t.config, (adm) => adm.fetchTopicOffsets(t.output));
      const sentCount = Number(offs[0]!.high);
      expect(sentCount).toBeGreaterThanOrEqual(t.produced() / 100);
      expect(await t.redis.llen(speedKeys(t.ks).outbox(0))).toBe(0);
    } finally {
      await t.cleanup();
    }
  });

  it('two workers in one group split the partitions and end in the same state as one', async () => {
    const t = await setup();
    try {
      const group = `g-${randomId()}`;
      const a = worker(t.config, t.ks, t.input, t.output, group);
      const b = worker(t.config, t.ks, t.input, t.output, group);
      await Promise.all([a.start(), b.start()]);
      await t.produce(4000);
      await waitCaughtUp(t.redis, t.ks, t.input, t.produced());
      const owned = [...a.metrics.owned, ...b.metrics.owned].sort();
      expect(owned).toEqual([0, 1, 2, 3, 4, 5]);
      expect(a.metrics.owned.length).toBeGreaterThan(0);
      expect(b.metrics.owned.length).toBeGreaterThan(0);
      expect(await readSums(t.redis, t.ks, t.expected.keys())).toEqual(t.expected);
    } finally {
      await t.cleanup();
    }
  });

  it('a restarted group re-reads nothing it already checkpointed (offsets live with the state)', async () => {
    const t = await setup();
    try {
      const group = `g-${randomId()}`;
      await t.produce(1000);
      const a = worker(t.config, t.ks, t.input, t.output, group);
      await a.start();
      await waitCaughtUp(t.redis, t.ks, t.input, 1000);
      await a.stop();
      runtimes.splice(runtimes.indexOf(a), 1);
      const b = worker(t.config, t.ks, t.input, t.output, group);
      await b.start();
      await t.produce(500);
      await waitCaughtUp(t.redis, t.ks, t.input, 1500);
      expect(b.metrics.records).toBe(500);
      expect(await readSums(t.redis, t.ks, t.expected.keys())).toEqual(t.expected);
    } finally {
      await t.cleanup();
    }
  });

  it('stop() leaves the group and closes its connections even when the final checkpoint fails', async () => {
    const t = await setup();
    try {
      const group = `g-${randomId()}`;
      const handler = new SumHandler(t.ks, t.output, t.config);
      const a = worker(t.config, t.ks, t.input, t.output, group, { handler });
      await a.start();
      await t.produce(300);
      for (let i = 0; i < 100 && a.metrics.records < 300; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await groupMembers(t.config, group)).toBe(1);
      // Redis "goes away": every checkpoint from now on fails; new records make one necessary.
      handler.failFlush = true;
      await t.produce(10);
      for (let i = 0; i < 100 && a.metrics.records < 310; i++) await new Promise((r) => setTimeout(r, 50));
      // The final checkpoint fails, or the periodic one already did (then the worker has failed).
      const err = await a.stop().then(
        () => a.error,
        (e: unknown) => e,
      );
      expect(String(err)).toMatch(/writeable/);
      runtimes.splice(runtimes.indexOf(a), 1);
      // Before the fix the consumer stayed in the group holding all six partitions.
      expect(await groupMembers(t.config, group)).toBe(0);
    } finally {
      await t.cleanup();
    }
  });

  it('a fenced worker never re-acquires a partition it is not assigned (no ownership flapping)', async () => {
    const t = await setup();
    try {
      const group = `g-${randomId()}`;
      const a = worker(t.config, t.ks, t.input, t.output, group);
      await a.start();
      for (let i = 0; i < 100 && a.metrics.owned.length < 6; i++) await new Promise((r) => setTimeout(r, 100));
      await t.produce(600);
      await waitCaughtUp(t.redis, t.ks, t.input, 600);
      // Another owner takes every partition (what a successor does while this worker is paused).
      const epochs: Record<number, string> = {};
      for (let n = 0; n < 6; n++) epochs[n] = String(await t.redis.incr(speedKeys(t.ks).epoch(n)));
      await t.produce(600);
      for (let i = 0; i < 100 && a.metrics.owned.length > 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(a.metrics.owned).toEqual([]);
      // Records for the fenced partitions keep arriving at the worker, which is still assigned them.
      await t.produce(600);
      await new Promise((r) => setTimeout(r, 1500));
      expect(a.metrics.fenced).toBeGreaterThan(0);
      // Before the fix the next fetched batch re-acquired each partition, bumping its epoch again.
      for (let n = 0; n < 6; n++) expect(await t.redis.get(speedKeys(t.ks).epoch(n))).toBe(epochs[n]);
    } finally {
      await t.cleanup();
    }
  });

  it('a stored offset below the log start stops the worker with DATA_GAP unless the gap is accepted', async () => {
    const t = await setup();
    try {
      const group = `g-${randomId()}`;
      await t.produce(600);
      const a = worker(t.config, t.ks, t.input, t.output, group);
      await a.start();
      await waitCaughtUp(t.redis, t.ks, t.input, 600);
      await a.stop();
      runtimes.splice(runtimes.indexOf(a), 1);
      await t.produce(600);
      // Retention in fast-forward: delete everything the stopped group has not read yet, and more.
      const stored = await storedOffsets(t.redis, t.ks);
      const ends = await withAdmin(t.config, (adm) => adm.fetchTopicOffsets(t.input));
      await deleteRecordsBefore(t.config, t.input, new Map(ends.map((o) => [o.partition, BigInt(o.high) - 10n])));
      const lost = ends.reduce((n, o) => n + (Number(o.high) - 10 - Number(stored[`${t.input}|${o.partition}`])), 0);

      const b = worker(t.config, t.ks, t.input, t.output, group);
      await b.start();
      for (let i = 0; i < 100 && b.error === undefined; i++) await new Promise((r) => setTimeout(r, 100));
      expect((b.error as { code?: string }).code).toBe('DATA_GAP');
      expect(String((b.error as Error).message)).toMatch(/are gone from Kafka/);
      await b.stop();
      runtimes.splice(runtimes.indexOf(b), 1);

      const c = worker(t.config, t.ks, t.input, t.output, group, { acceptGap: true });
      await c.start();
      await waitCaughtUp(t.redis, t.ks, t.input, t.produced());
      expect(c.error).toBeUndefined();
      expect(c.metrics.lostOffsets).toBe(lost);
      const gaps = Object.values(await t.redis.hgetall(`${t.ks}stream:gaps`)).map((v) => JSON.parse(v));
      expect(gaps).toHaveLength(6);
      expect(gaps.reduce((n, g) => n + g.lost, 0)).toBe(lost);
    } finally {
      await t.cleanup();
    }
  });

  it('resumes from the offsets in Redis even when the group committed the end (a wiped speed layer re-reads all)', async () => {
    const t = await setup();
    try {
      const group = `g-${randomId()}`;
      await t.produce(900);
      const a = worker(t.config, t.ks, t.input, t.output, group);
      await a.start();
      await waitCaughtUp(t.redis, t.ks, t.input, 900);
      await a.stop();
      runtimes.splice(runtimes.indexOf(a), 1);
      // What `stream --from-beginning` does: the state and offsets go, Kafka's group offsets stay at the end.
      const keys = await t.redis.keys(`${t.ks}*`);
      await t.redis.del(...keys);
      const b = worker(t.config, t.ks, t.input, t.output, group);
      await b.start();
      // Before: nothing new to fetch from the committed position, so it never rewound.
      await waitCaughtUp(t.redis, t.ks, t.input, 900, 20_000);
      expect(b.metrics.records).toBe(900);
      expect(await readSums(t.redis, t.ks, t.expected.keys())).toEqual(t.expected);
    } finally {
      await t.cleanup();
    }
  });
});
