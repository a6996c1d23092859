/**
 * Avro schema fingerprints, per the Avro specification ("Schema Fingerprints" and "Parsing
 * Canonical Form for Schemas"). avsc has neither CRC-64-AVRO nor single-object encoding, so both
 * live here. Pure functions (no I/O); in adapters because only the Avro codec needs them.
 */

/** CRC-64-AVRO's EMPTY value, which is also its (reflected) polynomial. */
const EMPTY = 0xc15d213aa4d7a795n;
const MASK64 = 0xffffffffffffffffn;

const FP_TABLE: readonly bigint[] = (() => {
  const table: bigint[] = [];
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) {
      // Java: fp = (fp >>> 1) ^ (EMPTY & -(fp & 1L)); -(fp & 1) is all ones or zero.
      fp = (fp >> 1n) ^ (fp & 1n ? EMPTY : 0n);
    }
    table.push(fp);
  }
  return table;
})();

/** CRC-64-AVRO (Rabin) fingerprint of `bytes`, as an unsigned 64-bit bigint. */
export const crc64Avro = (bytes: Uint8Array): bigint => {
  let fp = EMPTY;
  for (const b of bytes) {
    fp = ((fp >> 8n) ^ FP_TABLE[Number((fp ^ BigInt(b)) & 0xffn)]!) & MASK64;
  }
  return fp;
};

/** The 8 bytes of a fingerprint in little-endian order, as single-object encoding writes them. */
export const fingerprintBytesLE = (fp: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(fp);
  return b;
};

export const fingerprintHex = (fp: bigint): string => fp.toString(16).padStart(16, '0');

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const fullName = (name: string, namespace: string | undefined): string =>
  name.includes('.') || !namespace ? name : `${namespace}.${name}`;

/**
 * Parsing Canonical Form of a schema given as parsed JSON: primitives as bare names, full names,
 * only the attributes that matter for parsing (type, name, fields, symbols, items, values, size)
 * in that order, later references to a named type by full name, no whitespace. Logical types,
 * docs, defaults, aliases and namespaces are stripped, so adding a `doc` never changes a
 * fingerprint.
 */
export const parsingCanonicalForm = (schema: unknown): string => {
  const defined = new Set<string>();
  const walk = (s: unknown, ns: string | undefined): string => {
    if (typeof s === 'string') {
      if (PRIMITIVES.has(s)) return JSON.stringify(s);
      return JSON.stringify(fullName(s, ns));
    }
    if (Array.isArray(s)) return `[${s.map((b) => walk(b, ns)).join(',')}]`;
    if (s === null || typeof s !== 'object') throw new Error(`invalid Avro schema node: ${JSON.stringify(s)}`);
    const o = s as Record<string, Json>;
    const type = o.type;
    if (typeof type !== 'string') return walk(type, ns); // {"type": {...}} or {"type": [...]}
    if (PRIMITIVES.has(type)) return JSON.stringify(type); // also strips logicalType
    if (type === 'record' || type === 'error' || type === 'enum' || type === 'fixed') {
      const own = typeof o.namespace === 'string' && o.namespace !== '' ? o.namespace : ns;
      const name = fullName(String(o.name), own);
      if (defined.has(name)) return JSON.stringify(name);
      defined.add(name);
      const innerNs = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : undefined;
      const parts = [`"name":${JSON.stringify(name)}`, `"type":${JSON.stringify(type === 'error' ? 'record' : type)}`];
      if (type === 'record' || type === 'error') {
        const fields = (o.fields as Record<string, Json>[]).map(
          (f) => `{"name":${JSON.stringify(f.name)},"type":${walk(f.type, innerNs)}}`,
        );
        parts.push(`"fields":[${fields.join(',')}]`);
      } else if (type === 'enum') {
        parts.push(`"symbols":${JSON.stringify(o.symbols)}`);
      } else {
        parts.push(`"size":${String(Number(o.size))}`);
      }
      return `{${parts.join(',')}}`;
    }
    if (type === 'array') return `{"type":"array","items":${walk(o.items, ns)}}`;
    if (type === 'map') return `{"type":"map","values":${walk(o.values, ns)}}`;
    // A reference to a named type written as {"type": "Name"}.
    return JSON.stringify(fullName(type, ns));
  };
  return walk(schema, undefined);
};

/** CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form. */
export const schemaFingerprint = (schema: unknown): bigint =>
  crc64Avro(Buffer.from(parsingCanonicalForm(schema), 'utf8'));
