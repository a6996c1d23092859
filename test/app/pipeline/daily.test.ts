import { describe, expect, it } from 'vitest';
import { type DailyDeps, dailySteps } from '../../../src/app/pipeline/daily.js';
import type { StepContext } from '../../../src/core/pipeline/dag.js';

const ctx = (date: string): StepContext => ({
  date,
  attempt: 1,
  signal: new AbortController().signal,
  forced: false,
  log: () => undefined,
});

/** Deps that record what the steps hand them; nothing here talks to Kafka or DuckDB. */
const recordingDeps = (seen: { allowEmpty?: boolean }[]): DailyDeps => ({
  watermark: async () => undefined,
  ingest: async () => ({ rows: 0 }),
  rawDates: async () => [],
  batch: async (_date, _log, opts) => {
    seen.push(opts);
    return { rows: 0 };
  },
  warehouse: async () => {
    throw new Error('not used');
  },
  reconcile: async () => ({ compared: 0, mismatches: 0, summary: '' }),
  retire: async () => ({ users: 0, keys: 0 }),
});

describe('dailySteps', () => {
  it('--allow-empty reaches the batch step (and the ingest gate lets an empty date through)', async () => {
    for (const allowEmpty of [true, false]) {
      const seen: { allowEmpty?: boolean }[] = [];
      const steps = dailySteps(recordingDeps(seen), { allowedLatenessMs: 0, sensorTimeoutMs: 0, allowEmpty });
      const ingest = steps.find((s) => s.name === 'ingest')!;
      const batch = steps.find((s) => s.name === 'batch')!;
      if (allowEmpty) await expect(ingest.run(ctx('2026-01-02'))).resolves.toMatchObject({ rows: 0 });
      else await expect(ingest.run(ctx('2026-01-02'))).rejects.toMatchObject({ code: 'NO_DATA', retriable: false });
      await batch.run(ctx('2026-01-02'));
      // The run's stop signal reaches the batch too (it stops its shards and says what it left).
      expect(seen).toEqual([{ allowEmpty, signal: expect.any(AbortSignal) }]);
    }
  });
});
