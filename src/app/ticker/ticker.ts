import { connectRedis } from '../../adapters/redis/client.js';
import { keyspaceFor } from '../../adapters/redis/speed-keys.js';
import { checkTickerSelection, RedisTickerSource } from '../../adapters/redis/ticker-source.js';
import type { Config } from '../../config/config.js';
import { plainLines } from '../../core/ticker/format.js';
import { buildTickerView, type TickerOptions, type TickerView } from '../../core/ticker/model.js';
import type { TickerSource } from '../../core/ticker/snapshot.js';

/** Refreshing faster than once a second only loads Redis: candles move by the minute. */
export const MIN_INTERVAL_MS = 1000;

export interface TickerSelection {
  readonly symbols?: readonly string[];
  readonly user?: string;
}

/** The speed layer's Redis as a TickerSource; `close` ends the connection. */
export const openTickerSource = async (
  config: Config,
  sel: TickerSelection,
): Promise<{ source: TickerSource; close: () => void }> => {
  const keyspace = keyspaceFor(config.topicPrefix);
  // Validate --user / --symbols before connecting, so a bad id is a usage error even without Redis.
  checkTickerSelection({ keyspace, ...sel });
  const redis = await connectRedis(config, { name: `${config.clientId}-ticker` });
  return { source: new RedisTickerSource(redis, { keyspace, ...sel }), close: () => redis.disconnect() };
};

/** One snapshot, one view model (`ticker --once`). */
export const tickerOnce = async (source: TickerSource, options: Partial<TickerOptions>): Promise<TickerView> =>
  buildTickerView(await source.snapshot(), options);

/**
 * The non-TTY loop: plain lines per refresh until `signal` aborts. Refreshes do not overlap (the
 * wait starts when a refresh ends); a failed refresh is reported on stderr and retried.
 */
export const runPlainTicker = async (opts: {
  source: TickerSource;
  options: Partial<TickerOptions>;
  intervalMs: number;
  write: (line: string) => void;
  warn: (line: string) => void;
  signal: AbortSignal;
}): Promise<void> => {
  while (!opts.signal.aborted) {
    try {
      for (const line of plainLines(await tickerOnce(opts.source, opts.options))) opts.write(line);
    } catch (e) {
      opts.warn(`ticker: refresh failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, opts.intervalMs);
      opts.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
  }
};
