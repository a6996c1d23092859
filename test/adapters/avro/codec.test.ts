import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  codec,
  DEAD_LETTER_MAX_PAYLOAD,
  DEAD_LETTER_PREFIX,
  decodeDeadLetter,
  decodeRecord,
  encodeDeadLetter,
  encodePrice,
  encodeReward,
  encodeTransaction,
  loadCodec,
} from '../../../src/adapters/avro/codec.js';
import { fingerprintBytesLE, schemaFingerprint } from '../../../src/adapters/avro/fingerprint.js';
import { SchemaStore } from '../../../src/adapters/avro/schema-store.js';
import type { Decoder } from '../../../src/app/ingest.js';
import type { PriceEvent, RewardEvent, TransactionEvent } from '../../../src/core/events/types.js';
import { price, qty, usd } from '../../../src/core/money/decimal.js';

const P: PriceEvent = {
  kind: 'price',
  eventId: 'binance:BTCUSDT:42',
  symbol: 'BTCUSDT',
  price: price('64123.45'),
  quantity: qty('0.00123'),
  eventTime: Date.UTC(2024, 5, 1, 12),
  tradeId: '42',
  source: 'binance',
};
const T: TransactionEvent = {
  kind: 'transaction',
  eventId: 'tx-1',
  userId: 'u1',
  type: 'buy',
  asset: 'BTC',
  quantity: qty('0.5'),
  price: price('60000'),
  fee: usd('1.25'),
  feeAsset: 'USD',
  eventTime: Date.UTC(2024, 5, 1),
};
const R: RewardEvent = {
  kind: 'reward',
  eventId: 'rw-1',
  userId: 'u1',
  rewardType: 'cashback',
  asset: 'BTC',
  quantity: qty('0.0001'),
  price: price('60000'),
  eventTime: Date.UTC(2024, 5, 1),
  refEventId: 'tx-0',
};

const plain = (e: object): unknown => JSON.parse(JSON.stringify(e));

describe('codec (schemas/)', () => {
  it('round-trips every event type exactly, with the single-object header', () => {
    const b = encodePrice(P);
    expect([...b.subarray(0, 2)]).toEqual([0xc3, 0x01]);
    const fp = schemaFingerprint(JSON.parse(readFileSync('schemas/price.avsc', 'utf8')));
    expect(b.subarray(2, 10).equals(fingerprintBytesLE(fp))).toBe(true);
    const p = decodeRecord('prices', b);
    expect(p.ok && plain(p.event)).toEqual(plain(P));
    expect(p.ok && p.event.price.toString()).toBe('64123.450000000000');
    const t = decodeRecord('transactions', encodeTransaction(T));
    expect(t.ok && plain(t.event)).toEqual(plain(T));
    const r = decodeRecord('rewards', encodeReward(R));
    expect(r.ok && plain(r.event)).toEqual(plain(R));
    const { refEventId: _, ...noRef } = R;
    const r2 = decodeRecord('rewards', encodeReward(noRef));
    expect(r2.ok && plain(r2.event)).toEqual(plain(noRef));
  });

  it('plugs into runIngest as its decoder', () => {
    const decode: Decoder = decodeRecord;
    const d = decode('prices', encodePrice(P));
    expect(d.ok && d.event.kind).toBe('price');
  });

  it('keeps decimals as canonical fixed-scale strings in the body', () => {
    const body = encodePrice(P).subarray(10);
    const type = avsc.Type.forSchema(JSON.parse(readFileSync('schemas/price.avsc', 'utf8')));
    expect(type.fromBuffer(body)).toMatchObject({ price: '64123.450000000000', quantity: '0.001230000000000000' });
  });

  it('rejects bad input with a reason', () => {
    const good = encodePrice(P);
    expect(decodeRecord('prices', Buffer.alloc(0))).toEqual({
      ok: false,
      reason: 'bad magic (empty): expected c301 (Avro single-object encoding)',
    });
    expect(decodeRecord('prices', Buffer.from('{"price":1}'))).toMatchObject({ ok: false, reason: /^bad magic 7b22/ });
    expect(decodeRecord('prices', good.subarray(0, 6))).toEqual({
      ok: false,
      reason: 'truncated header: 6 bytes, single-object header needs 10',
    });
    const body = decodeRecord('prices', good.subarray(0, good.length - 3));
    expect(body).toMatchObject({
      ok: false,
      reason: /^avro body of io\.cryptolambda\.events\.PriceEvent v1 unreadable/,
    });
    const unknown = Buffer.from(good);
    unknown.writeBigUInt64LE(0x0123456789abcdefn, 2);
    expect(decodeRecord('prices', unknown)).toEqual({
      ok: false,
      reason: 'unknown schema fingerprint 0123456789abcdef',
    });
    expect(decodeRecord('transactions', good)).toMatchObject({
      ok: false,
      reason: /is io\.cryptolambda\.events\.PriceEvent v1, expected a io\.cryptolambda\.events\.TransactionEvent$/,
    });
    // Decodes as Avro but fails core validation.
    const bad = codec().store.encode('price', { ...(plain(P) as object), kind: undefined, price: '-1' });
    expect(decodeRecord('prices', bad)).toEqual({ ok: false, reason: 'price: must be > 0, got -1' });
  });

  it('encodes and decodes dead letters', () => {
    const d = { source: 'binance', reason: 'not JSON', payload: Buffer.from('{oops'), receivedAt: 1_700_000_000_000 };
    const sha = createHash('sha256').update('{oops').digest('hex');
    expect(decodeDeadLetter(encodeDeadLetter(d))).toEqual({
      ok: true,
      event: { ...d, payloadSize: 5, payloadSha256: sha },
    });
    const k = decodeDeadLetter(encodeDeadLetter({ ...d, key: 'btcusdt@trade' }));
    expect(k.ok && k.event.key).toBe('btcusdt@trade');
  });

  it('a payload too large to dead-letter whole becomes a bounded envelope: prefix, size, SHA-256, reason', () => {
    // A record at the broker's limit (the poison pill of issue 15): its whole envelope would not fit.
    const payload = Buffer.alloc(1_048_400, 0x61);
    payload.write('HEAD', 0);
    const buf = encodeDeadLetter({
      source: 'ingest:raw.prices',
      reason: `not Avro: ${'x'.repeat(100_000)}`,
      payload,
      receivedAt: 1_700_000_000_000,
      key: 'raw.prices[3]@9001',
    });
    expect(buf.length).toBeLessThan(DEAD_LETTER_PREFIX + 8 * 1024);
    const d = decodeDeadLetter(buf);
    if (!d.ok) throw new Error(d.reason);
    expect(d.event.payloadTruncated).toBe(true);
    expect(d.event.payloadSize).toBe(1_048_400);
    expect(d.event.payloadSha256).toBe(createHash('sha256').update(payload).digest('hex'));
    expect(d.event.payload.equals(payload.subarray(0, DEAD_LETTER_PREFIX))).toBe(true);
    expect(d.event.key).toBe('raw.prices[3]@9001');
    expect(d.event.reason).toMatch(/^not Avro: x+… \(100010 chars\)$/);
    // Under the bound the payload is kept whole.
    const whole = Buffer.alloc(DEAD_LETTER_MAX_PAYLOAD, 0x62);
    const w = decodeDeadLetter(encodeDeadLetter({ source: 's', reason: 'r', payload: whole, receivedAt: 1 }));
    expect(w.ok && w.event.payload.equals(whole) && w.event.payloadTruncated === undefined).toBe(true);
  });

  it('reads version-1 dead letters (no size or digest) with the version-2 reader', () => {
    const v1 = codec()
      .store.contract('dead-letter')
      .versions.find((v) => v.version === 1)!;
    const body = v1.type.toBuffer({
      source: 'binance',
      reason: 'r',
      payload: Buffer.from('x'),
      receivedAt: 5,
      key: null,
    });
    const buf = Buffer.concat([Buffer.from([0xc3, 0x01]), fingerprintBytesLE(v1.fingerprint), body]);
    expect(decodeDeadLetter(buf)).toEqual({
      ok: true,
      event: { source: 'binance', reason: 'r', payload: Buffer.from('x'), receivedAt: 5 },
    });
  });

  it('pins the published fingerprints (a published version is immutable; docs/contracts.md)', () => {
    const store = codec().store;
    const pinned = Object.fromEntries(
      store.contractNames.flatMap((n) =>
        store.contract(n).versions.map((v) => [`${n}.v${v.version}`, v.fingerprintHex]),
      ),
    );
    expect(pinned).toEqual({
      'price.v1': '3e0de4c0437c4d07',
      'transaction.v1': '7ebe2ddeaace8d4f',
      'reward.v1': 'accf32c555c570a3',
      'dead-letter.v1': 'e9662e47bc95fe76',
      'dead-letter.v2': 'de259289c5f8c565',
    });
  });

  it('keeps each current schema equal to its latest published version', () => {
    const store = codec().store;
    expect(store.contractNames.sort()).toEqual(['dead-letter', 'price', 'reward', 'transaction']);
    for (const name of store.contractNames) {
      const c = store.contract(name);
      expect(c.current.fingerprint).toBe(c.versions[c.versions.length - 1]!.fingerprint);
    }
  });
});

describe('schema evolution (fixtures/avro-evolution: price v2 adds optional venue)', () => {
  const evolved = loadCodec('fixtures/avro-evolution');
  const v1 = avsc.Type.forSchema(JSON.parse(readFileSync('fixtures/avro-evolution/versions/price.v1.avsc', 'utf8')));
  const record = {
    eventId: P.eventId,
    symbol: P.symbol,
    price: P.price.toString(),
    quantity: P.quantity.toString(),
    eventTime: P.eventTime,
    tradeId: P.tradeId,
    source: P.source,
  };

  it('decodes v1 messages (written by the old producer) and v2 messages with the v2 reader', () => {
    // What a v1 producer wrote: the production schemas/ codec is still at v1.
    const oldMsg = encodePrice(P);
    const newMsg = evolved.store.encode('price', { ...record, venue: 'spot' });
    expect(evolved.store.contract('price').current.version).toBe(2);
    expect(newMsg.subarray(2, 10).equals(oldMsg.subarray(2, 10))).toBe(false);

    const a = evolved.store.decode('price', oldMsg);
    expect(a).toMatchObject({ ok: true, writerVersion: 1, record: { ...record, venue: null } });
    const b = evolved.store.decode('price', newMsg);
    expect(b).toMatchObject({ ok: true, writerVersion: 2, record: { ...record, venue: 'spot' } });

    for (const msg of [oldMsg, newMsg]) {
      const e = evolved.decodeRecord('prices', msg);
      expect(e.ok && plain(e.event)).toEqual(plain(P));
    }
    // Built from the v1 writer type directly, independent of the codec's encoder.
    const manual = Buffer.concat([oldMsg.subarray(0, 10), v1.toBuffer(record)]);
    expect(evolved.store.decode('price', manual)).toMatchObject({ ok: true, writerVersion: 1 });
  });

  it('rejects a fingerprint that is in no published version', () => {
    const v3 = { ...JSON.parse(readFileSync('fixtures/avro-evolution/price.avsc', 'utf8')) };
    v3.fields = [...v3.fields, { name: 'extra', type: 'int', default: 0 }];
    const fp = schemaFingerprint(v3);
    const msg = Buffer.concat([
      Buffer.from([0xc3, 0x01]),
      fingerprintBytesLE(fp),
      avsc.Type.forSchema(v3).toBuffer({ ...record, venue: null, extra: 7 }),
    ]);
    expect(evolved.decodeRecord('prices', msg)).toEqual({
      ok: false,
      reason: `unknown schema fingerprint ${fp.toString(16).padStart(16, '0')}`,
    });
  });

  it('refuses to load a directory whose current schema is not a published version', () => {
    expect(
      () =>
        new SchemaStore([
          {
            name: 'price',
            current: { type: 'record', name: 'X', fields: [] },
            versions: [{ version: 1, schema: 'int' }],
          },
        ]),
    ).toThrow(/not one of its published versions/);
  });
});
