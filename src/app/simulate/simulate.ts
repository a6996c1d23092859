import { randomUUID } from 'node:crypto';
import { decodeRecord, encodeReward, encodeTransaction } from '../../adapters/avro/codec.js';
import { rangesToEnd, readRanges } from '../../adapters/kafka/bounded-reader.js';
import { ensureTopics, withAdmin } from '../../adapters/kafka/client.js';
import { type ConsumedRecord, runConsumer } from '../../adapters/kafka/consumer.js';
import { BatchingProducer, type BatchingProducerOptions, type OutgoingRecord } from '../../adapters/kafka/producer.js';
import { type Config, tiersOf } from '../../config/config.js';
import { CryptolambdaError } from '../../core/errors.js';
import type { PriceEvent, UserEvent } from '../../core/events/types.js';
import { validateReward, validateTransaction } from '../../core/events/validate.js';
import type { Decimal } from '../../core/money/decimal.js';
import { compareEvents } from '../../core/portfolio/position.js';
import {
  orderPrices,
  RATE_SCALE,
  SIM_EVENT_TYPES,
  type SimEventType,
  type SimulationStats,
  Simulator,
} from '../../core/simulate/generator.js';
import { TOPICS, topicName } from '../../core/topics.js';
import { DeadLetterSink } from '../produce/dead-letter.js';

/**
 * `simulate`: users' transactions and rewards generated from the prices on raw.prices, produced
 * to raw.transactions / raw.rewards keyed by user id. The generator (core/simulate) is pure; this
 * module reads the prices, feeds them in order, validates and encodes what comes out, and produces
 * it through one idempotent producer, so each user's events land in their partition in
 * event-time order.
 *
 * Bounded mode (default) reads raw.prices from the log start to the end offsets taken at start,
 * orders the ticks by (eventTime, eventId) whatever the partition interleaving, and walks them:
 * the output is a pure function of (seed, options, topic content). Follow mode tails new prices
 * instead, through a small event-time reorder buffer; it is not reproducible (arrival decides).
 */
export interface SimulateRunOptions {
  readonly seed: number;
  readonly users: number;
  /** User transactions per second of event time (scale RATE_SCALE). */
  readonly rate: Decimal;
  readonly count?: number;
  readonly durationMs?: number;
  readonly follow?: boolean;
  /** Follow mode: ticks are held this long (event time) so partitions can be merged in order. */
  readonly reorderMs?: number;
  /** Abort = stop generating, flush everything accepted, return the summary. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: SimulateProgress) => void;
  readonly progressIntervalMs?: number;
  /** Called once the input is known (bounded: prices read; follow: consumer running). */
  readonly onReady?: (info: { prices: number }) => void;
  readonly producer?: BatchingProducerOptions;
}

export interface SimulateProgress {
  readonly elapsedMs: number;
  /** Events accepted by the producer (transactions + rewards). */
  readonly produced: number;
  readonly acked: number;
  readonly ratePerSec: number;
  readonly transactions: number;
  readonly rewards: number;
  readonly deadLettered: number;
  /** Event time reached (latest produced event). */
  readonly eventTime: number | null;
}

export type SimulateStopReason = 'count' | 'duration' | 'prices' | 'signal';

export interface SimulateResult {
  readonly mode: 'bounded' | 'follow';
  readonly seed: number;
  readonly users: number;
  readonly activeUsers: number;
  readonly rate: string;
  readonly topics: { prices: string; transactions: string; rewards: string; deadLetter: string };
  readonly prices: { read: number; used: number; invalid: number; ignored: number; late: number };
  /** Events produced (accepted, and acknowledged when this returns). */
  readonly events: number;
  readonly transactions: number;
  readonly rewards: number;
  readonly byType: Record<SimEventType, number>;
  readonly spendsByTier: Record<string, number>;
  readonly cappedSpends: number;
  /** Generated events that failed validation or encoding: sent to the dead-letter topic (expected 0). */
  readonly deadLettered: number;
  /** Candidates the core refused before emission (never produced; expected 0). */
  readonly refused: number;
  readonly eventTime: { from: string | null; to: string | null };
  readonly acked: number;
  readonly wallMs: number;
  readonly eventsPerSec: number;
  readonly stoppedBy: SimulateStopReason;
}

const DLQ_SOURCE = 'simulate';

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/** The event-time span users sign up over: the run's planned span, as far as it is known. */
const plannedSpanMs = (opts: SimulateRunOptions, pricesSpanMs: number | undefined): number => {
  const spans: number[] = [];
  if (pricesSpanMs !== undefined) spans.push(pricesSpanMs);
  if (opts.durationMs !== undefined) spans.push(opts.durationMs);
  if (opts.count !== undefined) {
    const rate = opts.rate.rescale(RATE_SCALE).units;
    // count / rate seconds, in ms: count x 1e3 x 10^RATE_SCALE / units.
    spans.push(Number((BigInt(opts.count) * 1000n * 10n ** BigInt(RATE_SCALE)) / (rate > 0n ? rate : 1n)));
  }
  return spans.length > 0 ? Math.min(...spans) : 3_600_000;
};

export interface EncodedUserEvents {
  /** Records keyed by user id, in input order. */
  readonly transactions: OutgoingRecord[];
  readonly rewards: OutgoingRecord[];
  readonly accepted: UserEvent[];
  readonly rejected: { event: UserEvent; reason: string }[];
}

/**
 * The boundary check before anything is produced: each event goes through the same validation as
 * every other input and the Avro codec; what fails is returned with the reason, for the dead-letter
 * topic.
 */
export const encodeUserEvents = (events: readonly UserEvent[]): EncodedUserEvents => {
  const out: EncodedUserEvents = { transactions: [], rewards: [], accepted: [], rejected: [] };
  for (const e of events) {
    const v = e.kind === 'transaction' ? validateTransaction(e) : validateReward(e);
    if (!v.ok) {
      out.rejected.push({ event: e, reason: `generated ${e.kind} is invalid: ${v.reason}` });
      continue;
    }
    let value: Buffer;
    try {
      value = e.kind === 'transaction' ? encodeTransaction(e) : encodeReward(e);
    } catch (err) {
      out.rejected.push({ event: e, reason: `generated ${e.kind} cannot be encoded: ${(err as Error).message}` });
      continue;
    }
    (e.kind === 'transaction' ? out.transactions : out.rewards).push({ key: e.userId, value });
    out.accepted.push(e);
  }
  return out;
};

export const runSimulate = async (config: Config, opts: SimulateRunOptions): Promise<SimulateResult> => {
  const topics = {
    prices: topicName(config.topicPrefix, 'prices'),
    transactions: topicName(config.topicPrefix, 'transactions'),
    rewards: topicName(config.topicPrefix, 'rewards'),
    deadLetter: topicName(config.topicPrefix, 'deadLetter'),
  };
  await withAdmin(config, async (admin) => {
    if (!(await admin.listTopics()).includes(topics.prices)) {
      throw new CryptolambdaError(
        'NOT_FOUND',
        `price topic ${topics.prices} does not exist`,
        'run `cryptolambda stack up` and produce prices first (`cryptolambda produce prices`)',
      );
    }
    await ensureTopics(admin, config.topicPrefix, [TOPICS.transactions, TOPICS.rewards, TOPICS.deadLetter]);
  });

  const t0 = performance.now();
  const producer = await BatchingProducer.connect(config, opts.producer);
  const dlq = new DeadLetterSink(producer, config);
  const byType = Object.fromEntries(SIM_EVENT_TYPES.map((t) => [t, 0])) as Record<SimEventType, number>;
  let transactions = 0;
  let rewards = 0;
  let firstEventTime: number | null = null;
  let lastEventTime: number | null = null;
  let pricesRead = 0;
  let pricesInvalid = 0;
  let sim: Simulator | undefined;
  let stoppedBy: SimulateStopReason | undefined;

  /** Validate, encode and hand to the producer, in generation order (= per-user event-time order). */
  const emit = async (events: readonly UserEvent[]): Promise<void> => {
    if (events.length === 0) return;
    const out = encodeUserEvents(events);
    for (const r of out.rejected) {
      // Must not happen (the generator checks every event with the core): never dropped silently.
      await dlq.send({ source: DLQ_SOURCE, reason: r.reason, payload: JSON.stringify(r.event), key: r.event.eventId });
    }
    for (const e of out.accepted) {
      if (e.kind === 'transaction') {
        transactions++;
        byType[e.type]++;
      } else {
        rewards++;
        byType[e.rewardType]++;
      }
      firstEventTime ??= e.eventTime;
      lastEventTime = e.eventTime;
    }
    if (out.transactions.length > 0) await producer.push(topics.transactions, out.transactions);
    if (out.rewards.length > 0) await producer.push(topics.rewards, out.rewards);
  };

  const decodePrice = (r: ConsumedRecord): PriceEvent | undefined => {
    pricesRead++;
    const d = r.value ? decodeRecord('prices', r.value) : { ok: false as const, reason: 'empty record' };
    if (d.ok) return d.event;
    // Bad price records are the ingest's to dead-letter; the simulator only skips and counts them.
    pricesInvalid++;
    return undefined;
  };

  let lastReport = { at: t0, produced: 0 };
  const snapshot = (): SimulateProgress => {
    const at = performance.now();
    const produced = transactions + rewards;
    const ratePerSec = Math.round(((produced - lastReport.produced) * 1000) / Math.max(1, at - lastReport.at));
    lastReport = { at, produced };
    return {
      elapsedMs: Math.round(at - t0),
      produced,
      acked: producer.stats.acked,
      ratePerSec,
      transactions,
      rewards,
      deadLettered: dlq.stats.total,
      eventTime: lastEventTime,
    };
  };
  const ticker = opts.onProgress
    ? setInterval(() => opts.onProgress?.(snapshot()), opts.progressIntervalMs ?? 1000)
    : undefined;

  let failure: unknown;
  try {
    if (opts.follow) {
      sim = new Simulator({ ...simOptions(config, opts), signupSpanMs: plannedSpanMs(opts, undefined) });
      stoppedBy = await follow(config, opts, topics.prices, sim, decodePrice, emit);
    } else {
      const ranges = await rangesToEnd(config, [topics.prices], () => undefined);
      const prices: PriceEvent[] = [];
      await readRanges(config, `${config.clientId}-simulate-${randomUUID().slice(0, 8)}`, ranges, async (batch) => {
        for (const r of batch) {
          const p = decodePrice(r);
          if (p) prices.push(p);
        }
      });
      const ordered = orderPrices(prices);
      opts.onReady?.({ prices: ordered.length });
      const span = ordered.length > 0 ? ordered.at(-1)!.eventTime - ordered[0]!.eventTime : 0;
      sim = new Simulator({ ...simOptions(config, opts), signupSpanMs: plannedSpanMs(opts, span) });
      let yieldedAt = performance.now();
      for (const tick of ordered) {
        // Generation is CPU-bound and producer pushes rarely wait, so without a break the event loop
        // would never run the progress timer or deliver SIGINT/SIGTERM until the end.
        if (performance.now() - yieldedAt > 20) {
          await new Promise<void>((res) => setImmediate(res));
          yieldedAt = performance.now();
        }
        if (opts.signal?.aborted) {
          stoppedBy = 'signal';
          break;
        }
        if (sim.finished) break;
        await emit(sim.advance(tick));
      }
      if (!stoppedBy) await emit(sim.finish());
    }
  } catch (err) {
    failure = err;
  } finally {
    if (ticker) clearInterval(ticker);
  }
  // Flush everything accepted, even when stopping on a signal or after an error.
  try {
    await producer.disconnect();
  } catch (err) {
    failure ??= err;
  }
  if (failure) throw failure;

  const stats: SimulationStats | undefined = sim?.stats();
  const wallMs = Math.round(performance.now() - t0);
  const events = transactions + rewards;
  return {
    mode: opts.follow ? 'follow' : 'bounded',
    seed: opts.seed,
    users: opts.users,
    activeUsers: stats?.activeUsers ?? 0,
    rate: opts.rate.toPlain(),
    topics,
    prices: {
      read: pricesRead,
      used: stats?.pricesUsed ?? 0,
      invalid: pricesInvalid,
      ignored: stats?.pricesIgnored ?? 0,
      late: stats?.pricesLate ?? 0,
    },
    events,
    transactions,
    rewards,
    byType,
    spendsByTier: { ...(stats?.spendsByTier ?? {}) },
    cappedSpends: stats?.cappedSpends ?? 0,
    deadLettered: dlq.stats.total,
    refused: stats?.refused ?? 0,
    eventTime: { from: iso(firstEventTime), to: iso(lastEventTime) },
    acked: producer.stats.acked,
    wallMs,
    eventsPerSec: Math.round((events * 1000) / Math.max(1, wallMs)),
    stoppedBy: stoppedBy ?? stats?.stoppedBy ?? 'prices',
  };
};

/** The generator's options; its cashback follows the configured tier table, as both layers do. */
const simOptions = (config: Config, opts: SimulateRunOptions) => ({
  tiers: tiersOf(config),
  seed: opts.seed,
  users: opts.users,
  rate: opts.rate,
  ...(opts.count === undefined ? {} : { count: opts.count }),
  ...(opts.durationMs === undefined ? {} : { durationMs: opts.durationMs }),
});

/**
 * Tail raw.prices from now on. Partitions arrive interleaved, so ticks wait in a buffer until the
 * highest event time seen is `reorderMs` past them, then go to the generator in (eventTime,
 * eventId) order; a tick later than that is counted late by the generator.
 */
const follow = async (
  config: Config,
  opts: SimulateRunOptions,
  topic: string,
  sim: Simulator,
  decodePrice: (r: ConsumedRecord) => PriceEvent | undefined,
  emit: (events: readonly UserEvent[]) => Promise<void>,
): Promise<SimulateStopReason | undefined> => {
  const reorderMs = opts.reorderMs ?? 1000;
  let buffer: PriceEvent[] = [];
  let maxSeen = Number.NEGATIVE_INFINITY;
  let finish!: (why: SimulateStopReason | undefined) => void;
  let fail!: (err: unknown) => void;
  const done = new Promise<SimulateStopReason | undefined>((res, rej) => {
    finish = res;
    fail = rej;
  });
  const onAbort = (): void => finish('signal');
  if (opts.signal?.aborted) return 'signal';
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const consumer = await runConsumer(config, {
    groupId: `${config.clientId}-simulate-${randomUUID().slice(0, 8)}`,
    topics: [topic],
    fromBeginning: false,
    commitToKafka: false,
    onBatch: async (records) => {
      if (opts.signal?.aborted || sim.finished) return;
      try {
        for (const r of records) {
          const p = decodePrice(r);
          if (!p) continue;
          buffer.push(p);
          if (p.eventTime > maxSeen) maxSeen = p.eventTime;
        }
        buffer.sort(compareEvents);
        const cut = buffer.findIndex((p) => p.eventTime > maxSeen - reorderMs);
        const ready = cut === -1 ? buffer : buffer.slice(0, cut);
        buffer = cut === -1 ? [] : buffer.slice(cut);
        for (const tick of ready) {
          if (opts.signal?.aborted || sim.finished) break;
          await emit(sim.advance(tick));
        }
        if (sim.finished) finish(undefined);
      } catch (err) {
        fail(err);
      }
    },
  });
  opts.onReady?.({ prices: 0 });
  try {
    return await done;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => undefined);
  }
};
