import { WarehouseReader } from '../../adapters/lake/warehouse-reader.js';
import { connectRedis, type RedisConn } from '../../adapters/redis/client.js';
import { SpeedReader } from '../../adapters/redis/serving-reader.js';
import { keyspaceFor, speedKeys } from '../../adapters/redis/speed-keys.js';
import type { Config } from '../../config/config.js';

/**
 * What a serving query reads from: the warehouse (ledger read once at open, so one query sees one
 * consistent set of builds) and, when asked for, the speed layer's Redis. One context serves many
 * queries (the bench reuses it); commands open one per run.
 */
export interface ServingContext {
  readonly config: Config;
  readonly warehouse: WarehouseReader;
  readonly speed: SpeedReader | null;
  readonly now: () => number;
  close(): void;
}

export const openServing = async (
  config: Config,
  opts: { redis?: boolean; redisClient?: RedisConn; now?: () => number } = {},
): Promise<ServingContext> => {
  const warehouse = await WarehouseReader.open(config.lakeDir);
  let redis: RedisConn | null = opts.redisClient ?? null;
  const own = redis === null && opts.redis !== false;
  try {
    if (own) redis = await connectRedis(config, { name: `${config.clientId}-serving` });
  } catch (err) {
    warehouse.close();
    throw err;
  }
  const speed = redis === null ? null : new SpeedReader(redis, speedKeys(keyspaceFor(config.topicPrefix)));
  return {
    config,
    warehouse,
    speed,
    now: opts.now ?? Date.now,
    close: () => {
      warehouse.close();
      if (own) redis?.disconnect();
    },
  };
};
