import { Gauge, Histogram } from 'prom-client';
import type { Registry } from '../../adapters/metrics/prometheus.js';
import {
  compareIds,
  type LiveFeedReader,
  type PriceEntry,
  STREAM_ID_RE,
  type UsersEntry,
} from '../../adapters/redis/live-feed.js';
import { CryptolambdaError } from '../../core/errors.js';

/** Where the hub writes one subscriber's events (an SSE response). */
export interface LiveSink {
  send(id: string, event: string, data: unknown): void;
}

export type LiveTopic = 'prices' | 'portfolio';

interface PriceSub {
  readonly sink: LiveSink;
  readonly symbols: ReadonlySet<string> | null;
  /** While the replay of a reconnect runs, live entries wait here (then dedup by id). */
  pending: PriceEntry[] | null;
  lastId: string;
}

interface UserSub {
  readonly sink: LiveSink;
  readonly user: string;
  lastId: string;
}

export interface LiveHubOptions {
  readonly maxSubscribers: number;
  /** XREAD block time: how long one poll waits before it re-checks for shutdown. */
  readonly blockMs?: number;
}

/**
 * Fans the speed layer's change feed out to SSE subscribers: ONE blocking XREAD per process (on
 * its own connection) however many subscribers, so 1,000 dashboards cost Redis one reader.
 *
 * Prices: every entry goes to each subscriber (optionally filtered by symbol). A reconnect with
 * Last-Event-ID replays the retained entries after it (XRANGE) before the live tail; entries the
 * tail delivered meanwhile are buffered and deduplicated by id, so nothing is lost or repeated.
 *
 * Portfolio: an entry names the users a checkpoint changed; each subscribed user's portfolio is
 * recomputed once per poll (through the same use case as the HTTP route) and pushed whole, so the
 * newest event is always the complete state; a reconnect gets one fresh portfolio if any change to
 * that user is retained after its Last-Event-ID.
 */
export class LiveHub {
  private readonly prices = new Set<PriceSub>();
  private readonly users = new Map<string, Set<UserSub>>();
  private userCount = 0;
  private after = { prices: '0-0', users: '0-0' };
  private running = false;
  private loop?: Promise<void>;
  private readonly delivery?: Histogram<'stream'>;
  error: unknown;

  constructor(
    private readonly tail: LiveFeedReader,
    private readonly replay: LiveFeedReader,
    private readonly portfolioOf: (user: string) => Promise<unknown>,
    private readonly opts: LiveHubOptions,
    reg?: Registry,
    private readonly now: () => number = Date.now,
  ) {
    if (reg) {
      const hub = this;
      new Gauge({
        name: 'cryptolambda_live_subscribers',
        help: 'Open live-push (SSE) subscriptions by stream.',
        labelNames: ['stream'],
        registers: [reg],
        collect() {
          this.set({ stream: 'prices' }, hub.prices.size);
          this.set({ stream: 'portfolio' }, hub.userCount);
        },
      });
      this.delivery = new Histogram({
        name: 'cryptolambda_live_delivery_seconds',
        help: 'Checkpoint commit (stream entry time) to the event written to subscribers.',
        labelNames: ['stream'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5],
        registers: [reg],
      });
      // Export the series before the first delivery: a dashboard shows 0, not "no data".
      for (const stream of ['prices', 'portfolio']) this.delivery.zero({ stream });
    }
  }

  get subscribers(): number {
    return this.prices.size + this.userCount;
  }

  async start(): Promise<void> {
    // A fresh server tails from now: history is for reconnects (Last-Event-ID), not for new clients.
    this.after = await this.replay.lastIds();
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop?.catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const got = await this.tail.next(this.after, this.opts.blockMs ?? 1000);
        if (got.prices.length > 0) {
          this.after.prices = got.prices.at(-1)!.id;
          this.dispatchPrices(got.prices);
        }
        if (got.users.length > 0) {
          this.after.users = got.users.at(-1)!.id;
          await this.dispatchUsers(got.users);
        }
        this.error = undefined;
      } catch (err) {
        if (!this.running) return;
        // Redis away: keep the subscribers, retry; /health/ready reports Redis meanwhile.
        this.error = err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private admit(): void {
    if (this.subscribers >= this.opts.maxSubscribers) {
      throw new CryptolambdaError(
        'CONFLICT',
        `too many live subscribers (limit ${this.opts.maxSubscribers})`,
        'retry later or raise serve --max-subscribers',
      );
    }
  }

  private observe(stream: LiveTopic, id: string): void {
    this.delivery?.observe({ stream }, Math.max(0, this.now() - Number(id.split('-')[0])) / 1000);
  }

  private dispatchPrices(entries: readonly PriceEntry[]): void {
    for (const sub of this.prices) {
      if (sub.pending !== null) {
        sub.pending.push(...entries);
        continue;
      }
      for (const e of entries) this.sendPrice(sub, e);
    }
    if (this.prices.size > 0) for (const e of entries) this.observe('prices', e.id);
  }

  private sendPrice(sub: PriceSub, e: PriceEntry): void {
    if (compareIds(e.id, sub.lastId) <= 0) return;
    sub.lastId = e.id;
    if (sub.symbols !== null && !sub.symbols.has(e.symbol)) return;
    const { id: _id, ...data } = e;
    sub.sink.send(e.id, 'price', data);
  }

  private async dispatchUsers(entries: readonly UsersEntry[]): Promise<void> {
    if (this.users.size === 0) return;
    const changed = new Map<string, string>();
    for (const e of entries) for (const u of e.users) if (this.users.has(u)) changed.set(u, e.id);
    await Promise.all(
      [...changed].map(async ([user, id]) => {
        const subs = this.users.get(user);
        if (!subs) return;
        const body = await this.portfolioOf(user).catch(() => null);
        if (body === null) return;
        for (const s of subs) {
          if (compareIds(id, s.lastId) <= 0) continue;
          s.lastId = id;
          s.sink.send(id, 'portfolio', body);
        }
        this.observe('portfolio', id);
      }),
    );
  }

  /** Last-Event-ID as sent by the browser: a stream id we issued, or nothing. */
  static parseLastEventId(raw: string | undefined): string | null {
    if (raw === undefined || raw === '') return null;
    if (!STREAM_ID_RE.test(raw)) {
      throw new CryptolambdaError('INVALID_ARGUMENT', `invalid Last-Event-ID ${JSON.stringify(raw.slice(0, 40))}`);
    }
    return raw;
  }

  async subscribePrices(
    sink: LiveSink,
    opts: { lastEventId: string | null; symbols: string[] | null },
  ): Promise<() => void> {
    this.admit();
    const sub: PriceSub = {
      sink,
      symbols: opts.symbols === null ? null : new Set(opts.symbols),
      pending: opts.lastEventId === null ? null : [],
      lastId: opts.lastEventId ?? this.after.prices,
    };
    this.prices.add(sub);
    if (opts.lastEventId !== null) {
      try {
        for (const e of await this.replay.pricesAfter(opts.lastEventId)) this.sendPrice(sub, e);
      } finally {
        const pending = sub.pending ?? [];
        sub.pending = null;
        for (const e of pending) this.sendPrice(sub, e);
      }
    }
    return () => this.prices.delete(sub);
  }

  async subscribePortfolio(sink: LiveSink, user: string, opts: { lastEventId: string | null }): Promise<() => void> {
    this.admit();
    let baseline: string | null = this.after.users;
    if (opts.lastEventId !== null) {
      const missed = (await this.replay.usersAfter(opts.lastEventId)).filter((e) => e.users.includes(user));
      baseline = missed.at(-1)?.id ?? null;
    }
    // A new subscriber's baseline carries the tail position as its id, so a change committed after
    // it (even in the same millisecond) still has a greater id and is sent.
    const sub: UserSub = { sink, user, lastId: opts.lastEventId ?? '0-0' };
    let set = this.users.get(user);
    if (!set) {
      set = new Set();
      this.users.set(user, set);
    }
    set.add(sub);
    this.userCount++;
    // First event: the current state (a new subscriber, or a reconnect that missed changes).
    if (baseline !== null) {
      const body = await this.portfolioOf(user).catch(() => null);
      if (
        body !== null &&
        (compareIds(baseline, sub.lastId) > 0 || (opts.lastEventId === null && sub.lastId === '0-0'))
      ) {
        sub.lastId = baseline;
        sink.send(baseline, 'portfolio', body);
      }
    }
    return () => {
      if (set.delete(sub)) this.userCount--;
      if (set.size === 0) this.users.delete(user);
    };
  }
}
