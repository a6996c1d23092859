import { CryptolambdaError } from '../errors.js';
import type { ArchiveKind, Market } from './binance-csv.js';

/**
 * Where data.binance.vision publishes an archive (https://github.com/binance/binance-public-data):
 *
 *   data/spot/daily/trades/BTCUSDT/BTCUSDT-trades-2025-01-01.zip
 *   data/spot/monthly/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2025-01.zip
 *   data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-01-01.zip
 *   data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2025-01-01.zip
 *
 * each with `<same>.CHECKSUM` beside it. Inputs are validated here, so nothing a user typed reaches
 * the URL unescaped.
 */
export interface ArchiveSpec {
  readonly market: Market;
  readonly kind: ArchiveKind;
  readonly symbol: string;
  /** YYYY-MM-DD (daily) or YYYY-MM (monthly). */
  readonly period: string;
  /** klines only, e.g. 1m. */
  readonly interval?: string;
}

export const DEFAULT_DATA_URL = 'https://data.binance.vision';
export const KLINE_INTERVALS = ['1s', '1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d'];

const bad = (msg: string, hint?: string): never => {
  throw new CryptolambdaError('INVALID_ARGUMENT', msg, hint);
};

export const validPeriod = (text: string, monthly: boolean): string => {
  const re = monthly ? /^\d{4}-(0[1-9]|1[0-2])$/ : /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
  if (!re.test(text) || (!monthly && new Date(`${text}T00:00:00Z`).toISOString().slice(0, 10) !== text)) {
    bad(
      `${monthly ? '--month' : '--date'}: ${JSON.stringify(text)} is not ${monthly ? 'YYYY-MM' : 'a YYYY-MM-DD date'}`,
    );
  }
  return text;
};

export const archiveUrls = (spec: ArchiveSpec, baseUrl: string = DEFAULT_DATA_URL) => {
  if (!/^[A-Z0-9]{2,20}$/.test(spec.symbol)) bad(`--symbol: ${JSON.stringify(spec.symbol)} is not an exchange symbol`);
  const monthly = spec.period.length === 7;
  validPeriod(spec.period, monthly);
  let stem: string;
  let dir: string;
  if (spec.kind === 'klines') {
    const iv = spec.interval ?? '1m';
    if (!KLINE_INTERVALS.includes(iv))
      bad(`--interval: ${JSON.stringify(iv)} is not one of ${KLINE_INTERVALS.join(', ')}`);
    stem = `${spec.symbol}-${iv}-${spec.period}`;
    dir = `klines/${spec.symbol}/${iv}`;
  } else {
    stem = `${spec.symbol}-${spec.kind}-${spec.period}`;
    dir = `${spec.kind}/${spec.symbol}`;
  }
  const market = spec.market === 'um' ? 'futures/um' : 'spot';
  const fileName = `${stem}.zip`;
  const url = `${baseUrl.replace(/\/+$/, '')}/data/${market}/${monthly ? 'monthly' : 'daily'}/${dir}/${fileName}`;
  return { fileName, url, checksumUrl: `${url}.CHECKSUM` };
};
