import { access } from 'node:fs/promises';
import path from 'node:path';
import { archiveLines, type ChecksumState, verifyChecksum } from '../../adapters/files/binance-archive.js';
import { CryptolambdaError } from '../../core/errors.js';
import {
  csvFileInfo,
  KLINES_REFUSED,
  paceDelayMs,
  parseBinanceCsvLine,
  type RowShape,
  rowShape,
  shapeLabel,
} from '../../core/sources/binance-csv.js';
import { mergeByKey } from '../../core/sources/merge.js';
import { type SourceItem, sleep } from './prices.js';

/** A replay input after its pre-flight: readable, symbol known, checksum verified when present. */
export interface ReplayFile {
  readonly file: string;
  readonly symbol: string;
  readonly checksum: ChecksumState;
}

const refuseKlines = (file: string): never => {
  throw new CryptolambdaError(
    'INVALID_ARGUMENT',
    `${path.basename(file)}: ${KLINES_REFUSED}`,
    'drop the klines files from --file',
  );
};

/**
 * Every file is checked before anything is produced: it exists, its symbol is known, it is not a
 * klines file, and a `.zip` matches its `.CHECKSUM`. A run that would fail half-way fails here.
 */
export const prepareReplay = async (files: readonly string[], symbols: readonly string[]): Promise<ReplayFile[]> => {
  if (files.length === 0) {
    throw new CryptolambdaError(
      'INVALID_ARGUMENT',
      'replay needs --file',
      'pass Binance public-data archives (.zip) or CSV files',
    );
  }
  const out: ReplayFile[] = [];
  for (const file of files) {
    await access(file).catch(() => {
      throw new CryptolambdaError('NOT_FOUND', `cannot read ${file}`, 'download it with `cryptolambda fetch binance`');
    });
    const info = csvFileInfo(file);
    if (info?.kind === 'klines') refuseKlines(file);
    let symbol = info?.symbol;
    if (!symbol) {
      if (symbols.length !== 1) {
        throw new CryptolambdaError(
          'INVALID_ARGUMENT',
          `cannot tell the symbol of ${file}`,
          'name it like Binance does (BTCUSDT-trades-2025-01-01.zip) or pass exactly one --symbols',
        );
      }
      symbol = symbols[0]!;
    }
    out.push({ file, symbol, checksum: await verifyChecksum(file) });
  }
  return out;
};

/**
 * One file's rows as source items. The layout comes from the header (USD-M files) or the first
 * data row and holds for the whole file; `layouts` remembers the layout per symbol so that two
 * archives describing the same fills (trades + aggTrades) or two markets (spot + USD-M) under one
 * symbol are refused instead of double-counted.
 */
async function* fileItems(f: ReplayFile, layouts: Map<string, RowShape>): AsyncGenerator<SourceItem> {
  const base = path.basename(f.file);
  const kind = csvFileInfo(f.file)?.kind;
  let shape: RowShape | undefined;
  const settle = (s: RowShape): void => {
    if (s.kind === 'klines') refuseKlines(f.file);
    const seen = layouts.get(f.symbol);
    if (seen && (seen.kind !== s.kind || seen.market !== s.market)) {
      throw new CryptolambdaError(
        'INVALID_ARGUMENT',
        `${base}: ${shapeLabel(s)} and ${shapeLabel(seen)} of ${f.symbol} in one replay`,
        seen.market !== s.market
          ? 'two markets would share one symbol’s candles: replay them separately'
          : 'they hold the same fills twice: replay one kind only',
      );
    }
    layouts.set(f.symbol, s);
    shape = s;
  };
  let lineNo = 0;
  for await (const line of archiveLines(f.file)) {
    lineNo++;
    const row = parseBinanceCsvLine(line, {
      symbol: f.symbol,
      ...(shape ? { shape } : {}),
      ...(kind ? { kind } : {}),
      firstLine: lineNo === 1,
    });
    if (row.kind === 'skip') {
      if (row.shape) settle(row.shape);
      continue;
    }
    if (!shape) {
      const s = rowShape(line.trim(), kind);
      if (s) settle(s);
    }
    if (row.kind === 'bad') yield { kind: 'reject', reason: row.reason, payload: line, key: `${base}:${lineNo}` };
    else yield { kind: 'event', event: row.event };
  }
}

/**
 * Prepared Binance files merged by event time (a k-way merge, one row ahead per file), paced by
 * event time / speed (0 = unpaced). Merging is what lets a glob over several symbols and days
 * replay as the market happened instead of one file after another, where later days would arrive
 * first and earlier ones too late for the speed layer's watermark.
 */
export async function* replaySource(
  files: readonly ReplayFile[],
  opts: { speed: number; signal: AbortSignal; now?: () => number },
): AsyncGenerator<SourceItem> {
  const now = opts.now ?? Date.now;
  const layouts = new Map<string, RowShape>();
  const merged = mergeByKey(
    files.map((f) => fileItems(f, layouts)),
    (item) => (item.kind === 'event' ? item.event.eventTime : undefined),
  );
  let first: number | undefined;
  let startedAt = 0;
  try {
    for await (const item of merged) {
      if (opts.signal.aborted) return;
      if (item.kind === 'event') {
        if (first === undefined) {
          first = item.event.eventTime;
          startedAt = now();
        }
        const wait = paceDelayMs(opts.speed, first, item.event.eventTime, startedAt, now());
        if (wait > 0) await sleep(wait, opts.signal);
        if (opts.signal.aborted) return;
      }
      yield item;
    }
  } finally {
    await merged.return(undefined);
  }
}
