import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { withAdmin } from '../../src/adapters/kafka/client.js';
import { connectRedis, type RedisConn } from '../../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../src/adapters/redis/speed-keys.js';
import type { Config } from '../../src/config/config.js';
import type { PriceEvent, RewardEvent, TransactionEvent, UserEvent } from '../../src/core/events/types.js';
import { SPEED_PARTITIONS } from '../../src/core/partitioning.js';
import { positionToJson } from '../../src/core/portfolio/codec.js';
import { compareEvents } from '../../src/core/portfolio/position.js';
import { dayOf, emptyUser, replayUser } from '../../src/core/speed/user-ledger.js';
import { topicName } from '../../src/core/topics.js';
import { BIN, type CliResult, runCli } from './cli.js';
import { produceDataset } from './events.js';
import { storedOffsets } from './redis-dump.js';

/**
 * Helpers of the arrival-order integration tests (issue 14): events produced in a chosen arrival
 * order to the real topics while the real `stream` command runs, then the batch and reconcile, and
 * the speed layer's books compared with the core's in-order replay of the same events.
 */

export const cliEnv = (config: Config): Record<string, string> => ({
  CRYPTOLAMBDA_TOPIC_PREFIX: config.topicPrefix,
  CRYPTOLAMBDA_LAKE_DIR: config.lakeDir,
  NO_COLOR: '1',
});

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Produce a call's events in event-time order per topic (keys: symbol / user id, through the real codec). */
export const produceInOrder = (config: Config, events: readonly (UserEvent | PriceEvent)[]): Promise<void> => {
  // In event-time order per topic (a stable sort keeps the given order of equal times): what a
  // producer of live events writes. Out-of-order arrival is what each scenario sets up itself.
  const sorted = [...events].sort((a, b) => a.eventTime - b.eventTime);
  return produceDataset(config, {
    prices: sorted.filter((e): e is PriceEvent => e.kind === 'price'),
    transactions: sorted.filter((e): e is TransactionEvent => e.kind === 'transaction'),
    rewards: sorted.filter((e): e is RewardEvent => e.kind === 'reward'),
  });
};

/** High watermark of every partition of the three input topics (`topic|n` -> offset), empty ones left out. */
const inputHighs = async (config: Config): Promise<Map<string, bigint>> => {
  // Right after the topics are created a broker may still answer "not the leader": ask again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await withAdmin(config, async (admin) => {
        const out = new Map<string, bigint>();
        for (const t of ['prices', 'transactions', 'rewards'] as const) {
          const topic = topicName(config.topicPrefix, t);
          for (const o of await admin.fetchTopicOffsets(topic))
            if (BigInt(o.high) > 0n) out.set(`${topic}|${o.partition}`, BigInt(o.high));
        }
        return out;
      });
    } catch (e) {
      if (attempt >= 20) throw e;
      await sleep(250);
    }
  }
};

/**
 * The real `stream` command as a child process (what an operator runs), stopped with SIGTERM
 * (final checkpoint); `--json` gives its summary on stdout.
 */
export class StreamProcess {
  private stderr = '';
  private stdout = '';
  private readonly exited: Promise<number | string>;
  private readonly redis: Promise<RedisConn>;

  private constructor(
    private readonly config: Config,
    private readonly child: ChildProcess,
  ) {
    child.stderr!.on('data', (b: Buffer) => {
      this.stderr += b.toString('utf8');
    });
    child.stdout!.on('data', (b: Buffer) => {
      this.stdout += b.toString('utf8');
    });
    this.exited = new Promise((r) => child.once('exit', (code, signal) => r(signal ?? code ?? -1)));
    this.redis = connectRedis(config);
  }

  /**
   * The worker's `speed.userIdle` (a setting of the configuration file): how long a quiet user topic
   * holds back the merge buffer. Shorter than the 2 s default only so that each wait for a release
   * (settled()) is short; what the scenarios check, the books, must not depend on it.
   */
  static readonly USER_IDLE = '500ms';

  static start(config: Config): StreamProcess {
    const file = path.join(tmpdir(), `cl-stream-${config.topicPrefix}yaml`);
    writeFileSync(file, `speed:\n  userIdle: ${StreamProcess.USER_IDLE}\n`);
    const child = spawn(process.execPath, [BIN, 'stream', '--json', '--checkpoint-ms', '100'], {
      env: { ...process.env, ...cliEnv(config), CRYPTOLAMBDA_CONFIG: file },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.once('exit', () => rmSync(file, { force: true }));
    return new StreamProcess(config, child);
  }

  /** Wait until every record produced so far is checkpointed (the stream consumed it). */
  async caughtUp(timeoutMs = 45_000): Promise<void> {
    const redis = await this.redis;
    const ks = keyspaceFor(this.config.topicPrefix);
    const deadline = Date.now() + timeoutMs;
    const highs = await inputHighs(this.config);
    for (;;) {
      const stored = await storedOffsets(redis, ks);
      const behind = [...highs].filter(([f, h]) => BigInt(stored[f] ?? '0') < h);
      if (behind.length === 0) return;
      if (Date.now() > deadline)
        throw new Error(
          `stream not caught up after ${timeoutMs} ms: ${behind.map(([f]) => f).join(', ')}\n${this.stderr}`,
        );
      await sleep(50);
    }
  }

  /**
   * Caught up, and every partition's merge buffer released (checkpointed empty): each event produced
   * so far is applied to the books. The engine releases a quiet user topic's buffer once it has seen
   * no new record for userIdleMs; waiting on that state, not on a fixed sleep past userIdleMs, is
   * both quicker and immune to a loaded machine stretching the release past the sleep.
   */
  async settled(timeoutMs = 45_000): Promise<void> {
    await this.caughtUp(timeoutMs);
    const redis = await this.redis;
    const k = speedKeys(keyspaceFor(this.config.topicPrefix));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const held = await Promise.all(SPEED_PARTITIONS.map((n) => redis.hlen(k.partitionBuffer(n))));
      if (held.every((h) => h === 0)) return;
      if (Date.now() > deadline)
        throw new Error(`merge buffers not released after ${timeoutMs} ms: ${held.join(', ')}\n${this.stderr}`);
      await sleep(50);
    }
  }

  /** SIGTERM: the worker checkpoints and exits 0 with its summary. */
  async stop(): Promise<StreamSummaryJson> {
    this.child.kill('SIGTERM');
    const code = await this.exited;
    (await this.redis).disconnect();
    expect({ code, stderr: this.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    return JSON.parse(this.stdout) as StreamSummaryJson;
  }

  /** Only if a test failed before stop(). */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    (await this.redis).disconnect();
  }
}

export interface StreamSummaryJson {
  records: number;
  userEvents: number;
  userDuplicates: number;
  reordered: number;
  userTooLate: number;
  late: number;
  tooLate: number;
  rejected: number;
  invalid: number;
  [k: string]: unknown;
}

export interface ReconcileOutcome {
  date: string;
  code: number;
  summary: { users: number; fieldsMatched: number; fieldsMismatched: number; clean: boolean };
  /** The first findings (subject, field, speed vs batch), for the failure message. */
  findings: unknown[];
  /** Mismatched fields counted by field name, and the users they belong to. */
  byField: Record<string, number>;
  users: string[];
  /** User events of the day the speed layer dead-lettered TOO_LATE, as reconcile counts them. */
  tooLate: number;
  /** The same, as the batch recorded them (batch_rejects code TOO_LATE). */
  tooLateBatch: number;
}

/** `ingest`, `batch --from --to` over the days, then `reconcile --date D --json` per day (the built CLI). */
export const batchAndReconcile = async (config: Config, days: readonly string[]): Promise<ReconcileOutcome[]> => {
  const env = cliEnv(config);
  const ok = (what: string, r: CliResult) =>
    expect({ what, code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
  ok('ingest', await runCli(['ingest'], env));
  const sorted = [...days].sort();
  ok('batch', await runCli(['batch', '--from', sorted[0]!, '--to', sorted.at(-1)!, '--shards', '1'], env, 120_000));
  const out: ReconcileOutcome[] = [];
  for (const date of sorted) {
    const r = await runCli(['reconcile', '--date', date, '--json'], env);
    if (r.code !== 0 && r.code !== 8) throw new Error(`reconcile --date ${date}: exit ${r.code}: ${r.stderr}`);
    const j = JSON.parse(r.stdout) as {
      summary: ReconcileOutcome['summary'];
      findings: { field: string; userId: string; status: string }[];
      tooLate?: { events: number; batch: number };
    };
    const byField: Record<string, number> = {};
    for (const f of j.findings) byField[f.field] = (byField[f.field] ?? 0) + 1;
    const users = [...new Set(j.findings.map((f) => f.userId))].sort();
    out.push({
      date,
      code: r.code,
      summary: j.summary,
      findings: j.findings.slice(0, 5),
      byField,
      users,
      tooLate: j.tooLate?.events ?? 0,
      tooLateBatch: j.tooLate?.batch ?? 0,
    });
  }
  return out;
};

/** One line per day for the closing note: exit code, users, fields matched / mismatched. */
export const reconcileLine = (rs: readonly ReconcileOutcome[]): string =>
  rs
    .map(
      (r) =>
        `${r.date}: exit ${r.code}, ${r.summary.users} users, ${r.summary.fieldsMatched} matched, ${r.summary.fieldsMismatched} mismatched` +
        (r.users.length === 0 ? '' : ` (${r.users.length} users; ${JSON.stringify(r.byField)})`),
    )
    .join('; ');

/** UTC days of the events. */
export const daysOf = (events: readonly { eventTime: number }[]): string[] =>
  [...new Set(events.map((e) => dayOf(e.eventTime)))].sort();

export interface BookDiff {
  users: number;
  differing: string[];
  /** The first differences: user, asset, speed value, in-order value. */
  sample: { user: string; speed: Record<string, string>; inOrder: Record<string, string> }[];
  rejectedInOrder: number;
}

/**
 * The speed layer's positions (Redis `pos:<user>`) and tier against the core replay of each user's
 * events in (eventTime, eventId) order: what an in-order run gives, whatever the arrival order.
 */
export const compareWithInOrder = async (config: Config, events: readonly UserEvent[]): Promise<BookDiff> => {
  const byUser = new Map<string, UserEvent[]>();
  for (const e of events) byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), e]);
  const redis = await connectRedis(config);
  const k = speedKeys(keyspaceFor(config.topicPrefix));
  const differing: string[] = [];
  const sample: BookDiff['sample'] = [];
  let rejectedInOrder = 0;
  try {
    for (const [user, evs] of [...byUser].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const r = replayUser(emptyUser(user), [...evs].sort(compareEvents));
      rejectedInOrder += r.rejected.length;
      const inOrder: Record<string, string> = Object.fromEntries(
        [...r.state.positions].map(([a, p]) => [a, JSON.stringify(positionToJson(p))]),
      );
      const speed = await redis.hgetall(k.positions(user));
      const tierRaw = await redis.get(k.tier(user));
      const tier = tierRaw === null ? null : (JSON.parse(tierRaw) as { tier: string; spend30d: string });
      inOrder['~tier'] = `${r.state.tier.tier}/${r.state.tier.spend30d.toString()}`;
      speed['~tier'] = tier === null ? 'none' : `${tier.tier}/${tier.spend30d}`;
      const keys = [...new Set([...Object.keys(inOrder), ...Object.keys(speed)])];
      if (keys.some((a) => inOrder[a] !== speed[a])) {
        differing.push(user);
        if (sample.length < 3) sample.push({ user, speed, inOrder });
      }
    }
  } finally {
    redis.disconnect();
  }
  return { users: byUser.size, differing, sample, rejectedInOrder };
};
