import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { CryptolambdaError } from '../../core/errors.js';
import { readLines } from './lines.js';

/**
 * data.binance.vision archives as published: `X.zip` holding one `X.csv`, and `X.zip.CHECKSUM`
 * beside it with `sha256  X.zip` (sha256sum's format). The zip is read in-process with yauzl and
 * streamed line by line, so a multi-GB month never lands on disk or in memory.
 */
export type ChecksumState = 'verified' | 'absent' | 'not-an-archive';

export const sha256File = async (file: string): Promise<string> => {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
};

/** The hash from a `.CHECKSUM` text ("<64 hex>  <name>"), or a reason it is unusable. */
export const parseChecksum = (text: string): string | { readonly error: string } => {
  const m = /^([0-9a-fA-F]{64})\s+\*?(\S.*)?$/m.exec(text.trim());
  return m ? m[1]!.toLowerCase() : { error: 'expected "<sha256>  <file name>"' };
};

/**
 * Verify `file` against `file.CHECKSUM` when it exists; a mismatch (a truncated or altered
 * download) is refused before a single row is produced.
 */
export const verifyChecksum = async (file: string): Promise<ChecksumState> => {
  if (!file.endsWith('.zip')) return 'not-an-archive';
  let text: string;
  try {
    text = await readFile(`${file}.CHECKSUM`, 'utf8');
  } catch {
    return 'absent';
  }
  const want = parseChecksum(text);
  if (typeof want !== 'string') {
    throw new CryptolambdaError('INVALID_ARGUMENT', `${path.basename(file)}.CHECKSUM: ${want.error}`);
  }
  const got = await sha256File(file);
  if (got !== want) {
    throw new CryptolambdaError(
      'INVALID_ARGUMENT',
      `${path.basename(file)}: sha256 ${got.slice(0, 12)}… does not match its .CHECKSUM ${want.slice(0, 12)}…`,
      'the download is truncated or altered: fetch it again (`cryptolambda fetch binance …`)',
    );
  }
  return 'verified';
};

const linesOf = async function* (stream: Readable): AsyncGenerator<string> {
  const rl = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of rl) yield line;
  } finally {
    rl.close();
    stream.destroy();
  }
};

/** The CSV lines of a Binance archive (every .csv entry, in zip order) or of a plain CSV file. */
export async function* archiveLines(file: string): AsyncGenerator<string> {
  if (!file.endsWith('.zip')) {
    yield* readLines(file);
    return;
  }
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false });
  } catch (err) {
    throw new CryptolambdaError('INVALID_ARGUMENT', `${path.basename(file)}: not a readable zip archive`, undefined, {
      cause: err,
    });
  }
  try {
    let csv = 0;
    for await (const entry of zip.eachEntry()) {
      if (!entry.fileName.toLowerCase().endsWith('.csv')) continue;
      csv++;
      yield* linesOf(await zip.openReadStreamPromise(entry));
    }
    if (csv === 0)
      throw new CryptolambdaError('INVALID_ARGUMENT', `${path.basename(file)}: no .csv entry in the archive`);
  } finally {
    zip.close();
  }
}
