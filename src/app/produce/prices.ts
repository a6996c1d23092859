import path from 'node:path';
import { encodePrice } from '../../adapters/avro/codec.js';
import { BinanceTradeStream, type BinanceWsOptions, type LifecycleEvent } from '../../adapters/binance/ws-client.js';
import type { ChecksumState } from '../../adapters/files/binance-archive.js';
import { ensureTopics, withAdmin } from '../../adapters/kafka/client.js';
import { BatchingProducer, type BatchingProducerOptions } from '../../adapters/kafka/producer.js';
import type { Config } from '../../config/config.js';
import type { PriceEvent } from '../../core/events/types.js';
import { parseBinanceFrame } from '../../core/sources/binance.js';
import { reasonClass } from '../../core/sources/binance-csv.js';
import { SyntheticPrices } from '../../core/sources/synthetic.js';
import { TOPICS, topicName } from '../../core/topics.js';
import { DeadLetterSink } from './dead-letter.js';
import { prepareReplay, type ReplayFile, replaySource } from './replay.js';

/**
 * `produce prices`: one of three price sources → Avro PriceEvents on raw.prices (key = symbol),
 * malformed input → dlq. Sources are async generators of items; the pump pushes events into the
 * idempotent BatchingProducer (whose back-pressure reaches the source) and stops on --count,
 * --duration, the end of the input or a signal, then flushes everything accepted.
 */
export const PRICE_SOURCE_NAMES = ['binance', 'replay', 'synthetic'] as const;
export type PriceSourceName = (typeof PRICE_SOURCE_NAMES)[number];

export type SourceItem =
  | { readonly kind: 'event'; readonly event: PriceEvent }
  | { readonly kind: 'reject'; readonly reason: string; readonly payload: string; readonly key?: string }
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'duplicate' };

export interface ProducePricesOptions {
  readonly source: PriceSourceName;
  readonly symbols: readonly string[];
  /** binance */
  readonly endpoint?: string;
  readonly ws?: Partial<Omit<BinanceWsOptions, 'symbols' | 'endpoint'>>;
  /** replay */
  readonly files?: readonly string[];
  readonly speed?: number;
  /** synthetic: events per second over all symbols, 0 = as fast as possible. */
  readonly rate?: number;
  readonly seed?: bigint;
  readonly startTime?: number;
  readonly stepMs?: number;
  /** Stop after this many price events were accepted. */
  readonly count?: number;
  readonly durationMs?: number;
  /** Abort = stop the source, flush what was accepted, return the summary. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: ProducePricesProgress) => void;
  readonly progressIntervalMs?: number;
  readonly onLifecycle?: (e: LifecycleEvent) => void;
  readonly producer?: BatchingProducerOptions;
  /**
   * Records accepted but not yet acknowledged beyond which the pump waits for Kafka (default
   * 100,000). BatchingProducer hands full batches to its send chain without bounding that chain,
   * so the bound on memory (and the back-pressure that makes the Binance buffer drop, counted,
   * instead of the process growing) is enforced here.
   */
  readonly maxUnacked?: number;
}

export interface ProducePricesProgress {
  readonly elapsedMs: number;
  readonly produced: number;
  readonly acked: number;
  /** Price events per second since the previous report. */
  readonly ratePerSec: number;
  readonly deadLettered: number;
  readonly ignored: number;
  readonly duplicates: number;
  readonly dropped: number;
  readonly reconnects: number;
}

export type StopReason = 'count' | 'duration' | 'end-of-input' | 'signal';

export interface ProducePricesResult {
  readonly source: PriceSourceName;
  readonly topic: string;
  readonly deadLetterTopic: string;
  readonly symbols: string[];
  /** Price events accepted by the producer (all of them are acknowledged when this returns). */
  readonly produced: number;
  /** Records acknowledged by Kafka (prices + dead letters). */
  readonly acked: number;
  readonly deadLettered: number;
  readonly ignored: number;
  readonly duplicates: number;
  /** Frames dropped because Kafka was slower than the source (binance only). */
  readonly dropped: number;
  readonly reconnects: number;
  /** Times the source was paused because Kafka was behind (producer buffer or maxUnacked). */
  readonly backpressureWaits: number;
  readonly firstEventTime: number | null;
  readonly lastEventTime: number | null;
  readonly durationMs: number;
  readonly eventsPerSec: number;
  readonly stoppedBy: StopReason;
  /** Dead-lettered input grouped by what was wrong (values stripped), most frequent first. */
  readonly rejections: { readonly reason: string; readonly count: number }[];
  /** replay: each input and whether its .CHECKSUM was verified. */
  readonly files: { readonly file: string; readonly symbol: string; readonly checksum: ChecksumState }[];
  /** Set when nothing was produced: why (each WebSocket connect error, the replay's first reason). */
  readonly nothingProduced?: { readonly why: string; readonly hint?: string };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Seeded GBM prints, paced at `rate` events/s (0 = unpaced). */
export async function* syntheticSource(
  gen: SyntheticPrices,
  rate: number,
  signal: AbortSignal,
  now: () => number = performance.now.bind(performance),
): AsyncGenerator<SourceItem> {
  const t0 = now();
  for (let i = 0; !signal.aborted; i++) {
    if (rate > 0) {
      // Sleep only when ≥ 4 ms ahead: timers are coarse, so high rates go out in small bursts.
      const ahead = t0 + (i * 1000) / rate - now();
      if (ahead >= 4) await sleep(ahead, signal);
      if (signal.aborted) return;
    }
    yield { kind: 'event', event: gen.next() };
  }
}

/**
 * Live Binance trades. Trade ids are increasing per symbol, so anything at or below the last id
 * forwarded (an overlapping planned reconnect, a server replay after reconnect) is a duplicate.
 */
export async function* binanceSource(stream: BinanceTradeStream): AsyncGenerator<SourceItem> {
  const lastTrade = new Map<string, bigint>();
  for await (const frame of stream.frames()) {
    const r = parseBinanceFrame(frame.text);
    if (r.kind === 'ignored') {
      yield { kind: 'ignored', reason: r.reason };
    } else if (r.kind === 'malformed') {
      yield { kind: 'reject', reason: r.reason, payload: frame.text, ...(r.stream ? { key: r.stream } : {}) };
    } else {
      const id = BigInt(r.event.tradeId);
      const last = lastTrade.get(r.event.symbol);
      if (last !== undefined && id <= last) {
        yield { kind: 'duplicate' };
        continue;
      }
      lastTrade.set(r.event.symbol, id);
      yield { kind: 'event', event: r.event };
    }
  }
}

export const runProducePrices = async (config: Config, opts: ProducePricesOptions): Promise<ProducePricesResult> => {
  const topic = topicName(config.topicPrefix, 'prices');
  // Replay inputs are checked (exist, symbol, not klines, checksum) before anything is produced.
  const replayFiles: readonly ReplayFile[] =
    opts.source === 'replay' ? await prepareReplay(opts.files ?? [], opts.symbols) : [];
  await withAdmin(config, (admin) => ensureTopics(admin, config.topicPrefix, [TOPICS.prices, TOPICS.deadLetter]));
  const producer = await BatchingProducer.connect(config, opts.producer);
  const dlq = new DeadLetterSink(producer, config);

  const stop = new AbortController();
  let stoppedBy: StopReason = 'end-of-input';
  const halt = (why: StopReason): void => {
    if (stop.signal.aborted) return;
    stoppedBy = why;
    stop.abort();
  };
  const onSignal = (): void => halt('signal');
  if (opts.signal?.aborted) halt('signal');
  opts.signal?.addEventListener('abort', onSignal, { once: true });

  let stream: BinanceTradeStream | undefined;
  let items: AsyncGenerator<SourceItem>;
  // Why nothing came, if nothing comes: the WebSocket's connect errors, per attempt.
  const wsErrors: string[] = [];
  let wsErrorCount = 0;
  let wsOpened = 0;
  if (opts.source === 'synthetic') {
    const gen = new SyntheticPrices({
      seed: opts.seed ?? 1n,
      symbols: opts.symbols,
      startTime: opts.startTime ?? Date.now(),
      ...(opts.stepMs === undefined ? {} : { stepMs: opts.stepMs }),
    });
    items = syntheticSource(gen, opts.rate ?? 0, stop.signal);
  } else if (opts.source === 'replay') {
    items = replaySource(replayFiles, { speed: opts.speed ?? 1, signal: stop.signal });
  } else {
    const s = new BinanceTradeStream({
      ...opts.ws,
      symbols: opts.symbols,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      onLifecycle: (e) => {
        if (e.type === 'error') {
          wsErrorCount++;
          if (wsErrors.length < 5) wsErrors.push(`attempt ${wsErrorCount}: ${e.message}`);
        } else if (e.type === 'open') wsOpened++;
        opts.onLifecycle?.(e);
      },
    });
    stream = s;
    stop.signal.addEventListener('abort', () => s.stop(), { once: true });
    items = binanceSource(s);
    s.start();
  }

  const t0 = performance.now();
  const maxUnacked = opts.maxUnacked ?? 100_000;
  let pauses = 0;
  const throttle = async (): Promise<void> => {
    if (producer.stats.accepted - producer.stats.acked >= maxUnacked) {
      pauses++;
      await producer.flush();
    }
  };
  let produced = 0;
  const rejected = new Map<string, number>();
  let ignored = 0;
  let duplicates = 0;
  let firstEventTime: number | null = null;
  let lastEventTime: number | null = null;
  const symbols = new Set<string>();
  const snapshot = (ratePerSec: number): ProducePricesProgress => ({
    elapsedMs: Math.round(performance.now() - t0),
    produced,
    acked: producer.stats.acked,
    ratePerSec,
    deadLettered: dlq.stats.total,
    ignored,
    duplicates,
    dropped: stream?.stats.dropped ?? 0,
    reconnects: stream ? stream.stats.reconnects : 0,
  });
  let lastReport = { at: t0, produced: 0 };
  const ticker = opts.onProgress
    ? setInterval(() => {
        const at = performance.now();
        const rate = ((produced - lastReport.produced) * 1000) / Math.max(1, at - lastReport.at);
        lastReport = { at, produced };
        opts.onProgress?.(snapshot(Math.round(rate)));
      }, opts.progressIntervalMs ?? 1000)
    : undefined;
  const timer = opts.durationMs === undefined ? undefined : setTimeout(() => halt('duration'), opts.durationMs);

  let failure: unknown;
  let firstReject: string | undefined;
  try {
    if (opts.count !== undefined && opts.count <= 0) halt('count');
    for await (const item of items) {
      if (stop.signal.aborted) break;
      if (item.kind === 'event') {
        const e = item.event;
        await producer.push(topic, [{ key: e.symbol, value: encodePrice(e) }]);
        produced++;
        await throttle();
        symbols.add(e.symbol);
        firstEventTime ??= e.eventTime;
        lastEventTime = e.eventTime;
        if (opts.count !== undefined && produced >= opts.count) {
          halt('count');
          break;
        }
      } else if (item.kind === 'reject') {
        const why = reasonClass(item.reason);
        rejected.set(why, (rejected.get(why) ?? 0) + 1);
        firstReject ??= item.reason;
        await dlq.send({
          source: opts.source,
          reason: item.reason,
          payload: item.payload,
          ...(item.key ? { key: item.key } : {}),
        });
      } else if (item.kind === 'ignored') {
        ignored++;
      } else {
        duplicates++;
      }
    }
  } catch (err) {
    failure = err;
  } finally {
    stream?.stop();
    if (ticker) clearInterval(ticker);
    if (timer) clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onSignal);
  }
  // Flush everything accepted, even when stopping on a signal or after a source error.
  try {
    await producer.disconnect();
  } catch (err) {
    failure ??= err;
  }
  if (failure) throw failure;
  // A producer that produced nothing did not do its job: the command says why instead of exiting 0.
  let nothingProduced: { why: string; hint?: string } | undefined;
  if (produced === 0 && !(opts.count !== undefined && opts.count <= 0)) {
    const why =
      opts.source === 'binance'
        ? wsErrorCount > 0 && wsOpened === 0
          ? `could not connect to ${opts.endpoint ?? 'the Binance WebSocket'} (${wsErrorCount} failed attempt(s): ${wsErrors.join('; ')}${wsErrorCount > wsErrors.length ? '; …' : ''})`
          : `connected ${wsOpened} time(s) but received no trade for ${opts.symbols.join(', ')}${wsErrorCount > 0 ? ` (errors: ${wsErrors.join('; ')})` : ''}`
        : opts.source === 'replay'
          ? dlq.stats.total > 0
            ? `no valid trade in ${(opts.files ?? []).join(', ')}: ${dlq.stats.total} line(s) dead-lettered (first: ${firstReject ?? '?'})`
            : `no trade rows in ${(opts.files ?? []).join(', ')} (empty, or not a Binance trades/aggTrades CSV)`
          : `the synthetic source stopped (${stoppedBy}) before its first tick`;
    const hint =
      opts.source === 'binance'
        ? 'check the network/proxy and --endpoint, or replay a file with --source replay'
        : opts.source === 'replay'
          ? 'see the reasons with `cryptolambda topics tail dlq`; replay takes data.binance.vision archives'
          : undefined;
    nothingProduced = hint === undefined ? { why } : { why, hint };
  }

  const durationMs = Math.round(performance.now() - t0);
  return {
    source: opts.source,
    topic,
    deadLetterTopic: dlq.topic,
    symbols: [...symbols].sort(),
    produced,
    acked: producer.stats.acked,
    deadLettered: dlq.stats.total,
    ignored,
    duplicates,
    dropped: stream?.stats.dropped ?? 0,
    reconnects: stream?.stats.reconnects ?? 0,
    backpressureWaits: producer.stats.backpressureWaits + pauses,
    firstEventTime,
    lastEventTime,
    durationMs,
    eventsPerSec: Math.round((produced * 1000) / Math.max(1, durationMs)),
    ...(nothingProduced === undefined ? {} : { nothingProduced }),
    stoppedBy,
    rejections: [...rejected].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count),
    files: replayFiles.map((f) => ({ file: path.basename(f.file), symbol: f.symbol, checksum: f.checksum })),
  };
};
