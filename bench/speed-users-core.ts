/**
 * The speed layer's user path in one process, without Kafka or Redis: Avro decode, the pure
 * `PartitionEngine` (merge buffer, ledger, re-application history, folds) and the store's
 * serialization of every checkpoint into a `CheckpointTx` (recorded, not sent). Compares the
 * per-event cost and the heap per user at `users/10` and `users` users (flat = the cost does not
 * grow with the users held), with GC pause time from `PerformanceObserver('gc')`. Prints figures;
 * asserts nothing. The same Zipf population as bench/stream-users.ts: one heavy user holds 10%.
 *
 *   npx tsc -p bench/tsconfig.json && node --expose-gc .cryptolambda/bench/bench/speed-users-core.js [events] [users]
 *
 * One engine per partition of raw.transactions (murmur2 of the user id, as the producer does),
 * batches of 500 records per partition as a Kafka fetch would hand them, a checkpoint (drain +
 * store.write) every `checkpointEvery` records, as the runtime's record-count/interval policy.
 */
import { createHash } from 'node:crypto';
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import { decodeRecord, encodeTransaction } from '../src/adapters/avro/codec.js';
import { CheckpointTx } from '../src/adapters/redis/checkpoint-tx.js';
import type { RedisConn } from '../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../src/adapters/redis/speed-keys.js';
import { RedisSpeedStore } from '../src/adapters/redis/speed-store.js';
import { userPartition } from '../src/core/partitioning.js';
import { DEFAULT_ENGINE_OPTIONS, PartitionEngine } from '../src/core/speed/engine.js';
import { TOPICS } from '../src/core/topics.js';
import { report } from './report.js';
import { makeUserEvents } from './user-population.js';

const N = Number(process.argv[2] ?? 1_000_000);
const USERS = Number(process.argv[3] ?? 100_000);
const CHECKPOINT_EVERY = Number(process.env.CHECKPOINT_EVERY ?? 1_000);
const BATCH = 500;
/** KINDS=1: also print the commands per event by command and key kind. */
const KINDS = process.env.KINDS === '1';
/**
 * DIGEST=1: also print a SHA-256 of every checkpoint's commands (keys and arguments, in order), so a
 * change meant to serialize the same state faster can be checked byte-identical against the build
 * before it on the same input.
 */
const DIGEST = process.env.DIGEST === '1';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Encoded records per partition, in event-time order (the producer's order within a partition). */
const records = (count: number, users: number, seed: number): Buffer[][] => {
  const out: Buffer[][] = Array.from({ length: TOPICS.transactions.partitions }, () => []);
  for (const e of makeUserEvents(count, users, seed)()) out[userPartition(e.userId)]!.push(encodeTransaction(e));
  return out;
};

const gc = (globalThis as { gc?: () => void }).gc;

const run = async (count: number, users: number) => {
  const parts = records(count, users, users);
  const keyspace = keyspaceFor('bench.');
  const store = new RedisSpeedStore(undefined as unknown as RedisConn, speedKeys(keyspace), {
    history: { '1m': 60, '5m': 60 },
    dayTtlSec: 86_400,
  });
  const engines = parts.map(() => new PartitionEngine(DEFAULT_ENGINE_OPTIONS, 0, undefined));
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  let gcMs = 0;
  let gcMajorMs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      // kind 2 = major (mark-compact), 4 = incremental marking, 1 = minor (scavenge)
      if ((e as unknown as { detail?: { kind?: number } }).detail?.kind !== 1) gcMajorMs += e.duration;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const phase = { decode: 0, engine: 0, drain: 0, write: 0 };
  let commands = 0;
  let args = 0;
  /** Commands and their arguments by name and key kind (`HSET stream:user`): where a checkpoint's commands go. */
  const kinds = new Map<string, [number, number]>();
  const digest = createHash('sha256');
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  // Round-robin over partitions, one fetch batch at a time, as a consumer of all partitions would.
  const at = parts.map(() => 0);
  const since = parts.map(() => 0);
  let now = 10_000;
  for (let left = true; left; ) {
    left = false;
    for (const [n, recs] of parts.entries()) {
      if (at[n]! >= recs.length) continue;
      left = true;
      const batch = recs.slice(at[n]!, at[n]! + BATCH);
      at[n]! += batch.length;
      let t = performance.now();
      const events = batch.map((b) => {
        const d = decodeRecord('transactions', b);
        if (!d.ok) throw new Error(d.reason);
        return d.event;
      });
      phase.decode += performance.now() - t;
      t = performance.now();
      const eng = engines[n]!;
      now += 5;
      eng.addUsers('transactions', events, now);
      // raw.rewards has no records: idle after userIdleMs, so the transactions' frontier releases.
      eng.tick(now, () => true);
      phase.engine += performance.now() - t;
      since[n]! += batch.length;
      if (since[n]! >= CHECKPOINT_EVERY || at[n]! >= recs.length) {
        since[n] = 0;
        if (at[n]! >= recs.length) eng.tick(now + 10_000, () => true);
        t = performance.now();
        const c = eng.drain();
        phase.drain += performance.now() - t;
        t = performance.now();
        const tx = new CheckpointTx();
        store.write(tx, n, c);
        phase.write += performance.now() - t;
        commands += tx.commands;
        args += tx.argv.length;
        // Outside the phases too: hashing costs CPU the comparison run does not care about.
        if (DIGEST) digest.update(`${n}\u0000${tx.keys.join('\u0000')}\u0001${tx.argv.join('\u0000')}\u0002`);
        // The breakdown by kind costs a string per command: only on request, outside the phases
        // (the CPU-seconds still include it then).
        if (KINDS)
          for (let a = 0, i = 0; a < tx.argv.length; i++) {
            const kind = `${tx.argv[a + 1]} ${tx.keys[i]!.slice(keyspace.length).split(':{')[0]}`;
            const seen = kinds.get(kind) ?? [0, 0];
            kinds.set(kind, [seen[0] + 1, seen[1] + 2 + Number(tx.argv[a])]);
            a += 2 + Number(tx.argv[a]);
          }
      }
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  gc?.();
  const mem = process.memoryUsage();
  const held = engines.reduce((a, e) => a + e.users.size, 0);
  const out = {
    count,
    users: held,
    perSec: count / seconds,
    perCpuSec: count / cpuSeconds,
    cpuSeconds,
    seconds,
    gcShare: gcMs / 1000 / seconds,
    gcMajorShare: gcMajorMs / 1000 / seconds,
    heapPerUserKiB: (mem.heapUsed - heap0) / 1024 / held,
    rssMiB: mem.rss / 2 ** 20,
    phase,
    commandsPerEvent: commands / count,
    kinds: [...kinds]
      .sort((a, b) => b[1][0] - a[1][0])
      .map(([k, [c, a]]) => `${k} ${(c / count).toFixed(2)} (${(a / count).toFixed(1)} args)`)
      .join(', '),
    argsPerEvent: args / count,
    digest: DIGEST ? digest.digest('hex') : '',
  };
  // HEAP_SNAPSHOT=file: a heap snapshot with the engines alive (what a user's state is made of).
  if (process.env.HEAP_SNAPSHOT && count === N) v8.writeHeapSnapshot(process.env.HEAP_SNAPSHOT);
  // Keep the engines alive until the heap was measured.
  if (engines.length < 0) console.log(engines);
  return out;
};

const small = await run(N / 10, USERS / 10);
const large = await run(N, USERS);
for (const r of [small, large]) {
  const p = r.phase;
  const tot = p.decode + p.engine + p.drain + p.write;
  const share = (x: number) => `${((x / tot) * 100).toFixed(0)}%`;
  console.log(
    `speed users core: ${fmt(r.count)} events, ${fmt(r.users)} users: ${fmt(r.perCpuSec)} events per CPU-second ` +
      `(${r.cpuSeconds.toFixed(1)} s CPU, ${fmt(r.perSec)}/s wall), GC pauses ${(r.gcShare * 100).toFixed(0)}% of the wall time ` +
      `(major ${(r.gcMajorShare * 100).toFixed(0)}%), heap ${r.heapPerUserKiB.toFixed(2)} KiB/user, ` +
      `RSS ${fmt(r.rssMiB)} MiB; decode ${share(p.decode)} engine ${share(p.engine)} ` +
      `drain ${share(p.drain)} write ${share(p.write)}; ${r.commandsPerEvent.toFixed(2)} commands/event, ` +
      `${r.argsPerEvent.toFixed(1)} script arguments/event`,
  );
  if (KINDS) console.log(`  commands per event by kind (with their arguments, name and count included): ${r.kinds}`);
  if (DIGEST) console.log(`  checkpoint digest: ${r.digest}`);
  const size = `${fmt(r.count)} events/${fmt(r.users)} users`;
  report('speed-users-core', `user events per CPU-second (${size})`, Math.round(r.perCpuSec), 'events/s');
  report('speed-users-core', `GC share (${size})`, Math.round(r.gcShare * 100), '%');
  report('speed-users-core', `heap per user (${size})`, Number(r.heapPerUserKiB.toFixed(2)), 'KiB');
}
const ratio = small.perCpuSec / large.perCpuSec;
console.log(
  `speed users core: per-event cost at ${fmt(large.users)} vs ${fmt(small.users)} users: ${ratio.toFixed(2)}x (1.00 = flat)`,
);
report('speed-users-core', 'per-event cost ratio (10x users)', Number(ratio.toFixed(2)), 'x', '1.00 = flat');
