import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commitManifest, EMPTY_MANIFEST } from '../../src/adapters/lake/manifest.js';
import { gapWarnings, readRecordedGaps } from '../../src/app/gaps.js';
import { readPipelineStatus } from '../../src/app/pipeline/ledger.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), 'cl-gaps-'));
  dirs.push(d);
  return d;
};

const GAP = { topic: 'raw.prices', partition: 3, from: '6000', to: '9000', lost: 3000, at: '2026-11-20T01:00:00.000Z' };

describe('recorded gaps are reported, never invisible', () => {
  it('pipeline status and reconcile warnings name the raw zone gaps and count the lost offsets', async () => {
    const lake = tmp();
    await commitManifest(lake, { ...EMPTY_MANIFEST, commit: 1, gaps: [GAP] });
    const status = await readPipelineStatus(path.join(lake, '_pipeline'), { lakeDir: lake });
    expect(status.gaps).toEqual([GAP]);
    expect(status.lostOffsets).toBe(3000);
    const g = await readRecordedGaps(lake, null);
    expect(g.lostOffsets).toEqual({ batch: 3000, speed: 0 });
    expect(gapWarnings(g)).toEqual([
      'data loss: 3000 offsets in 1 recorded gap(s) never reached the raw zone (raw.prices[3] 6000..8999)',
    ]);
  });

  it('no gaps, no warning', async () => {
    const lake = tmp();
    expect(gapWarnings(await readRecordedGaps(lake, null))).toEqual([]);
    expect((await readPipelineStatus(path.join(lake, '_pipeline'), { lakeDir: lake })).lostOffsets).toBe(0);
  });
});
