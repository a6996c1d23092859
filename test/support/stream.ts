import { onTestFinished } from 'vitest';
import { ensureTopics, withAdmin } from '../../src/adapters/kafka/client.js';
import type { Registry } from '../../src/adapters/metrics/prometheus.js';
import { connectRedis } from '../../src/adapters/redis/client.js';
import { keyspaceFor } from '../../src/adapters/redis/speed-keys.js';
import { deleteKeyspace, runStream, type StreamSummary } from '../../src/app/stream/run-stream.js';
import type { SpeedOptions } from '../../src/app/stream/speed-handler.js';
import type { Config } from '../../src/config/config.js';
import { cleanupTopicsAfter, testConfig } from './int.js';

/**
 * A test's own stack namespace: topics under a random prefix (created now) and the speed layer's
 * Redis keyspace of that prefix, both removed when the test finishes.
 */
export const streamTestConfig = async (overrides: Record<string, string> = {}): Promise<Config> => {
  const config = testConfig(overrides);
  cleanupTopicsAfter(config);
  onTestFinished(async () => {
    const r = await connectRedis(config);
    await deleteKeyspace(r, keyspaceFor(config.topicPrefix));
    r.disconnect();
  });
  await withAdmin(config, (admin) => ensureTopics(admin, config.topicPrefix));
  return config;
};

/**
 * Run the speed layer in-process until it has caught up and seen no records for `exitWhenIdleMs`.
 * The exit also waits for the merge buffers to be released (userIdleMs after the last user event),
 * so a short idle only ends the run sooner; a test that produces while the run is under way (or
 * needs two workers to overlap) passes a longer one.
 */
export const runStreamToIdle = (
  config: Config,
  opts: { exitWhenIdleMs?: number; speed?: Partial<SpeedOptions>; workerId?: string; metrics?: Registry } = {},
): Promise<StreamSummary> =>
  runStream(config, {
    exitWhenIdleMs: opts.exitWhenIdleMs ?? 1000,
    checkpointIntervalMs: 200,
    metricsEveryMs: 60_000,
    speed: { userIdleMs: 1000, ...opts.speed },
    ...(opts.workerId ? { workerId: opts.workerId } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
  });
