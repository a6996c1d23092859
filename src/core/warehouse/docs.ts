import { RAW_ZONE_TABLES, type RawZoneTable, rawFileColumns } from './raw-zone.js';
import { FACT_RECONCILIATION, type TableDef, WAREHOUSE_TABLES } from './schema.js';

/**
 * docs/warehouse.md's table reference and sql/hive_ddl.sql, generated from the contract so they
 * cannot drift: test/core/warehouse/docs.test.ts fails when a file differs from what these return
 * (run it with UPDATE_DOCS=1 to rewrite the files).
 */
const cell = (s: string): string => s.replaceAll('|', '\\|');

const tableMarkdown = (t: TableDef): string[] => [
  `### ${t.name}`,
  '',
  `${t.doc} ${t.perDate ? `Per date: \`lake/warehouse/${t.name}/dt=YYYY-MM-DD/\`.` : `Rewritten whole by the newest build: \`lake/warehouse/${t.name}/\`.`} Key: ${t.key.map((k) => `\`${k}\``).join(', ')}.`,
  '',
  '| column | type | null | meaning |',
  '|---|---|---|---|',
  ...t.columns.map((c) => `| \`${c.name}\` | ${c.type} | ${c.nullable ? 'yes' : 'no'} | ${cell(c.doc)} |`),
  '',
];

const rawMarkdown = (t: RawZoneTable): string[] => [
  `### raw ${t.name}`,
  '',
  `${t.doc} \`lake/raw/${t.name}/dt=YYYY-MM-DD/\`, sorted by ${t.orderBy}.`,
  '',
  '| column | type |',
  '|---|---|',
  ...t.columns.map(([n, ty]) => `| \`${n}\` | ${ty} |`),
  ...t.timestamps.map(([n, from]) => `| \`${n}\` | TIMESTAMPTZ (\`${from}\` as a UTC timestamp, µs) |`),
  '',
];

export const GENERATED_BEGIN = '<!-- generated from src/core/warehouse/schema.ts: do not edit below -->';
export const GENERATED_END = '<!-- end of generated section -->';

export const warehouseMarkdown = (): string =>
  [
    GENERATED_BEGIN,
    '',
    '## Warehouse tables',
    '',
    ...[...WAREHOUSE_TABLES, FACT_RECONCILIATION].flatMap(tableMarkdown),
    '## Raw zone tables',
    '',
    ...RAW_ZONE_TABLES.flatMap(rawMarkdown),
    GENERATED_END,
  ].join('\n');

// biome-ignore lint/suspicious/noTemplateCurlyInString: a placeholder for the reader's lake location, not a JS template.
const LAKE = '${LAKE}';

const hiveType = (t: string): string => {
  if (t === 'VARCHAR') return 'STRING';
  // Parquet TIMESTAMP(MICROS, isAdjustedToUTC=true): Hive's and Spark's TIMESTAMP.
  if (t === 'TIMESTAMPTZ') return 'TIMESTAMP';
  if (t === 'INTEGER') return 'INT';
  return t.replace(/^DECIMAL\(38, ?(\d+)\)$/, 'DECIMAL(38,$1)');
};

const hiveTable = (
  name: string,
  cols: readonly (readonly [string, string])[],
  location: string,
  partitioned: boolean,
) =>
  [
    `CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.${name} (`,
    cols.map(([n, t]) => `  \`${n}\` ${hiveType(t)}`).join(',\n'),
    ')',
    ...(partitioned ? ['PARTITIONED BY (dt STRING)'] : []),
    'STORED AS PARQUET',
    `LOCATION '${LAKE}/${location}';`,
    ...(partitioned ? [`MSCK REPAIR TABLE cryptolambda.${name};`] : []),
    '',
  ].join('\n');

export const hiveDdl = (): string =>
  [
    '-- Generated from src/core/warehouse/schema.ts and raw-zone.ts (test/core/warehouse/docs.test.ts keeps it in sync).',
    `-- Registers the Parquet lake as external tables in Hive / Spark SQL. Replace ${LAKE} with the lake`,
    '-- directory as your engine sees it (e.g. s3a://bucket/lake or file:///data/lake), e.g.',
    `--   sed 's#${LAKE}#s3a://bucket/lake#g' sql/hive_ddl.sql | beeline -u jdbc:hive2://…`,
    '-- Per-date tables are partitioned by dt (the directory dt=YYYY-MM-DD); MSCK REPAIR picks up new',
    '-- dates after each batch. The engine reads whole directories, so query between batch runs: a',
    '-- rebuild replaces a date by publishing new files and then deleting the old ones.',
    '',
    'CREATE DATABASE IF NOT EXISTS cryptolambda;',
    '',
    ...[...WAREHOUSE_TABLES, FACT_RECONCILIATION].map((t) =>
      hiveTable(
        t.name,
        t.columns.map((c) => [c.name, c.type] as const),
        `warehouse/${t.name}`,
        t.perDate,
      ),
    ),
    ...RAW_ZONE_TABLES.map((t) => hiveTable(`raw_${t.name}`, rawFileColumns(t), `raw/${t.name}`, true)),
  ].join('\n');
