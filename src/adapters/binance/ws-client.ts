import WebSocket from 'ws';
import { tradeStreamName } from '../../core/sources/binance.js';

/**
 * Binance spot combined trade streams over WebSocket.
 *
 * Exchange rules this client follows (Binance "WebSocket Streams" docs):
 * - at most 1024 streams per connection: symbols are split over several connections;
 * - a connection is cut after 24 h: each one is replaced before that (default 23 h 50 m). The
 *   replacement is opened first and the old socket closed once the new one is live, so there is
 *   no gap; the overlap may repeat a few trades, which the caller drops by trade id (and eventIds
 *   are stable, so downstream is idempotent anyway);
 * - the server pings every 20 s and disconnects after a minute without a pong: `ws` answers
 *   protocol pings automatically (`autoPong`, default true in ws 8.18; the integration test checks
 *   the server receives the pong). A connection silent for `idleTimeoutMs` (no frame, no ping) is
 *   presumed dead and replaced;
 * - unplanned disconnects reconnect with exponential backoff and jitter.
 *
 * Frames are buffered (bounded) between the socket and the consumer. A WebSocket cannot be
 * paused without the server dropping us as a slow consumer, so when Kafka is slower than the
 * market the OLDEST frames are dropped and counted in `stats.dropped` (never silently).
 */
export const DEFAULT_BINANCE_ENDPOINT = 'wss://stream.binance.com:9443';
export const MAX_STREAMS_PER_CONNECTION = 1024;
export const DEFAULT_PLANNED_RECONNECT_MS = (23 * 60 + 50) * 60 * 1000;

export interface BinanceWsOptions {
  readonly symbols: readonly string[];
  readonly endpoint?: string;
  readonly maxStreamsPerConnection?: number;
  readonly plannedReconnectMs?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly idleTimeoutMs?: number;
  /** Frames held for the consumer; beyond this the oldest are dropped (and counted). */
  readonly maxBuffered?: number;
  /** For jitter; injectable for tests. */
  readonly random?: () => number;
  readonly onLifecycle?: (e: LifecycleEvent) => void;
}

export type LifecycleEvent =
  | { type: 'open'; connection: number; url: string; planned: boolean }
  | { type: 'close'; connection: number; code: number; reason: string }
  | { type: 'error'; connection: number; message: string }
  | { type: 'reconnect-scheduled'; connection: number; delayMs: number; attempt: number }
  | { type: 'planned-reconnect'; connection: number };

export interface BinanceWsStats {
  connects: number;
  /** Unplanned reconnects (after a drop or error). */
  reconnects: number;
  plannedReconnects: number;
  frames: number;
  dropped: number;
  pings: number;
}

export interface Frame {
  readonly text: string;
  readonly connection: number;
  readonly receivedAt: number;
}

/** One URL per connection: `${endpoint}/stream?streams=a@trade/b@trade/...`. */
export const combinedStreamUrls = (
  endpoint: string,
  symbols: readonly string[],
  maxPerConnection = MAX_STREAMS_PER_CONNECTION,
): string[] => {
  const base = endpoint.replace(/\/+$/, '');
  const urls: string[] = [];
  for (let i = 0; i < symbols.length; i += maxPerConnection) {
    const streams = symbols.slice(i, i + maxPerConnection).map(tradeStreamName);
    urls.push(`${base}/stream?streams=${streams.join('/')}`);
  }
  return urls;
};

/** Exponential backoff capped at maxMs, with "equal jitter": half fixed, half random. */
export const backoffDelay = (attempt: number, initialMs: number, maxMs: number, random: () => number): number => {
  const exp = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(exp / 2 + (exp / 2) * random());
};

class Connection {
  private socket: WebSocket | undefined;
  private replacement: WebSocket | undefined;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private plannedTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly id: number,
    private readonly url: string,
    private readonly client: BinanceTradeStream,
    private readonly opts: Required<Omit<BinanceWsOptions, 'onLifecycle' | 'symbols' | 'endpoint'>> &
      Pick<BinanceWsOptions, 'onLifecycle'>,
  ) {}

  start(): void {
    this.socket = this.open(false);
  }

  stop(): void {
    this.stopped = true;
    for (const t of [this.reconnectTimer, this.plannedTimer, this.idleTimer]) if (t) clearTimeout(t);
    for (const s of [this.socket, this.replacement]) {
      if (s && (s.readyState === WebSocket.OPEN || s.readyState === WebSocket.CONNECTING)) s.terminate();
    }
  }

  private open(planned: boolean): WebSocket {
    const ws = new WebSocket(this.url, { handshakeTimeout: 10_000 });
    ws.on('open', () => {
      if (this.stopped) return ws.terminate();
      if (planned) {
        // The replacement is live: retire the old socket, then carry on with the new one.
        const old = this.socket;
        this.socket = ws;
        this.replacement = undefined;
        old?.close(1000, 'planned reconnect');
        this.client.stats.plannedReconnects++;
      }
      this.client.stats.connects++;
      this.opts.onLifecycle?.({ type: 'open', connection: this.id, url: this.url, planned });
      this.armIdle();
      if (this.plannedTimer) clearTimeout(this.plannedTimer);
      this.plannedTimer = setTimeout(() => this.planned(), this.opts.plannedReconnectMs);
      this.plannedTimer.unref?.();
    });
    ws.on('message', (data) => {
      // Backoff resets on data, not on open: a server that accepts and drops at once keeps backing off.
      this.attempt = 0;
      this.armIdle();
      const text = (
        Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
      ).toString('utf8');
      this.client.deliver({ text, connection: this.id, receivedAt: Date.now() });
    });
    ws.on('ping', () => {
      // ws has already queued the pong (autoPong); we only note the liveness.
      this.client.stats.pings++;
      this.armIdle();
    });
    ws.on('error', (err) => {
      this.opts.onLifecycle?.({ type: 'error', connection: this.id, message: err.message });
    });
    ws.on('close', (code, reason) => {
      this.opts.onLifecycle?.({ type: 'close', connection: this.id, code, reason: reason.toString() });
      if (this.stopped) return;
      if (ws === this.replacement) {
        // The planned replacement failed: keep the current socket, try again later.
        this.replacement = undefined;
        this.plannedTimer = setTimeout(() => this.planned(), this.nextDelay());
        return;
      }
      if (ws !== this.socket) return; // a retired socket
      this.socket = undefined;
      if (this.idleTimer) clearTimeout(this.idleTimer);
      if (this.plannedTimer) clearTimeout(this.plannedTimer);
      const attempt = this.attempt;
      const delayMs = this.nextDelay();
      this.opts.onLifecycle?.({ type: 'reconnect-scheduled', connection: this.id, delayMs, attempt });
      this.reconnectTimer = setTimeout(() => {
        if (this.stopped) return;
        this.client.stats.reconnects++;
        this.socket = this.open(false);
      }, delayMs);
    });
    return ws;
  }

  private nextDelay(): number {
    const d = backoffDelay(this.attempt, this.opts.initialBackoffMs, this.opts.maxBackoffMs, this.opts.random);
    this.attempt++;
    return d;
  }

  private planned(): void {
    if (this.stopped || this.replacement) return;
    this.opts.onLifecycle?.({ type: 'planned-reconnect', connection: this.id });
    this.replacement = this.open(true);
  }

  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      // Silent for too long (no data, no server ping): presume the link dead; close → reconnect.
      this.opts.onLifecycle?.({ type: 'error', connection: this.id, message: 'idle timeout' });
      this.socket?.terminate();
    }, this.opts.idleTimeoutMs);
    this.idleTimer.unref?.();
  }
}

export class BinanceTradeStream {
  readonly stats: BinanceWsStats = {
    connects: 0,
    reconnects: 0,
    plannedReconnects: 0,
    frames: 0,
    dropped: 0,
    pings: 0,
  };
  readonly urls: readonly string[];
  private readonly connections: Connection[];
  private readonly buffer: Frame[] = [];
  private head = 0;
  private waiter: (() => void) | undefined;
  private stopped = false;
  private readonly maxBuffered: number;

  constructor(opts: BinanceWsOptions) {
    if (opts.symbols.length === 0) throw new RangeError('at least one symbol is needed');
    const full = {
      maxStreamsPerConnection: opts.maxStreamsPerConnection ?? MAX_STREAMS_PER_CONNECTION,
      plannedReconnectMs: opts.plannedReconnectMs ?? DEFAULT_PLANNED_RECONNECT_MS,
      initialBackoffMs: opts.initialBackoffMs ?? 500,
      maxBackoffMs: opts.maxBackoffMs ?? 30_000,
      idleTimeoutMs: opts.idleTimeoutMs ?? 60_000,
      maxBuffered: opts.maxBuffered ?? 100_000,
      random: opts.random ?? Math.random,
      onLifecycle: opts.onLifecycle,
    };
    if (full.maxStreamsPerConnection < 1 || full.maxStreamsPerConnection > MAX_STREAMS_PER_CONNECTION) {
      throw new RangeError(`maxStreamsPerConnection must be 1..${MAX_STREAMS_PER_CONNECTION}`);
    }
    this.maxBuffered = full.maxBuffered;
    this.urls = combinedStreamUrls(
      opts.endpoint ?? DEFAULT_BINANCE_ENDPOINT,
      opts.symbols,
      full.maxStreamsPerConnection,
    );
    this.connections = this.urls.map((url, i) => new Connection(i, url, this, full));
  }

  start(): void {
    for (const c of this.connections) c.start();
  }

  /** Close every connection; `frames()` ends after the frames already buffered. */
  stop(): void {
    this.stopped = true;
    for (const c of this.connections) c.stop();
    this.wake();
  }

  get buffered(): number {
    return this.buffer.length - this.head;
  }

  /** @internal called by connections. */
  deliver(frame: Frame): void {
    if (this.stopped) return;
    this.stats.frames++;
    this.buffer.push(frame);
    if (this.buffered > this.maxBuffered) {
      this.head++; // drop the oldest
      this.stats.dropped++;
    }
    if (this.head > 4096 && this.head * 2 > this.buffer.length) {
      this.buffer.splice(0, this.head);
      this.head = 0;
    }
    this.wake();
  }

  /** The frames in arrival order, until stop(). */
  async *frames(): AsyncGenerator<Frame> {
    for (;;) {
      while (this.head < this.buffer.length) {
        const f = this.buffer[this.head]!;
        this.head++;
        yield f;
      }
      this.buffer.length = 0;
      this.head = 0;
      if (this.stopped) return;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
