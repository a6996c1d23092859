import { Args, Flags } from '@oclif/core';
import { openServing } from '../app/serving/context.js';
import { getOhlcv, type OhlcvResult } from '../app/serving/ohlcv.js';
import { BaseCommand } from '../cli/base-command.js';
import { colorEnabled } from '../cli/render.js';
import { renderOhlcv } from '../cli/render-serving.js';
import { INTERVALS_MS } from '../core/ohlcv/candle.js';
import { parseInstant, parseSymbol } from '../core/serving/input.js';

export default class Ohlcv extends BaseCommand<typeof Ohlcv> {
  static override summary = 'Candles of a symbol: recent ones from the speed layer, older ones from the lake, merged.';
  static override examples = [
    '<%= config.bin %> ohlcv BTCUSDT --interval 1m --from 2026-11-20T10:00Z --to 2026-11-20T11:00Z',
    '<%= config.bin %> ohlcv ETHUSDT --interval 5m --from 2026-11-19 --json',
  ];
  static override args = { symbol: Args.string({ description: 'Exchange symbol, e.g. BTCUSDT.', required: true }) };
  static override flags = {
    interval: Flags.string({ description: 'Candle interval.', options: ['1m', '5m'], default: '1m' }),
    from: Flags.string({
      description: 'Start (epoch ms, YYYY-MM-DD or ISO time with Z/offset); default: 60 windows before --to.',
    }),
    to: Flags.string({ description: 'End, exclusive; default: now.' }),
  };

  async run(): Promise<OhlcvResult> {
    const interval = this.flags.interval as '1m' | '5m';
    const to = this.flags.to === undefined ? Date.now() : parseInstant(this.flags.to, '--to');
    const from =
      this.flags.from === undefined ? to - 60 * INTERVALS_MS[interval] : parseInstant(this.flags.from, '--from');
    // Validated before anything is opened: a bad id never reaches Redis or DuckDB.
    const symbol = parseSymbol(this.args.symbol);
    const ctx = await openServing(this.appConfig);
    try {
      const r = await getOhlcv(ctx, symbol, interval, from, to);
      this.log(renderOhlcv(r, colorEnabled()));
      return r;
    } finally {
      ctx.close();
    }
  }
}
