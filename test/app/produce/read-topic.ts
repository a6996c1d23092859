import { randomUUID } from 'node:crypto';
import { rangesToEnd, readRanges } from '../../../src/adapters/kafka/bounded-reader.js';
import type { ConsumedRecord } from '../../../src/adapters/kafka/consumer.js';
import type { Config } from '../../../src/config/config.js';

/** Every record currently in `topics` (from the log start to the end at call time). */
export const readTopics = async (config: Config, topics: readonly string[]): Promise<ConsumedRecord[]> => {
  const ranges = await rangesToEnd(config, topics, () => undefined);
  const out: ConsumedRecord[] = [];
  await readRanges(config, `test-read-${randomUUID().slice(0, 8)}`, ranges, async (batch) => {
    out.push(...batch);
  });
  return out;
};
