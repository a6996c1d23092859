import { describe, expect, it, onTestFinished } from 'vitest';
import type { Config } from '../../../src/config/config.js';
import type { PriceEvent, RewardEvent, TransactionEvent, UserEvent } from '../../../src/core/events/types.js';
import { Decimal, QTY_SCALE } from '../../../src/core/money/decimal.js';
import { userPartition } from '../../../src/core/partitioning.js';
import { compareEvents } from '../../../src/core/portfolio/position.js';
import { RATE_SCALE, simulate } from '../../../src/core/simulate/generator.js';
import { reward, tx } from '../../core/build.js';
import { syntheticPrices, T0 as TAPE_T0 } from '../../core/simulate/prices.js';
import { runCli } from '../../support/cli.js';
import {
  type BookDiff,
  batchAndReconcile,
  cliEnv,
  compareWithInOrder,
  daysOf,
  produceInOrder,
  type ReconcileOutcome,
  reconcileLine,
  StreamProcess,
} from '../../support/ordering.js';
import { servingSetup } from '../../support/serving-stack.js';

/**
 * Issue 14, item 4 (a)-(d): the speed layer must apply each user's events in (eventTime, eventId)
 * order whatever the arrival timing. Each scenario produces a fixed set of events to the real topics
 * in a hostile arrival order while the real `stream` command runs, then ingests, builds the batch of
 * every day involved, runs `reconcile --date D` per day (must exit 0, clean) and compares the speed
 * layer's books (Redis pos:<user> and tier) with the core's in-order replay of the same events.
 * Written against the spec, not the engine: the expected values come from `replayUser` alone.
 */

const MIN = 60_000;
const HOUR = 60 * MIN;

/** The synthetic price tape moved to start at `start` (the tape's own start is fixed). */
const tapeFrom = (start: number, hours: number, stepMs: number): PriceEvent[] =>
  syntheticPrices({ hours, stepMs, seed: 14 }).map((p) => ({ ...p, eventTime: p.eventTime - TAPE_T0 + start }));

/** Simulated users over a tape (in event-time order per user, zero rejects in order). */
const simulated = (prices: readonly PriceEvent[], seed: number, users: number, rate: string, spanMs: number) =>
  simulate(prices, { seed, users, rate: Decimal.parse(rate, RATE_SCALE), signupSpanMs: spanMs }).events;

/**
 * Two users whose book depends on the order of the two user topics, around instant `t`:
 *  - `<ns>a` needs a reward before a sell: buy 1, staking +0.5, sell 1.5 (rejected if the sell comes first);
 *  - `<ns>b` must have a sell rejected: buy 1, sell 1.2 (INSUFFICIENT_HOLDINGS in order), staking +0.5
 *    (the sell would succeed if the reward were applied before it).
 * Whichever topic is applied ahead of the other, one of them ends with a different book.
 */
const sentinels = (ns: string, t: number): UserEvent[] => [
  tx('buy', { eventId: `${ns}a-1`, userId: `${ns}a`, quantity: '1', price: '40000', eventTime: t - 10 * MIN }),
  reward({ eventId: `${ns}a-2`, userId: `${ns}a`, quantity: '0.5', price: '41000', eventTime: t - 2 * MIN }),
  tx('sell', { eventId: `${ns}a-3`, userId: `${ns}a`, quantity: '1.5', price: '42000', eventTime: t }),
  tx('buy', { eventId: `${ns}b-1`, userId: `${ns}b`, quantity: '1', price: '40000', eventTime: t - 10 * MIN }),
  tx('sell', { eventId: `${ns}b-2`, userId: `${ns}b`, quantity: '1.2', price: '42000', eventTime: t - 2 * MIN }),
  reward({ eventId: `${ns}b-3`, userId: `${ns}b`, quantity: '0.5', price: '41000', eventTime: t }),
];

/** The simulator's user ids (u000123); the hand-written users have other names. */
const SIMULATED = /^u\d{6}$/;

const isTx = (e: UserEvent): e is TransactionEvent => e.kind === 'transaction';
const isReward = (e: UserEvent): e is RewardEvent => e.kind === 'reward';
const within = (from: number, to: number) => (e: { eventTime: number }) => e.eventTime >= from && e.eventTime < to;

interface Outcome {
  scenario: string;
  userEvents: number;
  prices: number;
  stream: {
    userEvents: number;
    late: number;
    rejected: number;
    duplicates: number;
    tooLate: number;
    reordered: number;
  };
  reconcile: ReconcileOutcome[];
  books: BookDiff;
}

/** Stop the stream, batch + reconcile every day involved, compare the books; print one line. */
const finish = async (
  scenario: string,
  config: Config,
  stream: StreamProcess,
  events: readonly UserEvent[],
  prices: readonly PriceEvent[],
): Promise<Outcome> => {
  const s = await stream.stop();
  const reconcile = await batchAndReconcile(config, daysOf([...events, ...prices]));
  const books = await compareWithInOrder(config, events);
  const o: Outcome = {
    scenario,
    userEvents: events.length,
    prices: prices.length,
    stream: {
      userEvents: s.userEvents,
      late: s.late,
      rejected: s.rejected,
      duplicates: s.userDuplicates,
      tooLate: s.userTooLate,
      reordered: s.reordered,
    },
    reconcile,
    books,
  };
  console.log(
    `[ordering ${scenario}] ${events.length} user events (${books.users} users), ${prices.length} prices; ` +
      `stream: ${s.userEvents} user events, reordered ${s.reordered}, duplicates ${s.userDuplicates}, too late ${s.userTooLate}, ` +
      `late ${s.late}, rejected ${s.rejected} (in order: ${books.rejectedInOrder}); ` +
      `reconcile ${reconcileLine(reconcile)}; books differing from the in-order replay: ${books.differing.length}/${books.users}` +
      ` (simulated users among them: ${books.differing.filter((u) => SIMULATED.test(u)).length})`,
  );
  return o;
};

/** Every day reconciles clean (exit 0) and no user's book differs from the in-order replay. */
const expectExact = (o: Outcome): void => {
  expect({
    scenario: o.scenario,
    reconcile: o.reconcile.map((r) => ({ date: r.date, code: r.code, mismatched: r.summary.fieldsMismatched })),
    firstFindings: o.reconcile.flatMap((r) => (r.code === 0 ? [] : [{ date: r.date, findings: r.findings }])),
    usersDiffering: o.books.differing,
    sample: o.books.sample,
  }).toEqual({
    scenario: o.scenario,
    reconcile: o.reconcile.map((r) => ({ date: r.date, code: 0, mismatched: 0 })),
    firstFindings: [],
    usersDiffering: [],
    sample: [],
  });
  // Nothing lost: every event produced was applied, dropped as a duplicate or dead-lettered TOO_LATE.
  expect(o.stream.userEvents + o.stream.duplicates + o.stream.tooLate).toBeGreaterThanOrEqual(o.userEvents);
};

/** A test namespace (topics, keyspace, lake) and the `stream` command running on it. */
const start = async (): Promise<{ config: Config; stream: StreamProcess }> => {
  const config = await servingSetup('cl-ordering-');
  const stream = StreamProcess.start(config);
  onTestFinished(() => stream.kill());
  return { config, stream };
};

// (a) Six hours of event time across midnight, a few hundred users, produced in ~20 s of wall time.
const A_START = Date.UTC(2026, 10, 25, 21, 0);
const A_HOURS = 6;
const A_SLICES = 6;
const A_PRICES = tapeFrom(A_START, A_HOURS, 60_000);
const A_EVENTS: UserEvent[] = [
  ...simulated(A_PRICES, 14, 300, '0.12', 3 * HOUR),
  ...Array.from({ length: A_SLICES }, (_, i) => sentinels(`acc${i}`, A_START + i * HOUR + 40 * MIN)).flat(),
];

// (b) Rewards lagging transactions by up to 40 minutes of event time.
const B_START = Date.UTC(2026, 10, 27, 9, 0);
const B_PRICES = tapeFrom(B_START, 1, 15_000);
const B_EVENTS: UserEvent[] = [
  ...simulated(B_PRICES, 15, 150, '0.5', 30 * MIN),
  ...Array.from({ length: 5 }, (_, i) => sentinels(`lag${i}`, B_START + (12 + 6 * i) * MIN)).flat(),
];

// (d) Four days of activity; a trade of day D re-delivered after the stream applied day D+3.
const D_START = Date.UTC(2026, 10, 20, 0, 0);
const D_PRICES = tapeFrom(D_START, 4 * 24, 10 * MIN);
const D_SIM = simulated(D_PRICES, 16, 120, '0.004', 24 * HOUR);
const D_DUP_USER = 'dup-u';
const D_OWN: UserEvent[] = [
  tx('buy', { eventId: 'dup-1', userId: D_DUP_USER, quantity: '1', price: '100', eventTime: D_START + 10 * HOUR }),
  tx('buy', { eventId: 'dup-2', userId: D_DUP_USER, quantity: '1', price: '110', eventTime: D_START + 12 * HOUR }),
  ...[1, 2, 3].map((d) =>
    tx('buy', {
      eventId: `dup-${2 + d}`,
      userId: D_DUP_USER,
      asset: 'ETH',
      quantity: '1',
      price: '2000',
      eventTime: D_START + d * 24 * HOUR + 8 * HOUR,
    }),
  ),
];

// (f) Six hours of trading; then, on the partitions that moved on, a new trade 3 h behind them (TOO_LATE in
// both layers) and one 30 min behind (within the lateness: put in its place).
const F_START = Date.UTC(2026, 10, 24, 6, 0);
const F_PRICES = tapeFrom(F_START, 6, 60_000);
const F_SIM = simulated(F_PRICES, 17, 200, '0.05', 3 * HOUR);
const F_OWN: UserEvent[] = [
  tx('buy', { eventId: 'late-u-1', userId: 'late-u', quantity: '1', price: '100', eventTime: F_START + HOUR }),
  tx('sell', { eventId: 'late-u-2', userId: 'late-u', quantity: '0.5', price: '120', eventTime: F_START + 4 * HOUR }),
  tx('buy', { eventId: 'late-v-1', userId: 'late-v', quantity: '1', price: '100', eventTime: F_START + HOUR }),
];
/** Latest event time of raw.transactions on a user's partition among `events`. */
const partitionHwm = (events: readonly UserEvent[], user: string): number =>
  Math.max(...events.filter((e) => isTx(e) && userPartition(e.userId) === userPartition(user)).map((e) => e.eventTime));

describe('speed layer order is independent of arrival timing (issue 14, real stack)', () => {
  it(`(f) a new trade 3 h behind its partition's latest event time is TOO_LATE in both layers, one 30 min behind is put in its place: ${F_SIM.length + F_OWN.length + 2} user events; reconcile clean, books = in-order replay of the rest`, async () => {
    const { config, stream } = await start();
    const all: UserEvent[] = [...F_SIM, ...F_OWN];
    await produceInOrder(config, [...F_PRICES, ...all]);
    await stream.settled();
    const hu = partitionHwm(all, 'late-u');
    const hv = partitionHwm(all, 'late-v');
    expect(hu).toBeGreaterThan(F_START + 5 * HOUR);
    // A buy of 2 would change late-u's book (and the batch's, had it applied it): it must not count.
    const tooLate = tx('buy', {
      eventId: 'late-u-3',
      userId: 'late-u',
      quantity: '2',
      price: '90',
      eventTime: hu - 3 * HOUR,
    });
    const placed = tx('buy', {
      eventId: 'late-v-2',
      userId: 'late-v',
      quantity: '1',
      price: '95',
      eventTime: hv - 30 * MIN,
    });
    await produceInOrder(config, [tooLate, placed]);
    await stream.settled();
    const o = await finish('f', config, stream, [...all, placed], F_PRICES);
    expectExact(o);
    expect(o.stream.tooLate).toBe(1);
    // Reconcile of the day counts it on both sides (a disagreement would make the day unclean).
    expect(o.reconcile.reduce((n, r) => n + r.tooLate, 0)).toBe(1);
    expect(o.reconcile.reduce((n, r) => n + r.tooLateBatch, 0)).toBe(1);
    const p = await runCli(['portfolio', 'late-u', '--json'], cliEnv(config));
    expect(p.code).toBe(0);
    const btc = (JSON.parse(p.stdout) as { positions: { asset: string; quantity: string }[] }).positions.find(
      (x) => x.asset === 'BTC',
    );
    expect(Decimal.parse(btc!.quantity, QTY_SCALE).eq(Decimal.parse('0.5', QTY_SCALE))).toBe(true);
  }, 150_000);

  it(`(a) accelerated event time, live users: ${A_EVENTS.length} user events of ${A_HOURS} h (+${A_PRICES.length} prices) produced in ~30 s, one topic's burst up to 1 h of event time behind the other's; reconcile clean, books = in-order replay`, async () => {
    const { config, stream } = await start();
    // Per slice of one hour: one user topic's burst, the stream catches up and sits idle past
    // userIdleMs (its merge buffer released), then the other topic's burst of the same hour. Which topic goes first alternates.
    for (let i = 0; i < A_SLICES; i++) {
      const inSlice = within(A_START + i * HOUR, A_START + (i + 1) * HOUR);
      const txs = A_EVENTS.filter((e) => isTx(e) && inSlice(e));
      const rws = A_EVENTS.filter((e) => isReward(e) && inSlice(e));
      const [first, second] = i % 2 === 0 ? [txs, rws] : [rws, txs];
      await produceInOrder(config, [...A_PRICES.filter(inSlice), ...first]);
      await stream.settled();
      await produceInOrder(config, second);
      await stream.caughtUp();
    }
    await stream.settled();
    expectExact(await finish('a', config, stream, A_EVENTS, A_PRICES));
  }, 150_000);

  it(`(control) the same ${A_EVENTS.length} user events of (a) produced in event order in one burst: reconcile clean, books = in-order replay`, async () => {
    // Not an issue-14 scenario: proof that the harness (batch, reconcile, replay comparison) passes
    // when arrival order is event order, so the failures of (a)-(d) are the engine's, not the test's.
    const { config, stream } = await start();
    await produceInOrder(config, [...A_PRICES, ...[...A_EVENTS].sort(compareEvents)]);
    await stream.settled();
    expectExact(await finish('control', config, stream, A_EVENTS, A_PRICES));
  }, 150_000);

  it(`(b) raw.rewards lagging raw.transactions by up to 40 min of event time: ${B_EVENTS.length} user events (+${B_PRICES.length} prices); reconcile clean, books = in-order replay`, async () => {
    const { config, stream } = await start();
    const split = B_START + 40 * MIN;
    const early = within(B_START, split);
    const late = within(split, B_START + HOUR);
    // Transactions (and prices) of the first 40 minutes; the stream consumes them and goes idle.
    await produceInOrder(config, [...B_PRICES.filter(early), ...B_EVENTS.filter((e) => isTx(e) && early(e))]);
    await stream.settled();
    // Only now the rewards of those 40 minutes, then the rest of the hour on both topics together.
    await produceInOrder(
      config,
      B_EVENTS.filter((e) => isReward(e) && early(e)),
    );
    await stream.settled();
    await produceInOrder(config, [...B_PRICES.filter(late), ...B_EVENTS.filter(late)]);
    await stream.settled();
    expectExact(await finish('b', config, stream, B_EVENTS, B_PRICES));
  }, 150_000);

  it('(c) same-millisecond events of one user, the later ids applied before the earlier ones arrive on a quiet partition: id order, not arrival order; reconcile clean', async () => {
    const { config, stream } = await start();
    const t = Date.UTC(2026, 10, 28, 12, 0, 0, 123);
    // Three users on one partition, nothing else on it. Ids order each pair against arrival:
    //  a: buy (id 1) then sell (id 2) succeeds; the sell arrives first.
    //  b: sell (id 1) before buy (id 2) is rejected; the buy arrives first (arrival order would succeed).
    //  c: staking reward (id 1, raw.rewards) then sell (id 2, raw.transactions); the sell arrives first.
    const users = ['same-ms-b', 'same-ms-c', 'same-ms-d'];
    expect(new Set(users.map((u) => userPartition(u))).size).toBe(1);
    const [a, b, c] = users as [string, string, string];
    const firsts: UserEvent[] = [
      tx('sell', { eventId: `${a}-2`, userId: a, quantity: '1', price: '110', eventTime: t }),
      tx('buy', { eventId: `${b}-2`, userId: b, quantity: '1', price: '100', eventTime: t }),
      tx('sell', { eventId: `${c}-2`, userId: c, quantity: '1', price: '110', eventTime: t }),
    ];
    const seconds: UserEvent[] = [
      tx('buy', { eventId: `${a}-1`, userId: a, quantity: '1', price: '100', eventTime: t }),
      tx('sell', { eventId: `${b}-1`, userId: b, quantity: '1', price: '110', eventTime: t }),
      reward({ eventId: `${c}-1`, userId: c, quantity: '1', price: '100', eventTime: t }),
    ];
    await produceInOrder(config, firsts);
    // The firsts applied (released from the merge buffer: the partition went quiet) before the
    // seconds exist: those can only be put in their place by the lateness rule, not by the buffer.
    await stream.settled();
    await produceInOrder(config, seconds);
    await stream.settled();
    const events = [...firsts, ...seconds];
    const o = await finish('c', config, stream, events, []);
    expect(o.books.rejectedInOrder).toBe(1);
    expectExact(o);
    // What a user sees: the CLI's portfolio of the user whose sell succeeds only in id order.
    const p = await runCli(['portfolio', a, '--json'], cliEnv(config));
    expect(p.code).toBe(0);
    const btc = (JSON.parse(p.stdout) as { positions: { asset: string; quantity: string }[] }).positions.find(
      (x) => x.asset === 'BTC',
    );
    expect(btc === undefined || Decimal.parse(btc.quantity, QTY_SCALE).isZero()).toBe(true);
  }, 120_000);

  it(`(d) a trade re-delivered three event-time days later (the user traded since): applied once; ${D_SIM.length + D_OWN.length + 2} user events (+${D_PRICES.length} prices) over 4 days; reconcile clean each day`, async () => {
    const { config, stream } = await start();
    const all: UserEvent[] = [...D_SIM, ...D_OWN];
    await produceInOrder(config, [...D_PRICES, ...all]);
    await stream.settled();
    // Re-delivered copies (same id, same content) of day D's first trade of dup-u and of a simulated
    // user's day-D trade whose user has events on day D+3 too.
    const late = D_SIM.filter(within(D_START + 3 * 24 * HOUR, D_START + 4 * 24 * HOUR)).map((e) => e.userId);
    const simDup = D_SIM.find((e) => isTx(e) && e.eventTime < D_START + 24 * HOUR && late.includes(e.userId));
    expect(simDup).toBeDefined();
    const dups = [D_OWN[0]!, simDup!];
    await produceInOrder(config, dups);
    await stream.settled();
    const o = await finish('d', config, stream, [...all, ...dups], D_PRICES);
    expectExact(o);
    // Both copies are days behind their partitions' latest event time: TOO_LATE in both layers (not
    // applied), and reconcile of their day counts them on both sides.
    expect(o.stream.tooLate).toBe(2);
    expect(o.reconcile.map((r) => r.tooLate)).toEqual(o.reconcile.map((_r, i) => (i === 0 ? 2 : 0)));
    expect(o.reconcile.map((r) => r.tooLateBatch)).toEqual(o.reconcile.map((_r, i) => (i === 0 ? 2 : 0)));
    const p = await runCli(['portfolio', D_DUP_USER, '--json'], cliEnv(config));
    expect(p.code).toBe(0);
    const btc = (JSON.parse(p.stdout) as { positions: { asset: string; quantity: string }[] }).positions.find(
      (x) => x.asset === 'BTC',
    );
    expect(Decimal.parse(btc!.quantity, QTY_SCALE).eq(Decimal.parse('2', QTY_SCALE))).toBe(true);
  }, 150_000);
});
