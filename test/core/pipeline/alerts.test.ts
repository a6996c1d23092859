import { describe, expect, it } from 'vitest';
import { alertForRun, alertPayload, deadlineOn } from '../../../src/core/pipeline/alerts.js';
import { type RunRecord, runFailureReason } from '../../../src/core/pipeline/run.js';

const run = (patch: Partial<RunRecord>): RunRecord => ({
  runId: 'r1',
  date: '2024-03-01',
  status: 'failed',
  startedAt: '2024-03-02T01:00:00.000Z',
  pid: 1,
  host: 'h',
  force: false,
  steps: [],
  ...patch,
});

describe('alertForRun', () => {
  it('is undefined for runs that did not fail', () => {
    expect(alertForRun(run({ status: 'succeeded' }))).toBeUndefined();
    expect(alertForRun(run({ status: 'interrupted' }))).toBeUndefined();
  });

  it('prefers a DQ alert and keeps other failures, blocked steps and a missed deadline', () => {
    const a = alertForRun(
      run({
        deadline: '2024-03-02T06:00:00.000Z',
        missedDeadline: true,
        steps: [
          { name: 'x', status: 'failed', attempts: 2, error: 'boom' },
          {
            name: 'dq',
            status: 'failed',
            attempts: 1,
            error: 'dq',
            dq: [
              {
                id: 'c1',
                kind: 'unique',
                table: 't',
                severity: 'error',
                passed: false,
                violationCount: 2,
                sample: [{ k: 1 }],
              },
            ],
          },
          { name: 'reconcile', status: 'blocked', attempts: 0, blockedBy: 'dq' },
        ],
      }),
    );
    expect(a).toEqual({
      kind: 'dq_violation',
      date: '2024-03-01',
      runId: 'r1',
      step: 'dq',
      violations: [{ check: 'c1', table: 't', violationCount: 2, sample: [{ k: 1 }] }],
      otherFailures: [{ step: 'x', error: 'boom' }],
      blocked: ['reconcile'],
      missedDeadline: '2024-03-02T06:00:00.000Z',
    });
    expect(alertPayload(a!).blocks.map((b) => (b.type === 'section' ? b.text.text : b.type))).toEqual([
      'header',
      '*c1* on `t`: 2 violating rows\n```\n{"k":1}\n```',
      '*x* failed: boom',
      'Blocked (not run): reconcile',
      'Deadline 2024-03-02T06:00:00.000Z was also missed.',
      'context',
    ]);
  });

  it('clips long texts to Slack limits', () => {
    const p = alertPayload({
      kind: 'step_failure',
      date: '2024-03-01',
      runId: 'r',
      failed: [{ step: 's', attempts: 1, error: 'e'.repeat(5000) }],
      blocked: [],
    });
    const section = p.blocks.find((b) => b.type === 'section');
    expect(section?.type === 'section' && section.text.text.length).toBe(3000);
    expect(p.text).toBe('Pipeline 2024-03-01 failed: s');
  });
});

describe('deadlineOn', () => {
  it('is HH:MM UTC on the day the run started', () => {
    expect(deadlineOn('06:30', new Date('2024-03-02T01:00:00Z')).toISOString()).toBe('2024-03-02T06:30:00.000Z');
    expect(() => deadlineOn('6:30', new Date())).toThrow(/invalid deadline/);
    expect(() => deadlineOn('24:00', new Date())).toThrow(/invalid deadline/);
  });
});

describe('runFailureReason', () => {
  it('is one line naming failed and blocked steps', () => {
    expect(
      runFailureReason(
        run({
          steps: [
            { name: 'ingest', status: 'succeeded', attempts: 1 },
            { name: 'batch', status: 'failed', attempts: 3, error: 'duckdb: out of memory' },
            { name: 'reconcile', status: 'blocked', attempts: 0, blockedBy: 'batch' },
          ],
        }),
      ),
    ).toBe('pipeline 2024-03-01 failed: batch (duckdb: out of memory); blocked: reconcile');
    expect(runFailureReason(run({ status: 'succeeded' }))).toBeUndefined();
    expect(runFailureReason(run({ status: 'interrupted' }))).toBe('pipeline 2024-03-01 interrupted (rerun to resume)');
    expect(
      runFailureReason(
        run({
          status: 'interrupted',
          steps: [
            { name: 'ingest', status: 'succeeded', attempts: 1 },
            {
              name: 'batch',
              status: 'failed',
              attempts: 1,
              error: 'aborted: stopped by SIGTERM: batch 2024-03-01 not published: 1 of 2 shard(s) built',
            },
          ],
        }),
      ),
    ).toBe(
      'pipeline 2024-03-01 interrupted in batch (stopped by SIGTERM: batch 2024-03-01 not published: 1 of 2 shard(s) built); rerun to resume',
    );
  });
});
