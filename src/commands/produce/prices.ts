import { Flags } from '@oclif/core';
import { formatProgress, formatSummary, parseSeed, parseStart, parseSymbols } from '../../app/produce/options.js';
import { PRICE_SOURCE_NAMES, type ProducePricesResult, runProducePrices } from '../../app/produce/prices.js';
import { BaseCommand } from '../../cli/base-command.js';
import { durationFlag } from '../../cli/flags.js';
import { CryptolambdaError } from '../../core/errors.js';

export default class ProducePrices extends BaseCommand<typeof ProducePrices> {
  static override summary = 'Produce price events to raw.prices from Binance, a CSV replay or the synthetic generator.';
  static override description =
    'Events are Avro PriceEvents keyed by symbol; malformed input goes to the dlq topic with the reason. ' +
    'Progress goes to stderr every second. SIGINT/SIGTERM stop the source, flush everything accepted and exit 0.';
  static override examples = [
    '<%= config.bin %> produce prices --source binance --symbols BTCUSDT,ETHUSDT --duration 10m',
    '<%= config.bin %> produce prices --source replay --file BTCUSDT-trades-2025-01-01.zip --speed 60',
    '<%= config.bin %> produce prices --source replay --file data/*-aggTrades-2025-01-*.zip --speed 0',
    '<%= config.bin %> produce prices --source synthetic --symbols BTCUSDT,ETHUSDT --seed 7 --rate 0 --count 100000 --json',
  ];
  static override flags = {
    source: Flags.string({ description: 'Where prices come from.', options: [...PRICE_SOURCE_NAMES], required: true }),
    symbols: Flags.string({ description: 'Comma-separated exchange symbols.', default: 'BTCUSDT,ETHUSDT,SOLUSDT' }),
    endpoint: Flags.string({ description: 'Binance WebSocket endpoint.', default: 'wss://stream.binance.com:9443' }),
    file: Flags.string({
      description:
        'Binance public-data archive (.zip, its .CHECKSUM verified) or CSV: trades, aggTrades, USD-M trades (repeatable; merged by event time).',
      multiple: true,
    }),
    speed: Flags.string({
      description: 'Replay pacing: 1 = original, N = N times faster, 0 = as fast as possible.',
      default: '1',
    }),
    rate: Flags.integer({
      description: 'Synthetic events per second over all symbols; 0 = as fast as possible [default: 10 per symbol].',
      min: 0,
    }),
    count: Flags.integer({ description: 'Stop after this many price events.', min: 1 }),
    duration: durationFlag({ description: 'Stop after this long', bare: 's', min: '1ms' }),
    seed: Flags.string({ description: 'Synthetic PRNG seed (non-negative integer).', default: '1' }),
    start: Flags.string({ description: 'Synthetic event time of the first tick, ISO 8601 [default: now].' }),
    step: durationFlag({
      description: 'Synthetic event-time step between ticks',
      default: '100ms',
      bare: 'ms',
      min: '1ms',
      aliases: ['step-ms'],
    }),
  };

  async run(): Promise<ProducePricesResult> {
    const f = this.flags;
    const symbols = parseSymbols(f.symbols);
    const speed = Number(f.speed);
    if (!Number.isFinite(speed) || speed < 0) this.error('--speed: expected a number >= 0', { exit: 2 });
    return this.untilStopped(async (signal) => {
      const r = await runProducePrices(this.appConfig, {
        source: f.source as (typeof PRICE_SOURCE_NAMES)[number],
        symbols,
        endpoint: f.endpoint,
        files: f.file ?? [],
        speed,
        rate: f.rate ?? 10 * symbols.length,
        seed: parseSeed(f.seed),
        startTime: f.start ? parseStart(f.start) : Date.now(),
        stepMs: f.step,
        ...(f.count === undefined ? {} : { count: f.count }),
        ...(f.duration === undefined ? {} : { durationMs: f.duration }),
        signal: signal,
        // Each failed connect is a line (with --debug or not): a feed that never comes says why.
        onLifecycle: (e) => {
          if (e.type === 'error') this.progress(`binance: connection ${e.connection}: ${e.message}`, { lifecycle: e });
          else if (e.type === 'reconnect-scheduled')
            this.progress(`binance: reconnecting in ${Math.round(e.delayMs)} ms (attempt ${e.attempt + 1})`, {
              lifecycle: e,
            });
          else if (e.type === 'open') this.progress(`binance: connected to ${e.url}`, { lifecycle: e });
        },
        // A terminal gets one line rewritten in place; pipes and logs get one plain line per second.
        onProgress: (p) => {
          this.logs.statusLine(formatProgress(p));
        },
      });
      this.logs.endStatus();
      for (const line of formatSummary(r)) this.log(line);
      // A run that produced nothing did nothing: say so with a non-zero exit (cron, scripts).
      if (r.nothingProduced !== undefined) {
        const top = r.rejections[0] ? `most frequent reason: ${r.rejections[0].reason}` : undefined;
        throw new CryptolambdaError(
          'NO_DATA',
          `produced nothing: ${r.nothingProduced.why}`,
          [top, r.nothingProduced.hint].filter(Boolean).join('; ') || 'check the input',
        );
      }
      return r;
    });
  }
}
