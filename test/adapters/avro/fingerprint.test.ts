import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  crc64Avro,
  fingerprintBytesLE,
  parsingCanonicalForm,
  schemaFingerprint,
} from '../../../src/adapters/avro/fingerprint.js';

/** A bit-at-a-time CRC-64-AVRO straight from the spec's definition (no table), to cross-check. */
const slowCrc = (bytes: Uint8Array): bigint => {
  const poly = 0xc15d213aa4d7a795n;
  let fp = poly;
  for (const b of bytes) {
    fp ^= BigInt(b);
    for (let i = 0; i < 8; i++) fp = fp & 1n ? (fp >> 1n) ^ poly : fp >> 1n;
  }
  return fp;
};

describe('CRC-64-AVRO', () => {
  // Values published with Apache Avro's test suites (lang/ruby test_fingerprints.rb, goavro,
  // share/test/data/schema-tests.txt: "null" -> 7195948357588979594 signed).
  it('matches the published fingerprints of primitive schemas', () => {
    expect(crc64Avro(Buffer.from('"int"'))).toBe(0x7275d51a3f395c8fn);
    expect(crc64Avro(Buffer.from('"string"'))).toBe(0x8f014872634503c7n);
    expect(BigInt.asIntN(64, crc64Avro(Buffer.from('"null"')))).toBe(7195948357588979594n);
    expect(schemaFingerprint({ type: 'int' })).toBe(8247732601305521295n);
  });

  it('writes the single-object header fingerprint little-endian', () => {
    expect([...fingerprintBytesLE(schemaFingerprint('int'))]).toEqual([0x8f, 0x5c, 0x39, 0x3f, 0x1a, 0xd5, 0x75, 0x72]);
  });

  it('agrees with a bit-at-a-time implementation on arbitrary bytes', () => {
    for (const text of ['', 'a', '{"type":"record","name":"x.Y","fields":[]}', 'ünïcødé ✓']) {
      const b = Buffer.from(text, 'utf8');
      expect(crc64Avro(b)).toBe(slowCrc(b));
    }
  });
});

describe('Parsing Canonical Form', () => {
  it('strips docs, defaults, logical types and namespaces, and orders attributes', () => {
    const schema = {
      doc: 'x',
      fields: [
        { doc: 'd', name: 'when', type: { logicalType: 'timestamp-millis', type: 'long' } },
        { name: 'ref', type: ['null', 'string'], default: null },
        { name: 'side', type: { type: 'enum', name: 'Side', symbols: ['BUY', 'SELL'] } },
        { name: 'again', type: 'Side' },
        { name: 'tags', type: { type: 'array', items: { type: 'string' } } },
        { name: 'h', type: { type: 'fixed', name: 'other.H', size: 16 } },
      ],
      name: 'Rec',
      namespace: 'io.x',
      type: 'record',
    };
    expect(parsingCanonicalForm(schema)).toBe(
      '{"name":"io.x.Rec","type":"record","fields":[{"name":"when","type":"long"},' +
        '{"name":"ref","type":["null","string"]},' +
        '{"name":"side","type":{"name":"io.x.Side","type":"enum","symbols":["BUY","SELL"]}},' +
        '{"name":"again","type":"io.x.Side"},' +
        '{"name":"tags","type":{"type":"array","items":"string"}},' +
        '{"name":"h","type":{"name":"other.H","type":"fixed","size":16}}]}',
    );
  });

  it('equals avsc’s canonical schema text for the project contracts', async () => {
    const { readFileSync } = await import('node:fs');
    for (const name of ['price', 'transaction', 'reward', 'dead-letter']) {
      const schema = JSON.parse(readFileSync(`schemas/${name}.avsc`, 'utf8'));
      expect(parsingCanonicalForm(schema)).toBe(JSON.stringify(avsc.Type.forSchema(schema).schema()));
    }
  });
});
