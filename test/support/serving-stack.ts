import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { ensureTopics, withAdmin } from '../../src/adapters/kafka/client.js';
import { connectRedis } from '../../src/adapters/redis/client.js';
import { keyspaceFor } from '../../src/adapters/redis/speed-keys.js';
import { deleteKeyspace, runStream } from '../../src/app/stream/run-stream.js';
import type { Config } from '../../src/config/config.js';
import { cleanupTopicsAfter, testConfig } from './int.js';

/**
 * A fresh topic prefix, Redis keyspace and lake dir for one test, all removed afterwards; no topic
 * is created (a test that needs topics of its own shape makes them).
 */
export const lakeTestConfig = (tmpPrefix = 'cl-serving-', overrides: Record<string, string> = {}): Config => {
  const config = testConfig({ lakeDir: mkdtempSync(path.join(tmpdir(), tmpPrefix)), ...overrides });
  cleanupTopicsAfter(config);
  onTestFinished(async () => {
    rmSync(config.lakeDir, { recursive: true, force: true });
    const r = await connectRedis(config);
    await deleteKeyspace(r, keyspaceFor(config.topicPrefix));
    r.disconnect();
  });
  return config;
};

/** lakeTestConfig with the contract's topics created. */
export const servingSetup = async (
  tmpPrefix = 'cl-serving-',
  overrides: Record<string, string> = {},
): Promise<Config> => {
  const config = lakeTestConfig(tmpPrefix, overrides);
  await withAdmin(config, (admin) => ensureTopics(admin, config.topicPrefix));
  return config;
};

/**
 * Run the speed layer over everything produced so far, until idle (fast checkpoints, eager eod); the
 * exit waits for the merge buffers to be released too, so the idle time is only a margin.
 */
export const streamToIdle = (config: Config) =>
  runStream(config, {
    exitWhenIdleMs: 1000,
    checkpointIntervalMs: 200,
    metricsEveryMs: 60_000,
    speed: { userIdleMs: 800 },
  });
