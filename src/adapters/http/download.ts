import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CryptolambdaError } from '../../core/errors.js';

/** Small text (a .CHECKSUM) over HTTP(S); a non-2xx answer is one clear error. */
export const fetchText = async (url: string, signal?: AbortSignal): Promise<string> => {
  const res = await get(url, {}, signal);
  if (!res.ok) throw httpError(url, res.status);
  return res.text();
};

const get = async (url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> => {
  try {
    return await fetch(url, { headers, ...(signal ? { signal } : {}) });
  } catch (err) {
    throw new CryptolambdaError('INTERNAL', `cannot reach ${new URL(url).origin}`, 'check the network or --base-url', {
      cause: err,
    });
  }
};

const httpError = (url: string, status: number): CryptolambdaError =>
  status === 404
    ? new CryptolambdaError(
        'NOT_FOUND',
        `${url} does not exist (HTTP 404)`,
        'Binance publishes a day after it ends; check symbol, kind and date',
      )
    : new CryptolambdaError('INTERNAL', `${url}: HTTP ${status}`);

export interface DownloadResult {
  /** Bytes fetched by this call (less than the file's size when an earlier download was resumed). */
  readonly bytes: number;
  readonly resumedFrom: number;
}

/**
 * Download `url` to `dest` through `dest.part`, resuming a partial `.part` with an HTTP Range
 * request (a server that ignores Range answers 200 and the file restarts from zero). The `.part` is
 * renamed only after `verify` accepts it, so `dest` is always complete; a failed verify deletes
 * the part, because resuming a corrupt prefix would never succeed.
 */
export const downloadWithResume = async (
  url: string,
  dest: string,
  verify: (file: string) => Promise<void>,
  signal?: AbortSignal,
): Promise<DownloadResult> => {
  const part = `${dest}.part`;
  const have = await stat(part).then(
    (s) => s.size,
    () => 0,
  );
  const res = await get(url, have > 0 ? { Range: `bytes=${have}-` } : {}, signal);
  let resumedFrom = 0;
  let bytes = 0;
  if (res.status === 416) {
    // The part already holds the whole file (interrupted between the last byte and the rename).
    await res.body?.cancel();
    resumedFrom = have;
  } else if (res.ok && res.body) {
    const append = res.status === 206 && have > 0;
    resumedFrom = append ? have : 0;
    const out = createWriteStream(part, { flags: append ? 'a' : 'w' });
    const body = Readable.fromWeb(res.body as never);
    body.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    await pipeline(body, out);
  } else {
    await res.body?.cancel();
    throw httpError(url, res.status);
  }
  try {
    await verify(part);
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  }
  await rename(part, dest);
  return { bytes, resumedFrom };
};
