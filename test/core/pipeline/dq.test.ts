import { describe, expect, it } from 'vitest';
import {
  compileCheck,
  type DqCheck,
  DqViolationError,
  defaultChecks,
  validateCheck,
  WAREHOUSE_SCHEMA,
} from '../../../src/core/pipeline/dq.js';

const DATE = '2024-03-01';

describe('compileCheck', () => {
  it('binds the date and thresholds; only declared identifiers appear, quoted', () => {
    const c: DqCheck = {
      id: 'rc',
      kind: 'row_count_vs_previous',
      table: 'fact_portfolio_daily',
      dateColumn: 'date',
      columns: [],
      minRatio: 0.9,
      maxRatio: 1.5,
    };
    const q = compileCheck(c, DATE, { sampleSize: 7 });
    expect(q.params).toEqual([DATE, 0.9, 1.5, 7]);
    expect(q.sql).not.toContain(DATE);
    expect(q.sql).not.toContain('0.9');
    expect(q.sql).toContain('"fact_portfolio_daily"');
    expect(q.sql).toContain('CAST($1 AS DATE)');
    expect(q.sql).toMatch(/LIMIT CAST\(\$4 AS BIGINT\)$/);
  });

  it('compiles not_null to the violating rows of the date, with a total count', () => {
    const q = compileCheck({ id: 'nn', kind: 'not_null', table: 't', dateColumn: 'd', columns: ['a', 'b'] }, DATE);
    expect(q.sql).toBe(
      'WITH violations AS (SELECT * FROM "t" WHERE "d" = CAST($1 AS DATE) AND ("a" IS NULL OR "b" IS NULL)) ' +
        'SELECT (SELECT count(*) FROM violations) AS violation_count, v.* FROM violations AS v ' +
        'ORDER BY v."a" NULLS FIRST, v."b" NULLS FIRST LIMIT CAST($2 AS BIGINT)',
    );
    expect(q.params).toEqual([DATE, 5]);
  });

  it('still takes the date as $1 for an undated (dimension) table', () => {
    const q = compileCheck({ id: 'u', kind: 'unique', table: 'dim_user', columns: ['user_id'] }, DATE);
    expect(q.sql).toContain('CAST($1 AS DATE) IS NOT NULL');
    expect(q.params[0]).toBe(DATE);
  });

  it('uses the injected quoting function', () => {
    const q = compileCheck({ id: 'n', kind: 'non_negative', table: 't', columns: ['x'] }, DATE, {
      quote: (n) => `[${n}]`,
    });
    expect(q.sql).toContain('FROM [t]');
    expect(q.sql).toContain('[x] < 0');
  });

  it('binds freshness as seconds', () => {
    const q = compileCheck({ id: 'f', kind: 'freshness', table: 't', columns: ['ts'], maxAgeHours: 1.5 }, DATE);
    expect(q.params).toEqual([DATE, 5400, 5]);
  });
});

describe('validateCheck', () => {
  it.each<[Partial<DqCheck>, RegExp]>([
    [{ table: 't; DROP TABLE x' }, /is not a plain identifier/],
    [{ columns: ['a"b'] }, /is not a plain identifier/],
    [{ id: 'has space' }, /id must be/],
    [{ columns: [] }, /needs at least one column/],
    [{ kind: 'referential' }, /referential needs ref/],
    [{ kind: 'referential', ref: { table: 'p', columns: ['a', 'b'] } }, /as many ref.columns/],
    [{ kind: 'row_count_vs_previous', dateColumn: undefined }, /needs dateColumn/],
    [{ kind: 'row_count_vs_previous', dateColumn: 'd' }, /needs minRatio/],
    [{ kind: 'freshness', maxAgeHours: undefined }, /needs maxAgeHours/],
    [{ kind: 'bogus' as DqCheck['kind'] }, /unknown kind/],
  ])('rejects %j', (patch, reason) => {
    const base: DqCheck = { id: 'c', kind: 'not_null', table: 't', columns: ['a'] };
    expect(() => validateCheck({ ...base, ...patch })).toThrow(reason);
  });

  it('rejects a malformed date at compile time', () => {
    expect(() => compileCheck({ id: 'c', kind: 'not_null', table: 't', columns: ['a'] }, "1' OR 1=1")).toThrow(
      /invalid date/,
    );
  });
});

describe('defaultChecks', () => {
  it('are all valid, uniquely named, and use only the schema constant', () => {
    const checks = defaultChecks();
    for (const c of checks) validateCheck(c);
    expect(new Set(checks.map((c) => c.id)).size).toBe(checks.length);
    const tables = new Set<string>(Object.values(WAREHOUSE_SCHEMA).map((t) => t.table));
    for (const c of checks) expect(tables.has(c.table)).toBe(true);
    expect(new Set(checks.map((c) => c.kind))).toEqual(
      new Set(['not_null', 'unique', 'non_negative', 'referential', 'row_count_vs_previous', 'freshness']),
    );
  });

  it('follow a renamed schema', () => {
    const renamed = { ...WAREHOUSE_SCHEMA, dimUser: { table: 'users', key: 'id' } };
    const ref = defaultChecks(renamed).find((c) => c.kind === 'referential' && c.ref?.table === 'users');
    expect(ref?.ref).toEqual({ table: 'users', columns: ['id'] });
  });
});

describe('DqViolationError', () => {
  it('names failed error-severity checks only and is not retriable', () => {
    const e = new DqViolationError({
      date: DATE,
      passed: false,
      results: [
        { id: 'a', kind: 'unique', table: 't', severity: 'error', passed: false, violationCount: 3, sample: [] },
        { id: 'b', kind: 'unique', table: 't', severity: 'warn', passed: false, violationCount: 1, sample: [] },
        {
          id: 'c',
          kind: 'unique',
          table: 't',
          severity: 'error',
          passed: false,
          violationCount: 0,
          sample: [],
          error: 'no table',
        },
      ],
    });
    expect(e.message).toBe(`data-quality checks failed for ${DATE}: a: 3 rows, c (error: no table)`);
    expect(e.retriable).toBe(false);
  });
});
