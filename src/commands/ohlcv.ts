import { Args, Flags } from '@oclif/core';
import { openServing } from '../app/serving/context.js';
import { getOhlcvChecked, getRecentOhlcv, MAX_WINDOWS, type OhlcvResult } from '../app/serving/ohlcv.js';
import { BaseCommand, queryFlags } from '../cli/base-command.js';
import { ohlcvModel, renderOhlcv } from '../cli/render-serving.js';
import { INTERVALS_MS } from '../core/ohlcv/candle.js';
import { parseInstant, parseSymbol } from '../core/serving/input.js';

export default class Ohlcv extends BaseCommand<typeof Ohlcv> {
  static override summary = 'Candles of a symbol: recent ones from the speed layer, older ones from the lake, merged.';
  static override description =
    'Without --from/--to, the last --limit windows that have data (ending at the newest candle, whenever that ' +
    'was). An unknown symbol exits 5 and lists the known ones.';
  static override examples = [
    '<%= config.bin %> ohlcv BTCUSDT --interval 5m',
    '<%= config.bin %> ohlcv BTCUSDT --interval 1m --from 2026-11-20T10:00Z --to 2026-11-20T11:00Z',
    '<%= config.bin %> ohlcv ETHUSDT --interval 5m --from 2026-11-19 --json',
  ];
  static override args = { symbol: Args.string({ description: 'Exchange symbol, e.g. BTCUSDT.', required: true }) };
  static override flags = {
    ...queryFlags,
    interval: Flags.string({ description: 'Candle interval.', options: ['1m', '5m'], default: '1m' }),
    from: Flags.string({
      description: 'Start (epoch ms, YYYY-MM-DD or ISO time with Z/offset); default: --limit windows before --to.',
    }),
    to: Flags.string({ description: 'End, exclusive; default: now with --from, else after the newest candle.' }),
    limit: Flags.integer({ description: 'Windows shown without --from.', default: 60, min: 1, max: MAX_WINDOWS }),
  };

  async run(): Promise<OhlcvResult> {
    const f = this.flags;
    const interval = f.interval as '1m' | '5m';
    const size = INTERVALS_MS[interval];
    // Validated before anything is opened: a bad id never reaches Redis or DuckDB.
    const symbol = parseSymbol(this.args.symbol);
    const to = f.to === undefined ? undefined : parseInstant(f.to, '--to');
    const from = f.from === undefined ? undefined : parseInstant(f.from, '--from');
    const ctx = await openServing(this.appConfig);
    try {
      const r =
        from === undefined && to === undefined
          ? await getRecentOhlcv(ctx, symbol, interval, f.limit)
          : await getOhlcvChecked(ctx, symbol, interval, from ?? (to as number) - f.limit * size, to ?? Date.now());
      this.show(
        (o) => renderOhlcv(r, o),
        () => ohlcvModel(r),
      );
      return r;
    } finally {
      ctx.close();
    }
  }
}
