import { describe, expect, it } from 'vitest';
import {
  bar,
  formatBackfillProgress,
  formatIngestProgress,
  formatIngestSummary,
} from '../../../src/app/batch/format.js';
import type { IngestRawResult } from '../../../src/app/batch/ingest-raw.js';

describe('batch and ingest text', () => {
  it('draws an ASCII bar (no colour codes, so NO_COLOR needs nothing)', () => {
    expect(bar(0, 4)).toBe('[........................]   0%');
    expect(bar(1, 4)).toBe('[######..................]  25%');
    expect(bar(9, 4)).toBe('[########################] 100%');
    expect(bar(0, 0)).toBe('[########################] 100%');
  });

  it('progress lines: a bar on a terminal, plain text otherwise', () => {
    const p = { records: 1500, total: 3000, rejected: 2, files: 1, bytes: 2_500_000 };
    expect(formatIngestProgress(p, false)).toBe('ingest 1,500/3,000 records, 2 rejected, 1 files, 2.5 MB');
    expect(formatIngestProgress(p, true)).toBe(
      'ingest [############............]  50% 1,500/3,000 records, 2 rejected, 1 files, 2.5 MB',
    );
    expect(formatBackfillProgress(1, 3, '2026-01-02', false)).toBe('batch 1/3 dates (2026-01-02)');
  });

  it('summarises an ingest, naming late dates', () => {
    const r = {
      records: 10,
      rejected: 1,
      commits: 1,
      files: [{ table: 'prices', dt: '2026-01-10', rows: 9, bytes: 100 }],
      dates: ['2026-01-10'],
      lateDates: ['2026-01-10'],
      orphansRemoved: 0,
      manifestCommit: 4,
      deadLetters: 1,
      gaps: [{ topic: 'raw.prices', partition: 2, from: '100', to: '3100', lost: 3000, at: '2026-01-11T00:00:00Z' }],
    } satisfies IngestRawResult;
    expect(formatIngestSummary(r)).toEqual([
      'ingested 10 records: 9 rows in 1 files, 1 to the dead-letter topic (manifest commit 4)',
      'dates: 2026-01-10',
      'late data for already built dates (rebuild them): 2026-01-10',
      'gap accepted: raw.prices[2] offsets 100..3099 (3,000) were gone from Kafka; recorded in the manifest',
    ]);
  });
});
