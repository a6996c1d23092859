import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import avsc from 'avsc';
import { fingerprintBytesLE, fingerprintHex, parsingCanonicalForm, schemaFingerprint } from './fingerprint.js';

/**
 * An in-repo schema registry keyed by fingerprint (no registry server is obtainable here, see
 * docs/contracts.md). Layout of a schema directory:
 *
 *   <dir>/<contract>.avsc               the current schema: what producers write, what readers read
 *   <dir>/versions/<contract>.vN.avsc   every published version, immutable once released
 *
 * Every version is a known writer schema; a message written with any of them is resolved
 * (avsc createResolver: defaults for added fields, skipping removed ones) to the current schema.
 */
export interface SchemaVersion {
  readonly contract: string;
  readonly version: number;
  /** Full name of the record, e.g. io.cryptolambda.events.PriceEvent. */
  readonly fullName: string;
  readonly type: avsc.Type;
  readonly canonical: string;
  readonly fingerprint: bigint;
  readonly fingerprintHex: string;
}

export interface Contract {
  readonly name: string;
  readonly current: SchemaVersion;
  /** Single-object header (C3 01 + fingerprint LE) of the current schema, prepended on write. */
  readonly header: Buffer;
  readonly versions: readonly SchemaVersion[];
}

interface WriterEntry {
  readonly version: SchemaVersion;
  readonly contract: Contract;
  /** Reads data written with `version` as the contract's current schema. */
  readonly resolver: avsc.Resolver | undefined;
}

export const SINGLE_OBJECT_MAGIC = Buffer.from([0xc3, 0x01]);
export const HEADER_LENGTH = 10;

const VERSION_RE = /^(.+)\.v(\d+)\.avsc$/;

const makeVersion = (contract: string, version: number, schema: unknown): SchemaVersion => {
  const type = avsc.Type.forSchema(schema as avsc.Schema);
  const fp = schemaFingerprint(schema);
  return {
    contract,
    version,
    fullName: type.name ?? contract,
    type,
    canonical: parsingCanonicalForm(schema),
    fingerprint: fp,
    fingerprintHex: fingerprintHex(fp),
  };
};

export class SchemaStore {
  private readonly contracts = new Map<string, Contract>();
  private readonly writers = new Map<bigint, WriterEntry>();

  /**
   * @param defs per contract, the current schema and the published versions (parsed JSON).
   * The current schema must equal (in canonical form) one of the versions, so what is written is
   * always a published version.
   */
  constructor(
    defs: readonly { name: string; current: unknown; versions: readonly { version: number; schema: unknown }[] }[],
  ) {
    for (const def of defs) {
      const versions = def.versions
        .map((v) => makeVersion(def.name, v.version, v.schema))
        .sort((a, b) => a.version - b.version);
      const canonical = parsingCanonicalForm(def.current);
      const published = versions.find((v) => v.canonical === canonical);
      if (!published) {
        throw new Error(`schema ${def.name}: the current schema is not one of its published versions`);
      }
      // Use the current file's type (it carries the docs); same canonical form as `published`.
      const current: SchemaVersion = { ...makeVersion(def.name, published.version, def.current) };
      const contract: Contract = {
        name: def.name,
        current,
        header: Buffer.concat([SINGLE_OBJECT_MAGIC, fingerprintBytesLE(current.fingerprint)]),
        versions,
      };
      this.contracts.set(def.name, contract);
      for (const v of versions) {
        const clash = this.writers.get(v.fingerprint);
        if (clash && clash.version.canonical !== v.canonical) {
          throw new Error(`fingerprint collision between ${clash.version.contract} and ${v.contract}`);
        }
        const resolver =
          v.fingerprint === current.fingerprint
            ? undefined
            : current.type.createResolver(v.type) /* throws if incompatible */;
        this.writers.set(v.fingerprint, { version: v, contract, resolver });
      }
    }
  }

  /** Load every contract of a schema directory (layout above). */
  static load(dir: string): SchemaStore {
    const currentFiles = readdirSync(dir).filter((f) => f.endsWith('.avsc'));
    const versionFiles = readdirSync(path.join(dir, 'versions')).filter((f) => VERSION_RE.test(f));
    const readJson = (p: string): unknown => JSON.parse(readFileSync(p, 'utf8'));
    return new SchemaStore(
      currentFiles.map((f) => {
        const name = f.slice(0, -'.avsc'.length);
        return {
          name,
          current: readJson(path.join(dir, f)),
          versions: versionFiles
            .map((vf) => VERSION_RE.exec(vf)!)
            .filter((m) => m[1] === name)
            .map((m) => ({ version: Number(m[2]), schema: readJson(path.join(dir, 'versions', m[0])) })),
        };
      }),
    );
  }

  contract(name: string): Contract {
    const c = this.contracts.get(name);
    if (!c) throw new Error(`unknown schema contract ${name}`);
    return c;
  }

  get contractNames(): string[] {
    return [...this.contracts.keys()];
  }

  /** Single-object encoding with the contract's current schema. Throws if `record` does not fit it. */
  encode(contractName: string, record: unknown): Buffer {
    const c = this.contract(contractName);
    return Buffer.concat([c.header, c.current.type.toBuffer(record)]);
  }

  /**
   * Decode a single-object-encoded message of contract `contractName` into a record of the
   * current schema, whichever published version wrote it. Expected failures are reasons, not throws.
   */
  decode(
    contractName: string,
    buf: Buffer,
  ): { ok: true; record: Record<string, unknown>; writerVersion: number } | { ok: false; reason: string } {
    const c = this.contract(contractName);
    if (buf.length < 2 || buf[0] !== 0xc3 || buf[1] !== 0x01) {
      return {
        ok: false,
        reason: `bad magic ${buf.subarray(0, 2).toString('hex') || '(empty)'}: expected c301 (Avro single-object encoding)`,
      };
    }
    if (buf.length < HEADER_LENGTH) {
      return {
        ok: false,
        reason: `truncated header: ${buf.length} bytes, single-object header needs ${HEADER_LENGTH}`,
      };
    }
    const fp = buf.readBigUInt64LE(2);
    const w = this.writers.get(fp);
    if (!w) return { ok: false, reason: `unknown schema fingerprint ${fingerprintHex(fp)}` };
    if (w.contract !== c) {
      return {
        ok: false,
        reason: `schema fingerprint ${fingerprintHex(fp)} is ${w.version.fullName} v${w.version.version}, expected a ${c.current.fullName}`,
      };
    }
    try {
      const record = c.current.type.fromBuffer(buf.subarray(HEADER_LENGTH), w.resolver) as Record<string, unknown>;
      return { ok: true, record, writerVersion: w.version.version };
    } catch (err) {
      return {
        ok: false,
        reason: `avro body of ${w.version.fullName} v${w.version.version} unreadable: ${(err as Error).message}`,
      };
    }
  }
}
