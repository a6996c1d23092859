/**
 * The synthetic days the batch and reconcile benches build (issue 16): `users` users whose events
 * are spread with a Zipf-like skew (user rank r gets ~1/r of the events) plus one heavy user holding
 * 10% of each day, in the Kafka partition the producer would pick (murmur2 of the user id over 12
 * partitions), as ingest writes them. Written straight into a raw zone (the same Parquet writer and
 * manifest `ingest` uses) instead of going through Kafka: producing and ingesting millions of Avro
 * records would measure the producer and ingest (bench/ingest.ts does that), not the batch.
 */
import path from 'node:path';
import { Duck } from '../src/adapters/duckdb/db.js';
import { commitManifest, type LakeFile, type Manifest, rawFilePath } from '../src/adapters/lake/manifest.js';
import { type Lineage, RAW_TABLES } from '../src/adapters/lake/raw-tables.js';
import { writeRawFile, writeRawLakeFile } from '../src/adapters/lake/raw-writer.js';
import type { PriceEvent, RewardEvent, TransactionEvent } from '../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../src/core/money/decimal.js';
import { partitionOf } from '../src/core/warehouse/shard.js';

export const PARTITIONS = 12;
export const HEAVY = 'u-heavy';
export const DAY0 = Date.UTC(2026, 0, 10);
const DAY_MS = 86_400_000;
const CHUNK = 250_000;
const ASSETS = ['BTC', 'ETH', 'SOL'];
const BASE: Record<string, bigint> = { BTC: 43_000n, ETH: 2_300n, SOL: 60n };

export const zipfDate = (day: number): string => new Date(DAY0 + day * DAY_MS).toISOString().slice(0, 10);

const lineage: Lineage = { topic: 'bench', partition: 0, offset: '0' };
const q = (units: bigint) => Decimal.fromUnits(units, QTY_SCALE);

/**
 * Write `days` days of `txs` user events each for `users` users into the raw zone of `lakeDir` and
 * commit its manifest. Deterministic: event i of a day belongs to the i-th Zipf draw.
 */
export const writeZipfDays = async (
  lakeDir: string,
  opts: { users: number; txs: number; days: number },
): Promise<{ files: number; rawMb: number; seconds: number }> => {
  const { users: USERS, txs: TXS, days: DAYS } = opts;
  const lineages = new Map<string, Lineage>();
  /** The partition the producer would have sent the user's events to. */
  const lineageOf = (userId: string): Lineage => {
    let l = lineages.get(userId);
    if (l === undefined) {
      l = { topic: 'raw.transactions', partition: partitionOf(userId, PARTITIONS), offset: '0' };
      lineages.set(userId, l);
    }
    return l;
  };
  /** Zipf-like: a uniform draw u maps to rank floor(USERS^u) - 1, so rank r has probability ~1/r. */
  const userOf = (i: number): string => {
    if (i % 10 === 0) return HEAVY;
    const u = ((i * 2654435761) % 4294967296) / 4294967296;
    return `u${String(Math.min(USERS - 1, Math.floor(USERS ** u) - 1)).padStart(7, '0')}`;
  };

  /** Deterministic: event i of a day belongs to userOf(i); its kind follows i (+ day). */
  const txOf = (day: number, i: number): TransactionEvent | RewardEvent => {
    const user = userOf(i);
    const round = Math.floor(i / 7);
    const kind = (round + day) % 5;
    // buy BTC, buy ETH, sell BTC, card spend in ETH, staking reward in SOL: few rejects, 3 positions a user.
    const asset = ASSETS[[0, 1, 0, 1, 2][kind]!]!;
    const t = DAY0 + day * DAY_MS + Math.floor((i / TXS) * (DAY_MS - 1));
    const price = Decimal.fromUnits(BASE[asset]! * 10_000n + BigInt((i * 7919) % 10_000), 4).rescale(PRICE_SCALE);
    const base = { eventId: `b${day}-${i}`, userId: user, asset, price, eventTime: t };
    if (kind === 4) return { kind: 'reward', rewardType: 'staking', quantity: q(10n ** 14n), ...base };
    return {
      kind: 'transaction',
      type: kind === 2 ? 'sell' : kind === 3 ? 'card_spend' : 'buy',
      quantity: q(kind === 0 || kind === 1 ? 10n ** 16n * BigInt(1 + (i % 9)) : 10n ** 15n),
      fee: Decimal.fromUnits(BigInt(i % 100) * 10n ** 10n, USD_SCALE),
      feeAsset: 'USD',
      ...base,
    };
  };

  const duck = await Duck.open(':memory:', { threads: 2 });
  const files: LakeFile[] = [];
  const t0 = performance.now();
  let commit = 1;
  for (let day = 0; day < DAYS; day++) {
    const dt = zipfDate(day);
    for (let from = 0; from < TXS; from += CHUNK) {
      const txs: { event: TransactionEvent; lineage: Lineage }[] = [];
      const rws: { event: RewardEvent; lineage: Lineage }[] = [];
      for (let i = from; i < Math.min(TXS, from + CHUNK); i++) {
        const e = txOf(day, i);
        if (e.kind === 'transaction') txs.push({ event: e, lineage: lineageOf(e.userId) });
        else rws.push({ event: e, lineage: lineageOf(e.userId) });
      }
      for (const [table, all] of [
        ['transactions', txs],
        ['rewards', rws],
      ] as const) {
        // One file per Kafka partition, indexed in the manifest, as ingest writes them.
        for (let partition = 0; partition < PARTITIONS; partition++) {
          const rows = (all as readonly { lineage: Lineage }[]).filter((r) => r.lineage.partition === partition);
          if (rows.length === 0) continue;
          const rel = rawFilePath(table, dt, commit, partition);
          files.push(
            await writeRawLakeFile(duck, RAW_TABLES[table] as never, rows as never, {
              rel,
              file: path.join(lakeDir, rel),
              dt,
              commit,
              partition,
            }),
          );
        }
      }
    }
    const prices: { event: PriceEvent; lineage: Lineage }[] = [];
    for (let i = 0; i < 86_400; i++) {
      const a = ASSETS[i % 3]!;
      prices.push({
        event: {
          kind: 'price',
          eventId: `bench:${a}USDT:${day}-${i}`,
          symbol: `${a}USDT`,
          price: Decimal.fromUnits(BASE[a]! * 10_000n + BigInt((i * 104_729 + day * 31) % 20_000) - 10_000n, 4).rescale(
            PRICE_SCALE,
          ),
          quantity: q(10n ** 17n),
          eventTime: DAY0 + day * DAY_MS + i * 1000,
          tradeId: String(i),
          source: 'synthetic',
        },
        lineage,
      });
    }
    const rel = path.join('raw', 'prices', `dt=${dt}`, `part-${commit}.parquet`);
    const { bytes } = await writeRawFile(duck, RAW_TABLES.prices, prices, path.join(lakeDir, rel));
    files.push({
      table: 'prices',
      dt,
      path: rel,
      rows: prices.length,
      bytes,
      commit,
      minEventTime: 0,
      maxEventTime: 0,
    });
    commit++;
  }
  duck.close();
  const parts = Object.fromEntries([...Array(PARTITIONS).keys()].map((p) => [String(p), '0']));
  const manifest: Manifest = {
    version: 1,
    commit,
    offsets: { 'raw.transactions': parts, 'raw.rewards': parts },
    files,
    updatedAt: new Date().toISOString(),
  };
  await commitManifest(lakeDir, manifest);
  const rawMb = files.reduce((n, f) => n + f.bytes, 0) / 1e6;
  return { files: files.length, rawMb, seconds: (performance.now() - t0) / 1000 };
};
