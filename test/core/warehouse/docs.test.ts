import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GENERATED_BEGIN, GENERATED_END, hiveDdl, warehouseMarkdown } from '../../../src/core/warehouse/docs.js';
import { WAREHOUSE_TABLES } from '../../../src/core/warehouse/schema.js';

// docs/warehouse.md (generated section) and sql/hive_ddl.sql follow the contract in schema.ts.
// After changing the contract: UPDATE_DOCS=1 npx vitest run test/core/warehouse/docs.test.ts
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DOC = path.join(root, 'docs', 'warehouse.md');
const DDL = path.join(root, 'sql', 'hive_ddl.sql');
const update = process.env.UPDATE_DOCS === '1';

describe('warehouse docs are generated from the contract', () => {
  it('docs/warehouse.md documents every table and column', () => {
    const text = readFileSync(DOC, 'utf8');
    const start = text.indexOf(GENERATED_BEGIN);
    const end = text.indexOf(GENERATED_END) + GENERATED_END.length;
    expect(start).toBeGreaterThan(0);
    const next = `${text.slice(0, start)}${warehouseMarkdown()}${text.slice(end)}`;
    if (update) writeFileSync(DOC, next);
    expect(text).toBe(next);
    for (const t of WAREHOUSE_TABLES)
      for (const c of t.columns) expect(text).toContain(`| \`${c.name}\` | ${c.type} |`);
  });

  it('sql/hive_ddl.sql registers every table', () => {
    if (update) writeFileSync(DDL, `${hiveDdl()}\n`);
    const ddl = readFileSync(DDL, 'utf8');
    expect(ddl).toBe(`${hiveDdl()}\n`);
    for (const t of WAREHOUSE_TABLES)
      expect(ddl).toContain(`CREATE EXTERNAL TABLE IF NOT EXISTS cryptolambda.${t.name} (`);
    expect(ddl).toContain('  `quantity_held` DECIMAL(38,18),');
  });
});
