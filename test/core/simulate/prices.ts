import type { PriceEvent } from '../../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE } from '../../../src/core/money/decimal.js';
import { Prng } from '../../../src/core/simulate/prng.js';

export const T0 = Date.UTC(2024, 2, 9, 20, 0, 0);

/**
 * A deterministic synthetic tape: each symbol ticks every `stepMs` with a small integer random walk
 * (±0.2 % per tick), starting at `T0`. Exact decimals throughout.
 */
export const syntheticPrices = (
  opts: { hours?: number; stepMs?: number; seed?: number; symbols?: Record<string, string> } = {},
): PriceEvent[] => {
  const hours = opts.hours ?? 50;
  const stepMs = opts.stepMs ?? 60_000;
  const rng = new Prng(opts.seed ?? 99);
  const symbols = opts.symbols ?? { BTCUSDT: '61234.5', ETHUSDT: '3456.78', SOLUSDT: '145.321' };
  const out: PriceEvent[] = [];
  for (const [symbol, start] of Object.entries(symbols)) {
    let units = Decimal.parse(start, PRICE_SCALE).units;
    let n = 0;
    // Offset each symbol a little so ticks of different symbols interleave rather than coincide.
    for (let t = T0 + (symbol.charCodeAt(0) % 7) * 1000; t < T0 + hours * 3_600_000; t += stepMs) {
      units = (units * BigInt(10_000 + rng.between(-20, 20))) / 10_000n;
      n++;
      out.push({
        kind: 'price',
        eventId: `synthetic:${symbol}:${n}`,
        symbol,
        price: Decimal.fromUnits(units, PRICE_SCALE),
        quantity: Decimal.fromUnits(BigInt(rng.between(1, 10_000)) * 10n ** 14n, QTY_SCALE),
        eventTime: t,
        tradeId: String(n),
        source: 'synthetic',
      });
    }
  }
  return out;
};
