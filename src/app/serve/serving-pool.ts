import { stat } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { ledgerPath } from '../../adapters/lake/warehouse-store.js';
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

  private constructor(
    private readonly config: Config,
    private readonly redis: Redis,
    first: ServingContext,
    mtimeMs: number,
  ) {
    this.current = { ctx: first, mtimeMs, users: 0, retired: false };
  }

  static async open(config: Config, redis: Redis, refreshMs = 2000): Promise<ServingPool> {
    const ctx = await openServing(config, { redisClient: redis });
    const pool = new ServingPool(config, redis, ctx, await ledgerMtime(config.lakeDir));
    pool.timer = setInterval(() => void pool.refresh().catch(() => undefined), refreshMs);
    pool.timer.unref();
    return pool;
  }

  async refresh(): Promise<void> {
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
    const old = this.current;
    this.current = { ctx, mtimeMs: m, users: 0, retired: false };
    old.retired = true;
    if (old.users === 0) old.ctx.close();
  }

  /**
   * Run one query on the current context. The ledger's mtime is checked first (one stat, a few µs),
   * so a query right after a build sees it; a rebuild that swept the files a context still points at
   * between that check and the read (DuckDB: "No files found") is retried once on the fresh ledger.
   */
  async use<T>(fn: (ctx: ServingContext) => Promise<T>): Promise<T> {
    await this.refresh();
    try {
      return await this.once(fn);
    } catch (err) {
      if (!/No files found that match/.test(String((err as Error)?.message))) throw err;
      await this.refresh();
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

const ledgerMtime = async (lakeDir: string): Promise<number> =>
  stat(ledgerPath(lakeDir)).then(
    (s) => s.mtimeMs,
    () => 0,
  );
