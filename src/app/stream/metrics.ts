import { Counter, Gauge, Histogram } from 'prom-client';
import { counterFrom, type Registry } from '../../adapters/metrics/prometheus.js';
import { NO_WATERMARK } from '../../core/ohlcv/watermark.js';
import type { RuntimeMetrics } from './runtime.js';
import type { SpeedHandler } from './speed-handler.js';

/**
 * The stream worker's metrics, read from what the runtime and the handler already count (no
 * bookkeeping on the hot path): scraped at /metrics of `stream --metrics-port`. Partition-level
 * counts (late trades, user events) live in the partition state that moves with the partition;
 * counterFrom turns them into this process's monotonic counters.
 */
export interface StreamMetricsBinding {
  /** Pass to StreamRuntime's onCheckpoint. */
  onCheckpoint(seconds: number, outcome: 'committed' | 'fenced' | 'failed'): void;
}

const sumParts = (
  h: SpeedHandler,
  pick: (p: ReturnType<SpeedHandler['partitions']> extends ReadonlyMap<number, infer P> ? P : never) => number,
): number => {
  let t = 0;
  for (const p of h.partitions().values()) t += pick(p);
  return t;
};

export const bindStreamMetrics = (
  reg: Registry,
  handler: SpeedHandler,
  runtime: () => RuntimeMetrics | undefined,
  now: () => number = Date.now,
): StreamMetricsBinding => {
  const rt = (): RuntimeMetrics | undefined => runtime();
  const topicOf = (field: string): string => field.slice(0, field.lastIndexOf('|'));
  new Gauge({
    name: 'cryptolambda_stream_records_lag_max',
    help: 'Kafka consumer lag: the largest (high watermark - next offset) over the owned partitions of the topic (Kafka records-lag-max).',
    labelNames: ['topic'],
    registers: [reg],
    collect() {
      this.reset();
      const byTopic = new Map<string, number>();
      for (const t of Object.values(handler.topics).slice(0, 3)) byTopic.set(t, 0);
      for (const [f, lag] of Object.entries(rt()?.lag ?? {})) {
        byTopic.set(topicOf(f), Math.max(byTopic.get(topicOf(f)) ?? 0, lag));
      }
      for (const [topic, lag] of byTopic) this.set({ topic }, lag);
    },
  });
  new Gauge({
    name: 'cryptolambda_stream_records_lag',
    help: 'Kafka consumer lag summed over the owned partitions of the topic (records).',
    labelNames: ['topic'],
    registers: [reg],
    collect() {
      this.reset();
      const byTopic = new Map<string, number>();
      for (const t of Object.values(handler.topics).slice(0, 3)) byTopic.set(t, 0);
      for (const [f, lag] of Object.entries(rt()?.lag ?? {}))
        byTopic.set(topicOf(f), (byTopic.get(topicOf(f)) ?? 0) + lag);
      for (const [topic, lag] of byTopic) this.set({ topic }, lag);
    },
  });
  new Gauge({
    name: 'cryptolambda_stream_owned_partitions',
    help: 'Partitions (of every input topic) this worker owns.',
    registers: [reg],
    collect() {
      this.set(rt()?.owned.length ?? 0);
    },
  });
  new Gauge({
    name: 'cryptolambda_stream_watermark_lag_seconds',
    help: 'Processing time minus the slowest owned partition price watermark (Flink currentInputWatermark lag); NaN before any price.',
    registers: [reg],
    collect() {
      let min = Number.POSITIVE_INFINITY;
      for (const p of handler.partitions().values()) {
        const wm = p.prices.watermark();
        if (wm !== NO_WATERMARK && wm < min) min = wm;
      }
      this.set(Number.isFinite(min) ? (now() - min) / 1000 : Number.NaN);
    },
  });
  new Gauge({
    name: 'cryptolambda_stream_event_time_lag_seconds',
    help: 'Processing time minus the newest event time seen on the owned partitions (how far behind real time the input is); NaN before any price.',
    registers: [reg],
    collect() {
      let max = NO_WATERMARK;
      for (const p of handler.partitions().values()) if (p.prices.maxEventTime > max) max = p.prices.maxEventTime;
      this.set(max === NO_WATERMARK ? Number.NaN : (now() - max) / 1000);
    },
  });
  new Gauge({
    name: 'cryptolambda_stream_trade_ids_held',
    help: 'Trade ids held for duplicate detection: the trades of the open 5m windows of the owned partitions (bounded by out-of-orderness + 5 min + allowed lateness of trades per symbol; checkpointed, freed when a window is final).',
    registers: [reg],
    collect() {
      this.set(sumParts(handler, (p) => p.prices.heldIds()));
    },
  });
  counterFrom(
    reg,
    'cryptolambda_stream_records_consumed_total',
    'Kafka records processed (Kafka records-consumed-total).',
    [],
    () => [[{}, rt()?.records ?? 0]],
  );
  counterFrom(
    reg,
    'cryptolambda_stream_trades_total',
    'Trades applied to the candles by timeliness: on_time, late (within the allowed lateness) or too_late (dropped from the windows, sent to late.prices).',
    ['timeliness'],
    () => [
      [{ timeliness: 'on_time' }, sumParts(handler, (p) => p.prices.counts.onTime)],
      [{ timeliness: 'late' }, sumParts(handler, (p) => p.prices.counts.late)],
      [{ timeliness: 'too_late' }, sumParts(handler, (p) => p.prices.counts.tooLate)],
    ],
  );
  counterFrom(
    reg,
    'cryptolambda_stream_user_events_total',
    'User events (transactions, rewards) by outcome: applied, or rejected by the ledger (e.g. a sell beyond holdings).',
    ['outcome'],
    () => [
      [{ outcome: 'applied' }, sumParts(handler, (p) => p.counts.userEvents - p.counts.rejected)],
      [{ outcome: 'rejected' }, sumParts(handler, (p) => p.counts.rejected)],
    ],
  );
  counterFrom(
    reg,
    'cryptolambda_stream_duplicates_dropped_total',
    'Duplicates dropped: redelivered Kafka records (offset), trades seen twice (trade id) and user events seen twice (event id).',
    ['kind'],
    () => [
      [{ kind: 'offset' }, rt()?.duplicatesSkipped ?? 0],
      [{ kind: 'trade' }, sumParts(handler, (p) => p.prices.counts.duplicates)],
      [{ kind: 'user_event' }, sumParts(handler, (p) => p.counts.duplicates)],
    ],
  );
  counterFrom(
    reg,
    'cryptolambda_stream_dead_letters_total',
    'Records sent to the dead-letter topic, by input topic and reason category.',
    ['topic', 'reason'],
    () =>
      [...handler.deadLetters].map(([k, v]) => {
        const [topic, reason] = k.split('|') as [string, string];
        return [{ topic, reason }, v];
      }),
  );
  counterFrom(
    reg,
    'cryptolambda_stream_fenced_total',
    'Checkpoints refused because another worker took the partition.',
    [],
    () => [[{}, rt()?.fenced ?? 0]],
  );
  const duration = new Histogram({
    name: 'cryptolambda_stream_checkpoint_duration_seconds',
    help: 'Checkpoint (state + offsets in one MULTI/EXEC, outbox produce) duration, by outcome.',
    labelNames: ['outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [reg],
  });
  // Pre-create the failure series so `increase(...failed...)` is 0, not absent, on a healthy worker.
  duration.zero({ outcome: 'failed' });
  duration.zero({ outcome: 'committed' });
  const failures = new Counter({
    name: 'cryptolambda_stream_checkpoint_failures_total',
    help: 'Checkpoints whose MULTI/EXEC or outbox produce failed (the worker stops and its partitions move).',
    registers: [reg],
  });
  return {
    onCheckpoint: (seconds, outcome) => {
      duration.observe({ outcome }, seconds);
      if (outcome === 'failed') failures.inc();
    },
  };
};
