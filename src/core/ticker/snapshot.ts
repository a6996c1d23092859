/**
 * What the ticker reads from the speed layer, as stored (JSON with decimal strings), and the port
 * that supplies it. The shapes mirror src/adapters/redis/speed-keys.ts but are declared here so the
 * core never imports an adapter; the model validates every value (a corrupt entry is skipped and
 * counted, never thrown), because the view must keep running while the stream writes.
 */
export interface RawLastPrice {
  readonly price: string;
  readonly eventTime: number;
}

export interface RawCandle {
  readonly start: number;
  readonly end: number;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly close: string;
  readonly volume: string;
  readonly quoteVolume: string;
  readonly trades: number;
  readonly vwap: string;
  readonly final: boolean;
}

export interface RawPosition {
  readonly asset: string;
  readonly quantity: string;
  readonly costBasis: string;
  readonly staked?: string;
  readonly realizedPnl?: string;
  readonly feesPaid?: string;
  readonly rewardIncome?: string;
}

export interface RawTier {
  readonly tier: string;
  readonly spend30d: string;
  readonly since: number;
}

export interface RawUserState {
  readonly id: string;
  /** Values of the positions HASH (asset -> PositionJson), any order. */
  readonly positions: readonly unknown[];
  /** The tier STRING, parsed JSON; null when the user has no tier yet. */
  readonly tier: unknown;
}

export interface RawSnapshot {
  /** Wall clock when the snapshot was taken (epoch ms). */
  readonly now: number;
  /** Symbols to show (the speed layer's symbol set, or the --symbols filter), any order. */
  readonly symbols: readonly string[];
  /** The whole last-price HASH: positions of any asset can be valued, not only the shown symbols. */
  readonly lastPrices: Readonly<Record<string, unknown>>;
  /** Recent 1m candles per symbol, any order (the model sorts and de-duplicates by start). */
  readonly candles1m: Readonly<Record<string, readonly unknown[]>>;
  /** Recent 5m candles per symbol; only the latest is used. */
  readonly candles5m: Readonly<Record<string, readonly unknown[]>>;
  /** Per-partition watermarks (ms); the stream-wide watermark is their minimum. */
  readonly watermarks: readonly number[];
  readonly user: RawUserState | null;
}

/** The port the ticker polls; src/adapters/redis/ticker-source.ts implements it over Redis. */
export interface TickerSource {
  snapshot(): Promise<RawSnapshot>;
}
