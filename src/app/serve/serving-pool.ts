import { stat } from 'node:fs/promises';
import { ledgerPath } from '../../adapters/lake/warehouse-store.js';
import type { RedisConn } from '../../adapters/redis/client.js';
import type { Config } from '../../config/config.js';
import { openServing, type ServingContext } from '../serving/context.js';

/**
 * A long-running server's view of the warehouse. A ServingContext reads the build ledger once (one
 * query sees one consistent set of builds); the pool swaps in a fresh context when the ledger file
 * changes (a batch published a build), and closes the old one only after the queries that hold it
 * finished, so no query ever sees half of one build and half of another.
 */
export class ServingPool {
  private current: { ctx: ServingContext; mtimeMs: number; users: number; retired: boolean };
  private timer?: NodeJS.Timeout;
  private opening: Promise<void> | undefined;
  private checkedAt = Number.NEGATIVE_INFINITY;

  private constructor(
    private readonly config: Config,
    private readonly redis: RedisConn,
    first: ServingContext,
    mtimeMs: number,
    private readonly cacheBytes: number,
  ) {
    this.current = { ctx: first, mtimeMs, users: 0, retired: false };
  }

  static async open(
    config: Config,
    redis: RedisConn,
    opts: { refreshMs?: number; snapshotCacheBytes?: number } = {},
  ): Promise<ServingPool> {
    const cacheBytes = opts.snapshotCacheBytes ?? DEFAULT_SNAPSHOT_CACHE_BYTES;
    const ctx = await openServing(config, { redisClient: redis });
    await ctx.warehouse.preloadSnapshots(cacheBytes);
    const pool = new ServingPool(config, redis, ctx, await ledgerMtime(config.lakeDir), cacheBytes);
    const refreshMs = opts.refreshMs ?? 2000;
    pool.timer = setInterval(() => void pool.refresh().catch(() => undefined), refreshMs);
    pool.timer.unref();
    return pool;
  }

  async refresh(force = false): Promise<void> {
    // One stat per 200 ms, not per request: at thousands of requests a second the stat was a
    // seventh of the server's CPU. A build swept under a query is still caught by the retry below.
    const now = performance.now();
    if (!force && now - this.checkedAt < 200) return;
    this.checkedAt = now;
    const m = await ledgerMtime(this.config.lakeDir);
    if (m === this.current.mtimeMs) return;
    // Concurrent requests that all saw the change share one reopen.
    this.opening ??= this.reopen(m).finally(() => {
      this.opening = undefined;
    });
    await this.opening;
  }

  private async reopen(m: number): Promise<void> {
    const ctx = await openServing(this.config, { redisClient: this.redis });
    // The new build's snapshots are loaded before the swap: no query waits on a cold cache.
    await ctx.warehouse.preloadSnapshots(this.cacheBytes).catch(() => null);
    const old = this.current;
    this.current = { ctx, mtimeMs: m, users: 0, retired: false };
    old.retired = true;
    if (old.users === 0) old.ctx.close();
  }

  /**
   * Run one query on the current context. The ledger's mtime is checked first (at most every
   * 200 ms), so a query shortly after a build sees it; a rebuild that swept the files a context still points at
   * between that check and the read (DuckDB: "No files found") is retried once on the fresh ledger.
   */
  async use<T>(fn: (ctx: ServingContext) => Promise<T>): Promise<T> {
    await this.refresh();
    try {
      return await this.once(fn);
    } catch (err) {
      if (!/No files found that match/.test(String((err as Error)?.message))) throw err;
      await this.refresh(true);
      return this.once(fn);
    }
  }

  private async once<T>(fn: (ctx: ServingContext) => Promise<T>): Promise<T> {
    const held = this.current;
    held.users++;
    try {
      return await fn(held.ctx);
    } finally {
      held.users--;
      if (held.retired && held.users === 0) held.ctx.close();
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.current.retired = true;
    if (this.current.users === 0) this.current.ctx.close();
  }
}

/** Snapshot rows held in memory per build (see WarehouseReader.preloadSnapshots). */
export const DEFAULT_SNAPSHOT_CACHE_BYTES = 256 * 1024 * 1024;

const ledgerMtime = async (lakeDir: string): Promise<number> =>
  stat(ledgerPath(lakeDir)).then(
    (s) => s.mtimeMs,
    () => 0,
  );
