import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFetchBinance } from '../../../src/app/fetch/binance.js';
import { prepareReplay } from '../../../src/app/produce/replay.js';
import { archiveUrls } from '../../../src/core/sources/binance-vision.js';
import { runCli } from '../../support/cli.js';

const FIX = 'fixtures/binance-archives';
const ZIP = readFileSync(`${FIX}/BTCUSDT-trades-2025-01-01.zip`);

/**
 * A stand-in for data.binance.vision on loopback: the official path layout, Range support, and
 * knobs to cut the first transfer short (an interrupted download) or to serve a corrupt body.
 */
let server: Server;
let base: string;
const requests: { path: string; range?: string }[] = [];
const knobs = { cutAfter: 0, corrupt: false };

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? '';
    requests.push({ path: url, ...(req.headers.range ? { range: req.headers.range } : {}) });
    const map: Record<string, string> = {
      '/data/spot/daily/trades/BTCUSDT/BTCUSDT-trades-2025-01-01.zip': 'BTCUSDT-trades-2025-01-01.zip',
      '/data/futures/um/daily/trades/BNBUSDT/BNBUSDT-trades-2025-01-01.zip': 'BNBUSDT-trades-2025-01-01.zip',
    };
    const sum = url.endsWith('.CHECKSUM');
    const name = map[sum ? url.slice(0, -'.CHECKSUM'.length) : url];
    if (!name) {
      res.writeHead(404).end();
      return;
    }
    if (sum) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(readFileSync(`${FIX}/${name}.CHECKSUM`));
      return;
    }
    let body = readFileSync(`${FIX}/${name}`);
    if (knobs.corrupt) body = Buffer.concat([body.subarray(0, 10), Buffer.from('X'), body.subarray(11)]);
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = m ? Number(m[1]) : 0;
    if (from >= body.length && m) {
      res.writeHead(416).end();
      return;
    }
    const slice = body.subarray(from);
    res.writeHead(m ? 206 : 200, {
      'content-length': String(slice.length),
      ...(m ? { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` } : {}),
    });
    if (knobs.cutAfter > 0) {
      // Send part of the body, then drop the connection: what a flaky network does mid-download.
      res.write(slice.subarray(0, knobs.cutAfter));
      knobs.cutAfter = 0;
      setTimeout(() => res.socket?.destroy(), 200);
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const spec = { market: 'spot', kind: 'trades', symbol: 'BTCUSDT', period: '2025-01-01' } as const;

describe('archive URLs', () => {
  it('builds the official data.binance.vision paths', () => {
    expect(archiveUrls(spec).url).toBe(
      'https://data.binance.vision/data/spot/daily/trades/BTCUSDT/BTCUSDT-trades-2025-01-01.zip',
    );
    expect(archiveUrls({ ...spec, kind: 'aggTrades', period: '2024-12' }).url).toBe(
      'https://data.binance.vision/data/spot/monthly/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2024-12.zip',
    );
    expect(archiveUrls({ ...spec, kind: 'klines', interval: '1h' }).checksumUrl).toBe(
      'https://data.binance.vision/data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2025-01-01.zip.CHECKSUM',
    );
    expect(archiveUrls({ ...spec, market: 'um' }).url).toBe(
      'https://data.binance.vision/data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2025-01-01.zip',
    );
  });

  it('validates what reaches the URL', () => {
    expect(() => archiveUrls({ ...spec, symbol: '../x' })).toThrow('--symbol: "../x" is not an exchange symbol');
    expect(() => archiveUrls({ ...spec, period: '2025-02-30' })).toThrow(
      '--date: "2025-02-30" is not a YYYY-MM-DD date',
    );
    expect(() => archiveUrls({ ...spec, period: '2025-13' })).toThrow('--month: "2025-13" is not YYYY-MM');
  });
});

describe('runFetchBinance against a local archive server', () => {
  it('downloads, verifies and keeps the .CHECKSUM so the replay verifies it again', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fetch-'));
    const r = await runFetchBinance({ ...spec, dir, baseUrl: base });
    expect(r).toMatchObject({ action: 'downloaded', bytes: ZIP.length, size: ZIP.length });
    expect(r.sha256).toBe(createHash('sha256').update(ZIP).digest('hex'));
    expect(readFileSync(r.file).equals(ZIP)).toBe(true);
    expect((await prepareReplay([r.file], []))[0]!.checksum).toBe('verified');
    const again = await runFetchBinance({ ...spec, dir, baseUrl: base });
    expect(again.action).toBe('present');
  });

  it('resumes an interrupted download with an HTTP Range request', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fetch-'));
    knobs.cutAfter = 100;
    await expect(runFetchBinance({ ...spec, dir, baseUrl: base })).rejects.toThrow();
    // What reached the disk before the connection dropped (all 100 bytes unless the machine is slow).
    const have = readFileSync(path.join(dir, 'BTCUSDT-trades-2025-01-01.zip.part')).length;
    expect(have).toBeGreaterThan(0);
    expect(have).toBeLessThanOrEqual(100);
    requests.length = 0;
    const r = await runFetchBinance({ ...spec, dir, baseUrl: base });
    expect(r).toMatchObject({ action: 'resumed', bytes: ZIP.length - have, size: ZIP.length });
    expect(requests.find((q) => q.path.endsWith('.zip'))?.range).toBe(`bytes=${have}-`);
    expect(readFileSync(r.file).equals(ZIP)).toBe(true);
    expect(existsSync(`${r.file}.part`)).toBe(false);
  });

  it('refuses a body that does not match the published checksum and deletes the part', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fetch-'));
    knobs.corrupt = true;
    try {
      await expect(runFetchBinance({ ...spec, dir, baseUrl: base })).rejects.toThrow(
        /BTCUSDT-trades-2025-01-01.zip: downloaded sha256 .* does not match the published 2f51fcf6e385…/,
      );
    } finally {
      knobs.corrupt = false;
    }
    expect(existsSync(path.join(dir, 'BTCUSDT-trades-2025-01-01.zip'))).toBe(false);
    expect(existsSync(path.join(dir, 'BTCUSDT-trades-2025-01-01.zip.part'))).toBe(false);
  });

  it('a missing archive is NOT_FOUND in one line; the CLI maps it to exit 5 and fetches USD-M', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fetch-'));
    await expect(runFetchBinance({ ...spec, period: '2025-01-02', dir, baseUrl: base })).rejects.toThrow(
      /BTCUSDT-trades-2025-01-02.zip.CHECKSUM does not exist \(HTTP 404\)/,
    );
    const missing = await runCli(
      ['fetch', 'binance', '--symbol', 'BTCUSDT', '--kind', 'trades', '--date', '2025-01-02', '--dir', dir],
      {
        CRYPTOLAMBDA_BINANCE_DATA_URL: base,
      },
    );
    expect(missing.code).toBe(5);
    const um = await runCli(
      [
        'fetch',
        'binance',
        '--symbol',
        'bnbusdt',
        '--kind',
        'trades',
        '--market',
        'um',
        '--date',
        '2025-01-01',
        '--dir',
        dir,
        '--json',
      ],
      { CRYPTOLAMBDA_BINANCE_DATA_URL: base },
    );
    expect(um.code).toBe(0);
    expect(JSON.parse(um.stdout)).toMatchObject({
      action: 'downloaded',
      file: path.join(dir, 'BNBUSDT-trades-2025-01-01.zip'),
    });
  });
});
