import { Flags } from '@oclif/core';
import { MIN_INTERVAL_MS, openTickerSource, runPlainTicker, tickerOnce } from '../app/ticker/ticker.js';
import { BaseCommand } from '../cli/base-command.js';
import { durationFlag } from '../cli/flags.js';
import { colorEnabled, fullScreenEnabled } from '../cli/render.js';
import { plainLines } from '../core/ticker/format.js';
import type { TickerView } from '../core/ticker/model.js';

export default class Ticker extends BaseCommand<typeof Ticker> {
  static override summary = 'Live prices, candles, movers and a portfolio from the speed layer.';
  static override description =
    `Full-screen on a terminal (↑/↓ select a symbol, q quits). When stdout is not a terminal (or CI is set, where Ink draws no frames), prints one plain line per symbol per refresh. --once prints one snapshot and exits; --json (implies --once) prints the view model.`;
  static override examples = [
    '<%= config.bin %> ticker',
    '<%= config.bin %> ticker --symbols BTCUSDT,ETHUSDT --user alice',
    '<%= config.bin %> ticker --once --json',
  ];
  static override flags = {
    symbols: Flags.string({ description: 'Only these symbols, comma separated (default: every symbol seen).' }),
    user: Flags.string({ description: "Also show this user's portfolio value, unrealized P&L and tier." }),
    interval: durationFlag({ description: 'Refresh period', default: '1s', bare: 'ms', min: `${MIN_INTERVAL_MS}ms` }),
    once: Flags.boolean({ description: 'Print one snapshot and exit.' }),
    'stale-after': durationFlag({
      description: 'Flag the view stale when the stream watermark is older than this',
      default: '10s',
      bare: 'ms',
      min: '1ms',
    }),
  };

  async run(): Promise<TickerView | undefined> {
    const { flags } = this;
    const symbols = flags.symbols
      ?.split(',')
      .map((s) => s.trim().toUpperCase())
      .filter((s) => s !== '');
    const { source, close } = await openTickerSource(this.appConfig, {
      symbols: symbols?.length ? symbols : undefined,
      user: flags.user,
    });
    const options = { staleAfterMs: flags['stale-after'] };
    try {
      // A single JSON document cannot stream, so --json takes one snapshot.
      if (flags.once || this.jsonEnabled()) {
        const view = await tickerOnce(source, options);
        for (const line of plainLines(view)) this.log(line);
        return view;
      }
      if (fullScreenEnabled()) {
        const { runTickerScreen } = await import('../ui/ticker/run.js');
        await runTickerScreen({ source, intervalMs: flags.interval, options, color: colorEnabled() });
        return undefined;
      }
      await this.untilStopped((signal) =>
        runPlainTicker({
          source,
          options,
          intervalMs: flags.interval,
          write: (line) => this.log(line),
          warn: (line) => process.stderr.write(`${line}\n`),
          signal,
        }),
      );
      return undefined;
    } finally {
      close();
    }
  }
}
