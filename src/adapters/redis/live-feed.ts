import type { CandleFieldsJson } from '../../core/speed/price-windows.js';
import type { RedisConn } from './client.js';
import type { CandleInterval } from './speed-keys.js';

/**
 * The speed layer's change feed: two Redis Streams written INSIDE each partition's fenced checkpoint commit (checkpoint-tx.ts), so an
 * entry exists exactly when the state it announces is committed (never before, never lost after).
 * A Stream rather than PUBLISH because a subscriber that reconnects asks for everything after its
 * Last-Event-ID: XRANGE serves whatever is still retained (MAXLEN, approximate trim), pub/sub would
 * have dropped it. The entry id (`<ms>-<seq>`, Redis server time at EXEC) is the SSE event id.
 *
 * - `<ks>live:prices`: one entry per symbol whose last price or candles changed in the checkpoint.
 * - `<ks>live:users`: one entry per partition per checkpoint listing the users whose state changed
 *   (space separated: one XADD however many users, so a checkpoint's cost stays one command).
 */
export const liveKeys = (keyspace: string) => ({
  prices: `${keyspace}live:prices`,
  users: `${keyspace}live:users`,
});

export type LiveKeys = ReturnType<typeof liveKeys>;

export interface LiveCandle extends CandleFieldsJson {
  readonly interval: CandleInterval;
  readonly final: boolean;
}

export interface PriceChange {
  readonly symbol: string;
  /** Canonical decimal string. */
  readonly price: string;
  readonly eventTime: number;
  /** The newest state of each candle of the symbol touched in the checkpoint. */
  readonly candles: readonly LiveCandle[];
}

/**
 * Where the feed's commands are recorded: a partition's checkpoint (checkpoint-tx.ts, committed by
 * one fenced script) or, in a bench, a MULTI. Single-key commands only.
 */
export interface CommandRecorder {
  add(cmd: string, key: string, ...args: (string | number)[]): void;
}

/** What the checkpoint reports as committed: the seam between the stream engine and the live push. */
export interface CommittedChangesSink {
  prices(tx: CommandRecorder, changes: readonly PriceChange[]): void;
  users(tx: CommandRecorder, userIds: readonly string[]): void;
}

export interface LiveRetention {
  /** Price entries kept (approximate): ~10k is minutes of ticks for tens of symbols. */
  readonly prices: number;
  /** User-batch entries kept (one per partition per checkpoint). */
  readonly users: number;
}

export const DEFAULT_LIVE_RETENTION: LiveRetention = { prices: 10_000, users: 2_000 };

export class LiveFeedWriter implements CommittedChangesSink {
  private readonly keys: LiveKeys;
  constructor(
    keyspace: string,
    private readonly retention: LiveRetention = DEFAULT_LIVE_RETENTION,
  ) {
    this.keys = liveKeys(keyspace);
  }

  prices(tx: CommandRecorder, changes: readonly PriceChange[]): void {
    for (const c of changes) {
      tx.add(
        'XADD',
        this.keys.prices,
        'MAXLEN',
        '~',
        this.retention.prices,
        '*',
        's',
        c.symbol,
        'p',
        c.price,
        't',
        String(c.eventTime),
        'k',
        JSON.stringify(c.candles),
      );
    }
  }

  users(tx: CommandRecorder, userIds: readonly string[]): void {
    if (userIds.length === 0) return;
    tx.add('XADD', this.keys.users, 'MAXLEN', '~', this.retention.users, '*', 'u', userIds.join(' '));
  }
}

export interface PriceEntry extends PriceChange {
  readonly id: string;
}

export interface UsersEntry {
  readonly id: string;
  readonly users: readonly string[];
}

type RawEntry = [id: string, fields: string[]];

const fieldsOf = (f: string[]): Record<string, string> => {
  const o: Record<string, string> = {};
  for (let i = 0; i + 1 < f.length; i += 2) o[f[i]!] = f[i + 1]!;
  return o;
};

const priceEntry = ([id, f]: RawEntry): PriceEntry => {
  const o = fieldsOf(f);
  return {
    id,
    symbol: o.s ?? '',
    price: o.p ?? '',
    eventTime: Number(o.t),
    candles: JSON.parse(o.k ?? '[]') as LiveCandle[],
  };
};

const usersEntry = ([id, f]: RawEntry): UsersEntry => ({ id, users: (fieldsOf(f).u ?? '').split(' ') });

/** `<ms>-<seq>` as produced by Redis; anything else is not an id we handed out. */
export const STREAM_ID_RE = /^\d{1,15}-\d{1,15}$/;

/** Entry-id order (ms, then sequence), for dedup between a replay and the live tail. */
export const compareIds = (a: string, b: string): number => {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
};

export class LiveFeedReader {
  private readonly keys: LiveKeys;
  constructor(
    private readonly redis: RedisConn,
    keyspace: string,
  ) {
    this.keys = liveKeys(keyspace);
  }

  /** Entries strictly after `afterId` still retained (at most `limit`). */
  async pricesAfter(afterId: string, limit = 10_000): Promise<PriceEntry[]> {
    const raw = (await this.redis.xrange(this.keys.prices, `(${afterId}`, '+', 'COUNT', limit)) as RawEntry[];
    return raw.map(priceEntry);
  }

  async usersAfter(afterId: string, limit = 10_000): Promise<UsersEntry[]> {
    const raw = (await this.redis.xrange(this.keys.users, `(${afterId}`, '+', 'COUNT', limit)) as RawEntry[];
    return raw.map(usersEntry);
  }

  /** The newest id of each stream ('0-0' when empty): where a fresh tail starts. */
  async lastIds(): Promise<{ prices: string; users: string }> {
    const [p, u] = await Promise.all([
      this.redis.xrevrange(this.keys.prices, '+', '-', 'COUNT', 1) as Promise<RawEntry[]>,
      this.redis.xrevrange(this.keys.users, '+', '-', 'COUNT', 1) as Promise<RawEntry[]>,
    ]);
    return { prices: p[0]?.[0] ?? '0-0', users: u[0]?.[0] ?? '0-0' };
  }

  /**
   * Block (up to blockMs) for entries after the given ids. Needs a connection of its own: a
   * blocking XREAD holds the connection until it returns.
   */
  async next(
    after: { prices: string; users: string },
    blockMs: number,
  ): Promise<{ prices: PriceEntry[]; users: UsersEntry[] }> {
    const res = (await this.redis.xread(
      'COUNT',
      5000,
      'BLOCK',
      blockMs,
      'STREAMS',
      this.keys.prices,
      this.keys.users,
      after.prices,
      after.users,
    )) as [string, RawEntry[]][] | null;
    const out = { prices: [] as PriceEntry[], users: [] as UsersEntry[] };
    for (const [key, entries] of res ?? []) {
      if (key === this.keys.prices) out.prices.push(...entries.map(priceEntry));
      else out.users.push(...entries.map(usersEntry));
    }
    return out;
  }
}
