import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { finishPipelineRun, startJob, withJobMetrics } from '../../../src/app/metrics/job-metrics.js';
import type { RunRecord } from '../../../src/core/pipeline/run.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), 'cl-jobmetrics-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const promtool = (text: string): string => execFileSync('promtool', ['check', 'metrics'], { input: text }).toString();

const run = (status: RunRecord['status'], steps: RunRecord['steps']): RunRecord => ({
  runId: 'r1',
  date: '2026-11-20',
  status,
  startedAt: '2026-11-21T01:15:00.000Z',
  endedAt: '2026-11-21T01:16:00.000Z',
  pid: 1,
  host: 'h',
  force: false,
  steps,
});

describe('job metrics', () => {
  it('a failed run still leaves its outcome in the textfile (what the alert needs), by the conventions', async () => {
    const file = path.join(tmp(), 'ingest.prom');
    await expect(
      withJobMetrics(
        'ingest',
        { textfile: file },
        () => Promise.reject(new Error('broker down')),
        () => undefined,
      ),
    ).rejects.toThrow('broker down');
    const text = readFileSync(file, 'utf8');
    expect(promtool(text)).toBe('');
    expect(text).toContain('cryptolambda_job_last_run_outcome{job="ingest",outcome="failed"} 1');
    expect(text).not.toContain('cryptolambda_job_last_success_timestamp_seconds');
  });

  it('pipeline: per-step duration, outcome and attempts of the last run', async () => {
    const file = path.join(tmp(), 'pipeline.prom');
    const job = startJob('pipeline', { textfile: file });
    await finishPipelineRun(job, {
      status: 'failed',
      runs: [
        run('failed', [
          {
            name: 'ingest',
            status: 'succeeded',
            attempts: 1,
            startedAt: '2026-11-21T01:15:00.000Z',
            endedAt: '2026-11-21T01:15:12.500Z',
          },
          {
            name: 'batch',
            status: 'failed',
            attempts: 3,
            startedAt: '2026-11-21T01:15:13.000Z',
            endedAt: '2026-11-21T01:16:00.000Z',
          },
          { name: 'reconcile', status: 'blocked', attempts: 0, blockedBy: 'batch' },
        ]),
      ],
    });
    const text = readFileSync(file, 'utf8');
    expect(promtool(text)).toBe('');
    expect(text).toContain('cryptolambda_pipeline_step_duration_seconds{step="ingest"} 12.5');
    expect(text).toContain('cryptolambda_pipeline_step_outcome{step="batch",outcome="failed"} 1');
    expect(text).toContain('cryptolambda_pipeline_step_outcome{step="reconcile",outcome="blocked"} 1');
    expect(text).toContain('cryptolambda_pipeline_step_attempts{step="batch"} 3');
    expect(text).toContain('cryptolambda_pipeline_runs{status="failed"} 1');
    expect(text).toContain('cryptolambda_job_last_run_outcome{job="pipeline",outcome="failed"} 1');
  });

  it('without a textfile or Pushgateway nothing is written and the job just runs', async () => {
    expect(
      await withJobMetrics(
        'batch',
        {},
        async () => 42,
        () => undefined,
      ),
    ).toBe(42);
  });
});
