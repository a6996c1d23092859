import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../../src/adapters/lake/manifest.js';
import type { ShardBuild } from '../../../src/adapters/lake/shard-store.js';
import { checkShards } from '../../../src/app/batch/publish-shards.js';

const D = '2026-01-11';
// Four partitions of the user topics (the manifest's ingest offsets name them).
const m: Manifest = {
  version: 1,
  commit: 7,
  offsets: {
    'raw.transactions': { 0: '10', 1: '10', 2: '10', 3: '10' },
    'raw.rewards': { 0: '1', 1: '1', 2: '1', 3: '1' },
  },
  files: [],
  updatedAt: '2026-01-12T00:00:00.000Z',
};
const shard = (index: number, partitions?: number[]): ShardBuild => ({
  version: 1,
  date: D,
  shard: { index, of: 2 },
  rawCommit: 7,
  basis: 'history',
  builtAt: '2026-01-12T00:00:00.000Z',
  files: [],
  tierFile: { table: '_shard_user_tier', date: D, path: 'x', rows: 0, bytes: 0 },
  stats: { users: 0, activeUsers: 0, events: 0, rejectsByCode: {} },
  ...(partitions ? { partitions } : {}),
  phases: {},
  peakRssMb: 0,
});

describe('batch publish: every user-topic partition in exactly one shard', () => {
  it('publishes shards whose recorded partitions cover every partition once, and older records as partition mod N', () => {
    expect(checkShards([shard(0, [0, 3]), shard(1, [1, 2])], D, m, 'history').map((s) => s.shard.index)).toEqual([
      0, 1,
    ]);
    expect(checkShards([shard(0), shard(1)], D, m, 'history')).toHaveLength(2);
  });

  it('refuses shards that took one partition twice or left one out (two versions of the plan mixed)', () => {
    expect(() => checkShards([shard(0, [0, 1]), shard(1, [1, 3])], D, m, 'history')).toThrow(
      'cannot publish 2026-01-11: shards 0/2 and 1/2 both took partition 1 of the user topics',
    );
    expect(() => checkShards([shard(0, [0, 3]), shard(1, [1])], D, m, 'history')).toThrow(
      'cannot publish 2026-01-11: no shard took partition 2 of the user topics',
    );
    // A new-plan shard beside an older one that took partition mod 2 (0 and 2).
    expect(() => checkShards([shard(0), shard(1, [1, 2])], D, m, 'history')).toThrow(/both took partition 2/);
  });
});
