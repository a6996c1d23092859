import type { ChainableCommander } from 'ioredis';
import { CryptolambdaError } from '../../core/errors.js';
import { SYMBOL_RE } from '../../core/events/validate.js';
import { SPEED_PARTITIONS } from '../../core/partitioning.js';
import { DAY_MS } from '../../core/ticker/model.js';
import type { RawSnapshot, TickerSource } from '../../core/ticker/snapshot.js';
import { crossSlotPipeline, type RedisConn } from './client.js';
import { type SpeedKeys, speedKeys } from './speed-keys.js';
import { parseWatermarks, queueWatermarks } from './speed-store.js';

export interface RedisTickerSourceOptions {
  /** `${topicPrefix}cl:` (keyspaceFor). */
  readonly keyspace: string;
  /** Show only these symbols; default: the speed layer's symbol set. */
  readonly symbols?: readonly string[];
  /** Also read this user's positions and tier. */
  readonly user?: string;
  /** 1m candles read per symbol (newest first by rank): enough for the sparkline and the detail table. */
  readonly history?: number;
  readonly clock?: () => number;
}

/**
 * Builds the keys of a --user / --symbols selection without reading them: the key builder's
 * assertKeyPart rejects a bad id (INVALID_ARGUMENT) before anything is sent to Redis.
 */
export const checkTickerSelection = (opts: Pick<RedisTickerSourceOptions, 'keyspace' | 'symbols' | 'user'>): void => {
  const keys = speedKeys(opts.keyspace);
  if (opts.user !== undefined) keys.positions(opts.user);
  for (const s of opts.symbols ?? []) {
    keys.candles('1m', s);
    if (!SYMBOL_RE.test(s)) throw new CryptolambdaError('INVALID_ARGUMENT', `invalid symbol ${JSON.stringify(s)}`);
  }
};

/** Values stored as JSON; a corrupt one becomes null, which the model counts as skipped. */
const parseJson = (s: string | null): unknown => {
  if (s === null) return null;
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return null;
  }
};

type Results = [Error | null, unknown][];

const run = async (pipeline: ChainableCommander): Promise<unknown[]> => {
  const res = ((await pipeline.exec()) ?? []) as Results;
  return res.map(([err, value]) => {
    if (err) throw new CryptolambdaError('INTERNAL', `redis: ${err.message}`, undefined, { cause: err });
    return value;
  });
};

/**
 * The ticker's read side of the speed layer. One refresh is one pipelined round trip: the symbol
 * set, the last-price HASH, the watermarks, per symbol the latest 1m candles + the first 1m candle
 * of the 24h window + the latest 5m candle, and the user's positions and tier. Symbols learnt from
 * the set are read in the same pipeline from the next refresh on; only a refresh that discovers new
 * symbols (the first one, or a new listing) takes a second round trip for their candles.
 * Reads are not atomic across keys (the stream writes between them); the view tolerates a candle one
 * write ahead of the last price, and the next refresh converges.
 */
export class RedisTickerSource implements TickerSource {
  private readonly keys: SpeedKeys;
  private readonly filter: readonly string[] | null;
  private readonly user: string | null;
  private readonly history: number;
  private readonly clock: () => number;
  private known: string[] = [];

  constructor(
    private readonly redis: RedisConn,
    opts: RedisTickerSourceOptions,
  ) {
    this.keys = speedKeys(opts.keyspace);
    this.history = opts.history ?? 20;
    this.clock = opts.clock ?? Date.now;
    this.user = opts.user ?? null;
    checkTickerSelection(opts);
    this.filter = opts.symbols ? [...new Set(opts.symbols)] : null;
  }

  private queueCandles(p: ChainableCommander, symbols: readonly string[], now: number): void {
    for (const s of symbols) {
      const m1 = this.keys.candles('1m', s);
      p.zrange(m1, -this.history, -1);
      p.zrangebyscore(m1, now - DAY_MS, '+inf', 'LIMIT', 0, 1);
      p.zrange(this.keys.candles('5m', s), -1, -1);
    }
  }

  private readCandles(values: unknown[], symbols: readonly string[], snap: Candles): void {
    symbols.forEach((s, i) => {
      const [recent, first24h, m5] = values.slice(i * 3, i * 3 + 3) as [string[], string[], string[]];
      snap.candles1m[s] = [...first24h, ...recent].map(parseJson);
      snap.candles5m[s] = m5.map(parseJson);
    });
  }

  async snapshot(): Promise<RawSnapshot> {
    const now = this.clock();
    const symbols = this.filter ?? this.known;
    const p = crossSlotPipeline(this.redis);
    for (const n of SPEED_PARTITIONS) p.hgetall(this.keys.lastPrice(n));
    queueWatermarks(p, this.keys);
    if (this.filter === null) for (const n of SPEED_PARTITIONS) p.smembers(this.keys.symbols(n));
    if (this.user !== null) {
      p.hvals(this.keys.positions(this.user));
      p.get(this.keys.tier(this.user));
    }
    this.queueCandles(p, symbols, now);
    const values = await run(p);

    const lastPriceHash: Record<string, string> = Object.assign(
      {},
      ...SPEED_PARTITIONS.map(() => values.shift() as Record<string, string>),
    );
    const marks = parseWatermarks(values);
    // Staleness follows the price watermark only: user topics may be quiet while prices stream.
    const watermarks = marks.partitions.flatMap((m) => (m.price === null ? [] : [m.price]));
    const members = this.filter === null ? SPEED_PARTITIONS.flatMap(() => values.shift() as string[]) : null;
    const user =
      this.user === null
        ? null
        : {
            id: this.user,
            positions: (values.shift() as string[]).map(parseJson),
            tier: parseJson(values.shift() as string | null),
          };
    const candles: Candles = { candles1m: {}, candles5m: {} };
    this.readCandles(values, symbols, candles);

    let shown = symbols;
    if (members !== null) {
      // Set members are written by the stream after validation; re-check anyway, they become keys.
      const current = members.filter((s) => SYMBOL_RE.test(s)).sort();
      const fresh = current.filter((s) => !(s in candles.candles1m));
      if (fresh.length > 0) {
        const p2 = crossSlotPipeline(this.redis);
        this.queueCandles(p2, fresh, now);
        this.readCandles(await run(p2), fresh, candles);
      }
      this.known = current;
      shown = current;
    }

    const lastPrices: Record<string, unknown> = {};
    for (const [s, v] of Object.entries(lastPriceHash)) lastPrices[s] = parseJson(v);
    return { now, symbols: shown, lastPrices, ...candles, watermarks, user };
  }
}

interface Candles {
  candles1m: Record<string, unknown[]>;
  candles5m: Record<string, unknown[]>;
}
