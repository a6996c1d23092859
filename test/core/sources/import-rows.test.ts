import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  csvHeader,
  detectFormat,
  type ImportRow,
  type ImportTable,
  parseCsvLine,
  parseJsonLine,
  splitCsv,
} from '../../../src/core/sources/import-rows.js';

const show = (r: ImportRow<ImportTable>): unknown =>
  r.kind === 'event'
    ? ['event', r.event.eventId, r.event.quantity.toString()]
    : r.kind === 'bad'
      ? ['bad', r.reason]
      : ['skip'];

describe('import rows (a platform export in the contract field names)', () => {
  it('validates every JSON line with the contract validator and gives the reason for bad ones', () => {
    const lines = readFileSync('fixtures/import/transactions.jsonl', 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => show(parseJsonLine('transactions', l)))).toEqual([
      ['event', 'exp:tx:1', '0.100000000000000000'],
      ['event', 'exp:tx:2', '0.050000000000000000'],
      ['event', 'exp:tx:3', '1.500000000000000000'],
      ['bad', 'quantity: expected a decimal string'],
      ['bad', 'not a JSON object'],
      ['event', 'exp:tx:5', '0.020000000000000000'],
      ['bad', 'type: expected one of buy, sell, deposit, withdrawal, stake, unstake, card_spend, got "teleport"'],
    ]);
    expect(show(parseJsonLine('transactions', '  '))).toEqual(['skip']);
    expect(show(parseJsonLine('transactions', '[1]'))).toEqual(['bad', 'not a JSON object']);
  });

  it('reads CSV by its header: quoted fields, an empty refEventId, epoch-ms times', () => {
    const [head, ...rows] = readFileSync('fixtures/import/rewards.csv', 'utf8').trimEnd().split('\n');
    const header = csvHeader('rewards', head!);
    expect(header).toEqual([
      'eventId',
      'userId',
      'rewardType',
      'asset',
      'quantity',
      'price',
      'eventTime',
      'refEventId',
    ]);
    const out = rows.map((l) => parseCsvLine('rewards', header as string[], l));
    expect(out.map(show)).toEqual([
      ['event', 'exp:rw:1', '0.002100000000000000'],
      ['event', 'exp:rw:2', '0.000010000000000000'],
      ['bad', 'eventTime: expected integer epoch milliseconds'],
      ['bad', 'asset: rewards are credited in a crypto asset, not USD'],
    ]);
    expect(out[1]!.kind === 'event' && out[1]!.event).toMatchObject({
      refEventId: 'exp:tx:3',
      eventTime: 1768050100000,
    });
    expect(out[0]!.kind === 'event' && 'refEventId' in out[0]!.event).toBe(false);
  });

  it('refuses a header that does not name the contract fields', () => {
    expect(csvHeader('rewards', 'eventId,userId,kind')).toBe(
      'header: unknown field "kind" (expected eventId,userId,rewardType,asset,quantity,price,eventTime,refEventId)',
    );
    expect(csvHeader('transactions', 'eventId,userId,type,asset,quantity,price,fee,eventTime')).toBe(
      'header: missing field feeAsset',
    );
  });

  it('splits RFC 4180 CSV and detects the format', () => {
    expect(splitCsv('a,"b,c","d ""q""",e\r')).toEqual(['a', 'b,c', 'd "q"', 'e']);
    expect(splitCsv('"open')).toBe('unterminated quoted field');
    expect(detectFormat('x.csv', '{')).toBe('csv');
    expect(detectFormat('x.ndjson', 'a,b')).toBe('jsonl');
    expect(detectFormat('export.txt', ' {"a":1}')).toBe('jsonl');
    expect(detectFormat('export.txt', 'eventId,userId')).toBe('csv');
  });
});
