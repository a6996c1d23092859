import path from 'node:path';
import { z } from 'zod';
import { CryptolambdaError } from '../../core/errors.js';

/**
 * Zod contracts of the lake's two commit files (raw/_manifest.json, warehouse/_builds.json). They
 * are read at the boundary like any input: a hand-edited or corrupted file must never make `batch`
 * open, or `ingest --compact` / a rebuild delete, a file outside the lake. Every listed path is a
 * relative `.parquet` path that resolves inside the zone it belongs to (raw/ or warehouse/).
 */
const lakeFilePath = (zone: 'raw' | 'warehouse') =>
  z
    .string()
    .min(1)
    .refine(
      (p) => !path.isAbsolute(p) && p.endsWith('.parquet') && !p.includes('\0'),
      'must be a relative .parquet path',
    )
    .refine((p) => {
      const root = path.resolve('/lake', zone);
      const abs = path.resolve('/lake', p);
      return abs.startsWith(`${root}${path.sep}`);
    }, `must resolve inside the lake's ${zone}/ directory`);

const offset = z.string().regex(/^\d{1,20}$/, 'expected a Kafka offset');
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD');
const count = z.number().int().nonnegative();

export const LakeFileSchema = z
  .object({
    table: z.string().regex(/^[a-z0-9_]{1,64}$/),
    dt: date,
    path: lakeFilePath('raw'),
    rows: count,
    bytes: count,
    commit: count,
    minEventTime: z.number().int(),
    maxEventTime: z.number().int(),
    partition: count.optional(),
    hwm: z.literal(true).optional(),
  })
  // A file indexed by partition is what a shard opens without looking inside: its place and name
  // must say the same as its index (raw/<table>/dt=<dt>/part-<commit>-p<partition>-….parquet), so
  // an edited manifest cannot hand one shard another shard's rows.
  .refine(
    (f) =>
      f.partition === undefined ||
      (path.posix.dirname(f.path.split(path.sep).join('/')) === `raw/${f.table}/dt=${f.dt}` &&
        new RegExp(`^part-\\d+-p${f.partition}-[^/]*\\.parquet$`).test(path.basename(f.path))),
    {
      message: 'a file indexed by partition must be raw/<table>/dt=<dt>/part-<commit>-p<partition>-….parquet',
      path: ['path'],
    },
  );

export const OffsetGapSchema = z.object({
  topic: z.string().min(1).max(249),
  partition: count,
  from: offset,
  to: offset,
  lost: count,
  at: z.string(),
});

export const ManifestSchema = z.object({
  version: z.literal(1),
  commit: count,
  offsets: z.record(z.string(), z.record(z.string().regex(/^\d+$/), offset)),
  files: z.array(LakeFileSchema),
  updatedAt: z.string(),
  late: z.record(date, count).optional(),
  gaps: z.array(OffsetGapSchema).optional(),
  recreated: z
    .array(
      z.object({
        topic: z.string(),
        partitions: count,
        previousPartitions: count,
        previousOffsets: z.record(z.string().regex(/^\d+$/), offset),
        commit: count,
        at: z.string(),
      }),
    )
    .optional(),
  hwm: z.record(z.string(), z.record(z.string().regex(/^\d+$/), z.string().regex(/^-?\d{1,16}$/))).optional(),
});

const WarehouseFileSchema = z.object({
  table: z.string().regex(/^[a-z0-9_]{1,64}$/),
  date: z.string(),
  path: lakeFilePath('warehouse'),
  rows: count,
  bytes: count,
  users: z
    .object({ of: z.number().int().positive(), partitions: z.array(count) })
    .refine((u) => u.partitions.every((p) => p < u.of), 'a partition must be below the partition count (of)')
    .optional(),
});

export const LedgerSchema = z.object({
  version: z.literal(1),
  builds: z.record(
    date,
    z.object({
      date,
      rawCommit: count,
      builtAt: z.string(),
      files: z.array(WarehouseFileSchema),
      stats: z.record(z.string(), z.number()),
    }),
  ),
  dims: z.record(z.string(), WarehouseFileSchema),
});

/** Parse a commit file or fail with one line naming the file and the first bad field. */
export const parseLakeFile = <T>(schema: z.ZodType<T>, file: string, text: string): T => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CryptolambdaError('INVALID_CONFIG', `${file}: not valid JSON`, 'restore it from a backup', {
      cause: err,
    });
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new CryptolambdaError(
      'INVALID_CONFIG',
      `${file}: ${issue.path.join('.') || '(root)'} ${issue.message}`,
      'the lake commit file is corrupted or was edited by hand: nothing outside the lake is read or deleted; restore it from a backup',
    );
  }
  return r.data;
};
