import { describe, expect, it } from 'vitest';
import { CryptolambdaError } from '../../../src/core/errors.js';
import { bucketsFromSpends } from '../../../src/core/rewards/tiers.js';
import { type BootstrapInput, planBootstrap, priceReplayFrom } from '../../../src/core/speed/bootstrap.js';
import { DEFAULT_ENGINE_OPTIONS, PartitionEngine } from '../../../src/core/speed/engine.js';
import { emptyUser, replayUser, userFromParts, userToJson, userToParts } from '../../../src/core/speed/user-ledger.js';
import { makeDataset } from '../../support/events.js';

const T = { prices: 'p.raw.prices', transactions: 'p.raw.transactions', rewards: 'p.raw.rewards' };
const P = 3;

/** Every topic has partitions 0..P-1 in the manifest at `at` and in Kafka from `low` to 1000. */
const input = (over: Partial<BootstrapInput> = {}, low = 0n): BootstrapInput => {
  const offsets: Record<string, Record<string, string>> = {};
  const logs = new Map<string, Map<number, { low: bigint; high: bigint }>>();
  for (const t of Object.values(T)) {
    offsets[t] = Object.fromEntries(Array.from({ length: P }, (_, n) => [String(n), String(100 + n)]));
    logs.set(t, new Map(Array.from({ length: P }, (_, n) => [n, { low, high: 1000n }])));
  }
  return {
    builds: [
      { date: '2026-11-22', rawCommit: 3 },
      { date: '2026-11-23', rawCommit: 5 },
    ],
    files: [
      { dt: '2026-11-22', commit: 2 },
      { dt: '2026-11-23', commit: 5 },
      { dt: '2026-11-24', commit: 6 },
    ],
    manifestCommit: 6,
    offsets,
    topics: T,
    logs,
    partitions: P,
    ...over,
  };
};

const refusal = (f: () => unknown): { code: string; message: string } => {
  try {
    f();
  } catch (e) {
    if (e instanceof CryptolambdaError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('not refused');
};

describe('planBootstrap (which build seeds the users, where each partition resumes)', () => {
  it('takes the latest build and resumes every topic-partition at the manifest offset', () => {
    const plan = planBootstrap(input());
    expect([plan.date, plan.buildRawCommit, plan.manifestCommit, plan.replayUsersAfter]).toEqual([
      '2026-11-23',
      5,
      6,
      '2026-11-23',
    ]);
    expect([...plan.resume.keys()]).toEqual([0, 1, 2]);
    expect(plan.resume.get(2)).toEqual(
      [T.prices, T.transactions, T.rewards].map((topic) => ({
        topic,
        partition: 2,
        offset: 102n,
        source: 'manifest',
        lost: 0n,
      })),
    );
  });

  it('seeds from a named earlier build; the raw zone after it is replayed', () => {
    const plan = planBootstrap(input({ date: '2026-11-22' }));
    expect([plan.date, plan.buildRawCommit, plan.replayUsersAfter]).toEqual(['2026-11-22', 3, '2026-11-22']);
  });

  it('refuses when there is no build, or not the one named', () => {
    expect(refusal(() => planBootstrap(input({ builds: [] })))).toMatchObject({
      code: 'NOT_FOUND',
      message: 'no warehouse build to bootstrap the speed layer from',
    });
    expect(refusal(() => planBootstrap(input({ date: '2026-11-20' })))).toEqual({
      code: 'NOT_FOUND',
      message: 'the batch has not built 2026-11-20',
    });
  });

  it('refuses a stale build: raw data dated on or before it published after it', () => {
    const files = [...input().files, { dt: '2026-11-23', commit: 6 }];
    expect(refusal(() => planBootstrap(input({ files })))).toMatchObject({ code: 'CONFLICT' });
    // Late data of a day AFTER the build does not make it stale (it is replayed).
    expect(planBootstrap(input({ files: [...input().files, { dt: '2026-11-24', commit: 7 }] })).date).toBe(
      '2026-11-23',
    );
  });

  it('a partition the manifest lacks resumes at 0 only while Kafka still holds it from 0', () => {
    const base = input();
    const offsets = { ...base.offsets, [T.prices]: { '0': '100', '2': '102' } };
    const plan = planBootstrap({ ...base, offsets });
    expect(plan.resume.get(1)![0]).toEqual({
      topic: T.prices,
      partition: 1,
      offset: 0n,
      source: 'log-start',
      lost: 0n,
    });
    const trimmed = input({}, 50n);
    expect(refusal(() => planBootstrap({ ...trimmed, offsets: { ...trimmed.offsets, [T.prices]: {} } }))).toEqual({
      code: 'NO_DATA',
      message: `the raw-zone manifest has no offset for ${T.prices}[0] and Kafka's log of it starts at 50: records 0..49 are in neither`,
    });
  });

  it('a manifest offset below the log start is a gap: DATA_GAP unless accepted', () => {
    expect(refusal(() => planBootstrap(input({}, 101n)))).toEqual({
      code: 'DATA_GAP',
      message: `${T.prices}[0]: offsets 100..100 (1) are in neither the raw zone nor Kafka`,
    });
    const plan = planBootstrap(input({ acceptGap: true }, 101n));
    expect(plan.resume.get(0)![0]).toMatchObject({ offset: 100n, lost: 1n });
    expect(plan.resume.get(1)![0]).toMatchObject({ offset: 101n, lost: 0n });
  });

  it('a manifest offset past the end of the log (topics recreated) is refused', () => {
    const base = input();
    const offsets = { ...base.offsets, [T.rewards]: { ...base.offsets[T.rewards], '1': '5000' } };
    expect(refusal(() => planBootstrap({ ...base, offsets }))).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining(`${T.rewards}[1] at offset 5000, past the end of Kafka's log (1000)`),
    });
  });

  it('replays prices from the day holding the latest trade minus the history span, minus a day', () => {
    expect(priceReplayFrom(Date.UTC(2026, 10, 24, 12), 7 * 86_400_000)).toBe('2026-11-16');
    expect(priceReplayFrom(Date.UTC(2026, 10, 24, 0, 30), 86_400_000)).toBe('2026-11-22');
  });
});

describe('PartitionEngine.seedUser (a user from the batch snapshot)', () => {
  const d = makeDataset({ seed: 5, start: Date.UTC(2026, 10, 23, 23, 0), minutes: 90, users: 6 });
  const events = [...d.transactions, ...d.rewards];

  it('drains every part of the user once, so the stored parts restore the same state; later events apply on top', () => {
    const first = events.filter((e) => e.eventTime < Date.UTC(2026, 10, 24));
    const later = events.filter((e) => e.eventTime >= Date.UTC(2026, 10, 24));
    const engine = new PartitionEngine(DEFAULT_ENGINE_OPTIONS, 0);
    const users = [...new Set(first.map((e) => e.userId))].sort();
    const snap = new Map(
      users.map((u) => [
        u,
        replayUser(
          emptyUser(u),
          first.filter((e) => e.userId === u),
        ).state,
      ]),
    );
    for (const [u, s] of snap) engine.seedUser(u, { state: s, days: new Map() });
    const c = engine.drain();
    expect(c.users.map((u) => u.userId).sort()).toEqual(users);
    for (const ch of c.users) {
      const want = userToParts(snap.get(ch.userId)!);
      expect([...ch.assets].sort()).toEqual(want.positions.map((p) => p.asset).sort());
      expect(ch.tier).toBe(true);
      expect([ch.deltas, ch.endOfDay, ch.days]).toEqual([[], [], []]);
      // Every spend of the window, one field each; nothing to delete.
      expect(ch.parts.spendPut.map(([f]) => f)).toEqual(
        want.spendDays.flatMap(([day, rows]) => rows.map(([id]) => `${day}|${id}`)),
      );
      expect(ch.parts.spendDel).toEqual([]);
      expect(ch.parts.dedupAdded).toEqual(want.dedupDays);
      // What a store writes from these parts restores the same state.
      const restored = userFromParts({
        ...want,
        spendDays: bucketsFromSpends(ch.parts.spendPut),
        dedupDays: ch.parts.dedupAdded.map(([k, v]) => [k, [...v].map(([i, t]) => [i, t])]),
      });
      expect(userToJson(restored)).toEqual(userToJson(snap.get(ch.userId)!));
    }
    expect(engine.drain().users).toEqual([]);
    expect(() => engine.seedUser(users[0]!, { state: emptyUser(users[0]!), days: new Map() })).toThrow(/seeded twice/);

    // The later day on top of the seed equals the whole history replayed.
    engine.addUsers(
      'transactions',
      later.filter((e) => e.kind === 'transaction'),
      0,
    );
    engine.addUsers(
      'rewards',
      later.filter((e) => e.kind === 'reward'),
      0,
    );
    engine.tick(DEFAULT_ENGINE_OPTIONS.userIdleMs, () => true);
    for (const u of new Set(events.map((e) => e.userId))) {
      const want = replayUser(
        emptyUser(u),
        events.filter((e) => e.userId === u),
      ).state;
      expect(userToJson(engine.users.get(u)!.state)).toEqual(userToJson(want));
    }
  });
});
