import { randomUUID } from 'node:crypto';
import { onTestFinished } from 'vitest';
import { withAdmin } from '../../src/adapters/kafka/client.js';
import { type Config, resolveConfig } from '../../src/config/config.js';

/** A config for one test: the local stack, with a random topic prefix so tests never collide. */
export const testConfig = (overrides: Record<string, string> = {}): Config =>
  resolveConfig(
    { topicPrefix: `t${randomUUID().slice(0, 8)}.`, ...overrides },
    { ...process.env, CRYPTOLAMBDA_TOPIC_PREFIX: '' },
  );

/** Delete every topic under the config's prefix when the current test finishes. */
export const cleanupTopicsAfter = (config: Config): void => {
  onTestFinished(async () => {
    if (!config.topicPrefix) return;
    await withAdmin(config, async (admin) => {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(config.topicPrefix));
      if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    });
  });
};

export const randomId = (): string => randomUUID().slice(0, 8);

/** Retention in fast-forward: delete the records of each partition below the given offset. */
export const deleteRecordsBefore = (
  config: Config,
  topic: string,
  before: ReadonlyMap<number, bigint>,
): Promise<void> =>
  withAdmin(config, async (admin) => {
    // kafkajs finds partition leaders from cached metadata: load it first.
    await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.deleteTopicRecords({
      topic,
      partitions: [...before].map(([partition, offset]) => ({ partition, offset: offset.toString() })),
    });
  });
