import { Flags } from '@oclif/core';
import { type FetchBinanceResult, runFetchBinance } from '../../app/fetch/binance.js';
import { BaseCommand } from '../../cli/base-command.js';
import { CryptolambdaError } from '../../core/errors.js';
import { DEFAULT_DATA_URL, KLINE_INTERVALS } from '../../core/sources/binance-vision.js';

export default class FetchBinance extends BaseCommand<typeof FetchBinance> {
  static override summary = 'Download one Binance public-data archive (data.binance.vision) with its .CHECKSUM.';
  static override description =
    'Builds the official URL, resumes a partial download (HTTP Range) and verifies the sha256 before the archive is kept. Replay it with `produce prices --source replay --file <zip>`.';
  static override examples = [
    '<%= config.bin %> fetch binance --symbol BTCUSDT --kind trades --date 2025-01-01 --dir data',
    '<%= config.bin %> fetch binance --symbol ETHUSDT --kind aggTrades --month 2024-12',
    '<%= config.bin %> fetch binance --symbol BTCUSDT --kind trades --market um --date 2025-01-01',
  ];
  static override flags = {
    symbol: Flags.string({ description: 'Exchange symbol, e.g. BTCUSDT.', required: true }),
    kind: Flags.string({ description: 'Archive kind.', options: ['trades', 'aggTrades', 'klines'], required: true }),
    date: Flags.string({ description: 'A daily archive: YYYY-MM-DD (UTC).', exactlyOne: ['date', 'month'] }),
    month: Flags.string({ description: 'A monthly archive: YYYY-MM.', exactlyOne: ['date', 'month'] }),
    interval: Flags.string({ description: 'Kline interval (klines only).', options: KLINE_INTERVALS, default: '1m' }),
    market: Flags.string({ description: 'spot or um (USD-M futures).', options: ['spot', 'um'], default: 'spot' }),
    dir: Flags.string({ description: 'Where to put the archive.', default: '.' }),
    'base-url': Flags.string({
      description: 'Archive server [env: CRYPTOLAMBDA_BINANCE_DATA_URL].',
      env: 'CRYPTOLAMBDA_BINANCE_DATA_URL',
      default: DEFAULT_DATA_URL,
    }),
  };

  async run(): Promise<FetchBinanceResult> {
    const f = this.flags;
    if (f.kind === 'klines' && f.market !== 'spot') {
      throw new CryptolambdaError('INVALID_ARGUMENT', '--kind klines: only spot klines are supported');
    }
    return this.untilStopped(async (signal) => {
      const r = await runFetchBinance({
        market: f.market as 'spot' | 'um',
        kind: f.kind as 'trades' | 'aggTrades' | 'klines',
        symbol: f.symbol.toUpperCase(),
        period: (f.date ?? f.month)!,
        ...(f.kind === 'klines' ? { interval: f.interval } : {}),
        dir: f.dir,
        baseUrl: f['base-url'],
        signal,
      });
      const mb = (r.size / 1e6).toFixed(1);
      this.log(`${r.action} ${r.file} (${mb} MB, sha256 ${r.sha256.slice(0, 12)}… verified)`);
      return r;
    });
  }
}
