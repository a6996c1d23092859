import { describe, expect, it } from 'vitest';
import { encodeTransaction } from '../../../src/adapters/avro/codec.js';
import { rangesToEnd, readRanges } from '../../../src/adapters/kafka/bounded-reader.js';
import { BatchingProducer } from '../../../src/adapters/kafka/producer.js';
import { connectRedis } from '../../../src/adapters/redis/client.js';
import { keyspaceFor, speedKeys } from '../../../src/adapters/redis/speed-keys.js';
import type { SpeedOptions } from '../../../src/app/stream/speed-handler.js';
import type { Config } from '../../../src/config/config.js';
import type { RewardEvent, TransactionEvent, UserEvent } from '../../../src/core/events/types.js';
import { validateTransaction } from '../../../src/core/events/validate.js';
import { Decimal, USD_SCALE } from '../../../src/core/money/decimal.js';
import { type PositionJson, positionFromJson } from '../../../src/core/portfolio/codec.js';
import { compareEvents } from '../../../src/core/portfolio/position.js';
import { dayOf } from '../../../src/core/speed/user-ledger.js';
import { topicName } from '../../../src/core/topics.js';
import { type Dataset, makeDataset, produceDataset, userEvents } from '../../support/events.js';
import { type GoldenCase, loadGoldenCases, positionRow, tierTable, validateInput } from '../../support/golden.js';
import { dumpKeyspace, RUN_SPECIFIC } from '../../support/redis-dump.js';
import { runStreamToIdle, streamTestConfig } from '../../support/stream.js';

/**
 * The golden cases (fixtures/golden) replayed through real Kafka topics and the speed layer: what
 * lands in Redis must equal the hand-worked expected outputs, not just "what the core computes".
 */

const setup = (): Promise<Config> => streamTestConfig();

const runToIdle = (config: Config, speed: Partial<SpeedOptions> = {}) =>
  runStreamToIdle(config, { exitWhenIdleMs: 1500, speed: { userIdleMs: 500, ...speed } });

/** Valid user events of a case, user ids namespaced so many cases can share topics. */
const caseEvents = (c: GoldenCase, ns: (user: string) => string): UserEvent[] =>
  validateInput(c).userEvents.map((e) => ({ ...e, userId: ns(e.userId) }));

/** Produce in (eventTime, eventId) order per topic: the golden order, within no out-of-orderness. */
const produceUserEvents = async (config: Config, events: readonly UserEvent[]): Promise<void> => {
  const sorted = [...events].sort(compareEvents);
  await produceDataset(config, {
    prices: [],
    transactions: sorted.filter((e): e is TransactionEvent => e.kind === 'transaction'),
    rewards: sorted.filter((e): e is RewardEvent => e.kind === 'reward'),
  });
};

const cases = loadGoldenCases();
const positionCases = cases.filter((c) => c.expected.positions !== undefined);
const tierCases = cases.filter((c) => c.expected.tiers !== undefined);
const caseNs = (c: GoldenCase) => (user: string) => `g${c.file.slice(0, 2)}-${user}`;

interface ChangeRow {
  userId: string;
  at: number;
  from: string;
  to: string;
  spend30d: string;
}

const readTierChanges = async (config: Config): Promise<ChangeRow[]> => {
  const ranges = await rangesToEnd(config, [topicName(config.topicPrefix, 'tierChanges')], () => undefined);
  const rows: ChangeRow[] = [];
  await readRanges(config, `${config.topicPrefix}golden-reader`, ranges, async (records) => {
    for (const r of records) rows.push(JSON.parse(r.value!.toString('utf8')) as ChangeRow);
  });
  return rows;
};

/** One stream run per tier case: a user's tier depends on its partition's event-time frontier. */
const runTierCase = async (c: GoldenCase) => {
  const config = await setup();
  const ns = caseNs(c);
  await produceUserEvents(config, caseEvents(c, ns));
  const advanceTo = c.input.tiers?.advanceTo;
  if (advanceTo !== undefined) {
    // Event time moves on: a deposit by another user at `advanceTo`, keyed like the case's user so it
    // lands on the same partition and moves that partition's users' watermark (tier expiry) there.
    const user = c.expected.tiers![0]!.userId;
    const clock = validateTransaction({
      kind: 'transaction',
      eventId: 'clock-1',
      userId: ns('clock'),
      type: 'deposit',
      asset: 'BTC',
      quantity: '1',
      price: '1',
      fee: '0',
      feeAsset: 'USD',
      eventTime: advanceTo,
    });
    if (!clock.ok) throw new Error(clock.reason);
    const p = await BatchingProducer.connect(config);
    await p.push(topicName(config.topicPrefix, 'transactions'), [
      { key: ns(user), value: encodeTransaction(clock.event) },
    ]);
    await p.flush();
    await p.disconnect();
  }
  const summary = await runToIdle(config, { tiers: tierTable(c) });
  return { c, config, summary, changes: await readTierChanges(config) };
};

describe('golden cases through Kafka, the speed layer and Redis', () => {
  it('positions, tiers, tier changes and day rewards in Redis equal the golden expected outputs', async () => {
    const posConfig = await setup();
    const all = positionCases.flatMap((c) => caseEvents(c, caseNs(c)));
    await produceUserEvents(posConfig, all);
    const [posSummary, ...tierRuns] = await Promise.all([
      runToIdle(posConfig),
      ...tierCases.map((c) => runTierCase(c)),
    ]);
    expect(posSummary.stoppedBy).toBe('idle');
    expect(posSummary.userEvents).toBe(all.length);
    expect(posSummary.rejected).toBe(positionCases.reduce((a, c) => a + c.expected.rejected!.length, 0));

    const redis = await connectRedis(posConfig);
    try {
      const k = speedKeys(keyspaceFor(posConfig.topicPrefix));
      let compared = 0;
      for (const c of positionCases) {
        const ns = caseNs(c);
        const users = [...new Set(c.expected.positions!.map((p) => p.userId))];
        for (const user of users) {
          const stored = await redis.hgetall(k.positions(ns(user)));
          const rows = Object.values(stored)
            .map((s) => positionFromJson(JSON.parse(s) as PositionJson))
            .sort((a, b) => (a.asset < b.asset ? -1 : 1))
            .map((p) => positionRow(p, user));
          const want = c.expected.positions!.filter((p) => p.userId === user);
          expect({ case: c.file, rows }).toEqual({
            case: c.file,
            rows: [...want].sort((a, b) => (a.asset < b.asset ? -1 : 1)),
          });
          compared += want.length;
        }
      }
      expect(compared).toBe(positionCases.reduce((a, c) => a + c.expected.positions!.length, 0));
    } finally {
      redis.disconnect();
    }

    for (const { c, config, summary, changes } of tierRuns) {
      expect(summary.stoppedBy).toBe('idle');
      const r = await connectRedis(config);
      try {
        const k = speedKeys(keyspaceFor(config.topicPrefix));
        const ns = caseNs(c);
        const byId = new Map(validateInput(c).userEvents.map((e) => [e.eventId, e]));
        for (const u of c.expected.tiers!) {
          const tier = JSON.parse((await r.get(k.tier(ns(u.userId))))!) as { tier: string; spend30d: string };
          expect({ case: c.file, tier: tier.tier, spend30d: tier.spend30d }).toEqual({
            case: c.file,
            tier: u.final.tier,
            spend30d: u.final.spend30d,
          });
          // Every transition, including expiries as event time passes 30 days after a spend, in order.
          expect({ case: c.file, changes: changes.filter((ch) => ch.userId === ns(u.userId)) }).toEqual({
            case: c.file,
            changes: u.changes.map((ch) => ({ userId: ns(u.userId), ...ch })),
          });
          // Day rewards: the day's card spend, cashback owed after the monthly cap, and what the cap withheld.
          const days = new Map<string, { spend: Decimal; owed: Decimal; capped: Decimal }>();
          for (const s of u.spends) {
            const day = dayOf(byId.get(s.eventId)!.eventTime);
            const z = Decimal.zero(USD_SCALE);
            const d = days.get(day) ?? { spend: z, owed: z, capped: z };
            days.set(day, {
              spend: d.spend.add(Decimal.parse(s.amount, USD_SCALE)),
              owed: d.owed.add(Decimal.parse(s.cashback, USD_SCALE)),
              capped: d.capped.add(Decimal.parse(s.capped, USD_SCALE)),
            });
          }
          expect(days.size).toBeGreaterThan(0);
          for (const [day, want] of days) {
            const got = JSON.parse((await r.get(k.dayRewards(ns(u.userId), day)))!) as Record<string, unknown>;
            expect({ case: c.file, day, spend: got.spend, owed: got.cashbackOwed, capped: got.cashbackCapped }).toEqual(
              {
                case: c.file,
                day,
                spend: want.spend.toString(),
                owed: want.owed.toString(),
                capped: want.capped.toString(),
              },
            );
          }
        }
      } finally {
        r.disconnect();
      }
    }
    expect(tierRuns.length).toBe(tierCases.length);
  }, 120_000);

  it('user events out of order within the allowed out-of-orderness give the same state as in order', async () => {
    const d = makeDataset({ seed: 5, start: Date.UTC(2026, 10, 20, 23, 50), minutes: 20, users: 30 });
    const inOrder = await setup();
    const shuffled = await setup();
    // Reverse the order inside each 4 s bucket of event time (per topic): every event is displaced by
    // less than the 5 s out-of-orderness, and the data is really out of order.
    const BUCKET = 4000;
    const perturb = <T extends UserEvent>(xs: readonly T[]): T[] => {
      const buckets = new Map<number, T[]>();
      for (const e of xs) {
        const b = Math.floor(e.eventTime / BUCKET);
        buckets.set(b, [...(buckets.get(b) ?? []), e]);
      }
      return [...buckets.keys()].sort((a, b) => a - b).flatMap((b) => buckets.get(b)!.reverse());
    };
    const ordered: Dataset = { prices: [], transactions: d.transactions, rewards: d.rewards };
    const moved: Dataset = { prices: [], transactions: perturb(d.transactions), rewards: perturb(d.rewards) };
    const displaced = moved.transactions.filter((e, i) => e !== d.transactions[i]).length;
    expect(displaced).toBeGreaterThan(d.transactions.length / 4);
    await produceDataset(inOrder, ordered);
    await produceDataset(shuffled, moved);
    const [a, b] = await Promise.all([runToIdle(inOrder), runToIdle(shuffled)]);
    expect(a.userEvents).toBe(userEvents(d).length);
    expect(b.userEvents).toBe(userEvents(d).length);
    expect(b.rejected).toBe(a.rejected);

    const r = await connectRedis(inOrder);
    try {
      const skip = [...RUN_SPECIFIC, /^stream:offsets:/];
      const da = await dumpKeyspace(r, keyspaceFor(inOrder.topicPrefix), skip);
      const db = await dumpKeyspace(r, keyspaceFor(shuffled.topicPrefix), skip);
      expect(Object.keys(da).filter((key) => key.startsWith('pos:')).length).toBeGreaterThan(20);
      expect(db).toEqual(da);
    } finally {
      r.disconnect();
    }
  }, 120_000);
});
