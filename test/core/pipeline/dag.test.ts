import { describe, expect, it } from 'vitest';
import {
  assertDate,
  blockedBy,
  dateRange,
  downstreamOf,
  effectiveStatuses,
  planRun,
  type StepDef,
  type StepStatus,
  topoOrder,
} from '../../../src/core/pipeline/dag.js';

const s = (name: string, dependsOn: string[] = []): StepDef => ({
  name,
  dependsOn,
  retries: 0,
  backoffMs: 0,
  run: async () => ({}),
});

// ingest → batch → {reconcile, dq}; report ← ingest
const DAG = [
  s('reconcile', ['batch']),
  s('batch', ['ingest']),
  s('ingest'),
  s('dq', ['batch']),
  s('report', ['ingest']),
];

describe('topoOrder', () => {
  it('orders dependencies first, ties in declaration order', () => {
    expect(topoOrder(DAG)).toEqual(['ingest', 'batch', 'reconcile', 'dq', 'report']);
  });

  it('names a cycle', () => {
    expect(() => topoOrder([s('a', ['c']), s('b', ['a']), s('c', ['b']), s('d')])).toThrow(
      'dependency cycle: a -> c -> b -> a',
    );
    expect(() => topoOrder([s('a', ['a'])])).toThrow('dependency cycle: a -> a');
  });

  it('rejects unknown dependencies, duplicates, bad names and bad retry policies', () => {
    expect(() => topoOrder([s('a', ['zz'])])).toThrow('step a depends on unknown zz');
    expect(() => topoOrder([s('a'), s('a')])).toThrow('duplicate step a');
    expect(() => topoOrder([s('Bad Name')])).toThrow(/invalid step name/);
    expect(() => topoOrder([{ ...s('a'), retries: -1 }])).toThrow(/retries and backoffMs/);
  });
});

describe('planRun', () => {
  const prev = (o: Record<string, StepStatus>) => new Map(Object.entries(o));

  it('runs everything on a fresh date', () => {
    expect(planRun(DAG, new Map()).map((p) => [p.name, p.action])).toEqual([
      ['ingest', 'run'],
      ['batch', 'run'],
      ['reconcile', 'run'],
      ['dq', 'run'],
      ['report', 'run'],
    ]);
  });

  it('skips succeeded steps and reruns failed, blocked and interrupted ones', () => {
    const plan = planRun(
      DAG,
      prev({ ingest: 'succeeded', batch: 'running', reconcile: 'blocked', dq: 'failed', report: 'succeeded' }),
    );
    expect(plan).toEqual([
      { name: 'ingest', action: 'skip', forced: false, reason: 'succeeded in an earlier run' },
      { name: 'batch', action: 'run', forced: false, reason: 'interrupted earlier' },
      { name: 'reconcile', action: 'run', forced: false, reason: 'was blocked' },
      { name: 'dq', action: 'run', forced: false, reason: 'was failed' },
      { name: 'report', action: 'skip', forced: false, reason: 'succeeded in an earlier run' },
    ]);
  });

  it('force=true reruns all; force=[step] reruns it and its downstream only', () => {
    const all = prev({
      ingest: 'succeeded',
      batch: 'succeeded',
      reconcile: 'succeeded',
      dq: 'succeeded',
      report: 'succeeded',
    });
    expect(planRun(DAG, all, true).every((p) => p.action === 'run' && p.forced)).toBe(true);
    expect(
      planRun(DAG, all, ['batch'])
        .filter((p) => p.action === 'run')
        .map((p) => p.name),
    ).toEqual(['batch', 'reconcile', 'dq']);
    expect(() => planRun(DAG, all, ['nope'])).toThrow('--force names unknown step nope');
  });
});

describe('blockedBy / downstreamOf / effectiveStatuses', () => {
  it('blocks on a failed or blocked dependency, not on a skipped one', () => {
    const cur = new Map<string, StepStatus>([
      ['ingest', 'skipped'],
      ['batch', 'failed'],
    ]);
    expect(blockedBy(s('batch', ['ingest']), cur)).toBeUndefined();
    expect(blockedBy(s('dq', ['batch']), cur)).toBe('batch');
    cur.set('dq', 'blocked');
    expect(blockedBy(s('x', ['ingest', 'dq']), cur)).toBe('dq');
  });

  it('finds everything downstream', () => {
    expect([...downstreamOf(DAG, ['ingest'])].sort()).toEqual(['batch', 'dq', 'reconcile', 'report']);
    expect([...downstreamOf(DAG, ['dq'])]).toEqual([]);
  });

  it('lets skipped inherit the earlier status', () => {
    const runs = [
      {
        steps: [
          { name: 'a', status: 'succeeded' as const },
          { name: 'b', status: 'failed' as const },
        ],
      },
      {
        steps: [
          { name: 'a', status: 'skipped' as const },
          { name: 'b', status: 'succeeded' as const },
        ],
      },
    ];
    expect(Object.fromEntries(effectiveStatuses(runs))).toEqual({ a: 'succeeded', b: 'succeeded' });
  });
});

describe('dates', () => {
  it('validates calendar dates strictly', () => {
    expect(assertDate('2024-02-29')).toBe('2024-02-29');
    for (const bad of ['2023-02-29', '2024-13-01', '2024-3-1', '../etc', '2024-03-01T00:00']) {
      expect(() => assertDate(bad)).toThrow(/invalid date/);
    }
  });

  it('ranges inclusively across month ends', () => {
    expect(dateRange('2024-02-28', '2024-03-01')).toEqual(['2024-02-28', '2024-02-29', '2024-03-01']);
    expect(dateRange('2024-03-01', '2024-03-01')).toEqual(['2024-03-01']);
    // One dateRange for the whole project: an inverted range is empty (the backfill rejects it).
    expect(dateRange('2024-03-02', '2024-03-01')).toEqual([]);
    expect(() => dateRange('2024-02-30', '2024-03-01')).toThrow(/invalid from date "2024-02-30"/);
  });
});
