import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseChecksum, sha256File } from '../../adapters/files/binance-archive.js';
import { downloadWithResume, fetchText } from '../../adapters/http/download.js';
import { CryptolambdaError } from '../../core/errors.js';
import { type ArchiveSpec, archiveUrls, DEFAULT_DATA_URL } from '../../core/sources/binance-vision.js';

export interface FetchBinanceOptions extends ArchiveSpec {
  readonly dir: string;
  /** data.binance.vision unless overridden (tests serve fixtures from a local HTTP server). */
  readonly baseUrl?: string;
  readonly signal?: AbortSignal;
}

export interface FetchBinanceResult {
  readonly url: string;
  readonly file: string;
  readonly sha256: string;
  /** downloaded, resumed (a .part was continued), or present (already there and verified). */
  readonly action: 'downloaded' | 'resumed' | 'present';
  readonly bytes: number;
  readonly size: number;
}

/**
 * `fetch binance`: one archive and its .CHECKSUM into `dir`, resumable, verified. The .CHECKSUM is
 * saved beside the zip so `produce prices --source replay` verifies it again before reading.
 */
export const runFetchBinance = async (opts: FetchBinanceOptions): Promise<FetchBinanceResult> => {
  const { url, checksumUrl, fileName } = archiveUrls(opts, opts.baseUrl ?? DEFAULT_DATA_URL);
  await mkdir(opts.dir, { recursive: true });
  const dest = path.join(opts.dir, fileName);
  const sumText = await fetchText(checksumUrl, opts.signal);
  const want = parseChecksum(sumText);
  if (typeof want !== 'string') {
    throw new CryptolambdaError('INVALID_ARGUMENT', `${checksumUrl}: ${want.error}`);
  }
  const verify = async (file: string): Promise<void> => {
    const got = await sha256File(file);
    if (got !== want) {
      throw new CryptolambdaError(
        'INVALID_ARGUMENT',
        `${fileName}: downloaded sha256 ${got.slice(0, 12)}… does not match the published ${want.slice(0, 12)}…`,
        'the partial download was deleted: run the command again',
      );
    }
  };
  const existing = await stat(dest).catch(() => undefined);
  if (existing) {
    const ok = await verify(dest).then(
      () => true,
      () => false,
    );
    if (ok) {
      await writeFile(`${dest}.CHECKSUM`, sumText);
      return { url, file: dest, sha256: want, action: 'present', bytes: 0, size: existing.size };
    }
  }
  const r = await downloadWithResume(url, dest, verify, opts.signal);
  await writeFile(`${dest}.CHECKSUM`, sumText);
  const size = (await stat(dest)).size;
  return { url, file: dest, sha256: want, action: r.resumedFrom > 0 ? 'resumed' : 'downloaded', bytes: r.bytes, size };
};
