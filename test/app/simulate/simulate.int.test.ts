import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeRecord, encodePrice } from '../../../src/adapters/avro/codec.js';
import { rangesToEnd, readRanges } from '../../../src/adapters/kafka/bounded-reader.js';
import { ensureTopics, withAdmin } from '../../../src/adapters/kafka/client.js';
import type { ConsumedRecord } from '../../../src/adapters/kafka/consumer.js';
import { BatchingProducer } from '../../../src/adapters/kafka/producer.js';
import { runSimulate, type SimulateResult } from '../../../src/app/simulate/simulate.js';
import type { Config } from '../../../src/config/config.js';
import type { PriceEvent, RewardEvent, TransactionEvent, UserEvent } from '../../../src/core/events/types.js';
import { USD } from '../../../src/core/events/types.js';
import { Decimal, PRICE_SCALE, QTY_SCALE, USD_SCALE } from '../../../src/core/money/decimal.js';
import { applyAll, notional } from '../../../src/core/portfolio/position.js';
import { initialTierState, recordSpend } from '../../../src/core/rewards/tiers.js';
import { cashbackQuantity, orderPrices, RATE_SCALE, simulate } from '../../../src/core/simulate/generator.js';
import { TOPICS, topicName } from '../../../src/core/topics.js';
import { syntheticPrices } from '../../core/simulate/prices.js';
import { BIN, runCli } from '../../support/cli.js';
import { cleanupTopicsAfter, testConfig } from '../../support/int.js';

const RATE = '0.01';
// 50 hours of 3 symbols, one tick every 5 minutes: 1,800 prices, two UTC midnights.
const PRICES = syntheticPrices({ hours: 50, stepMs: 300_000 });

const produce = async (config: Config, prices: readonly PriceEvent[]): Promise<void> => {
  const producer = await BatchingProducer.connect(config, { lingerMs: 2 });
  try {
    await producer.push(
      topicName(config.topicPrefix, 'prices'),
      prices.map((p) => ({ key: p.symbol, value: encodePrice(p) })),
    );
  } finally {
    await producer.disconnect();
  }
};

const setup = async (prices: readonly PriceEvent[] = PRICES): Promise<Config> => {
  const config = testConfig();
  cleanupTopicsAfter(config);
  await withAdmin(config, (a) => ensureTopics(a, config.topicPrefix, [TOPICS.prices]));
  if (prices.length > 0) await produce(config, prices);
  return config;
};

const readAll = async (config: Config, topic: string): Promise<ConsumedRecord[]> => {
  const ranges = await rangesToEnd(config, [topic], () => undefined);
  const out: ConsumedRecord[] = [];
  await readRanges(config, `test-sim-${randomUUID().slice(0, 8)}`, ranges, async (batch) => {
    out.push(...batch);
  });
  return out.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
};

interface Stream {
  readonly records: ConsumedRecord[];
  readonly events: UserEvent[];
}

const readUserEvents = async (config: Config): Promise<{ tx: Stream; rw: Stream }> => {
  const decodeAll = (table: 'transactions' | 'rewards', records: ConsumedRecord[]): UserEvent[] =>
    records.map((r) => {
      const d = decodeRecord(table, r.value!);
      if (!d.ok) throw new Error(`undecodable ${table} record: ${d.reason}`);
      return d.event as UserEvent;
    });
  const txRecords = await readAll(config, topicName(config.topicPrefix, 'transactions'));
  const rwRecords = await readAll(config, topicName(config.topicPrefix, 'rewards'));
  return {
    tx: { records: txRecords, events: decodeAll('transactions', txRecords) },
    rw: { records: rwRecords, events: decodeAll('rewards', rwRecords) },
  };
};

/** The pure generator over the same tape: what the app must have produced. */
const expected = (seed: number, users: number) => {
  const ordered = orderPrices(PRICES);
  return simulate(PRICES, {
    seed,
    users,
    rate: Decimal.parse(RATE, RATE_SCALE),
    signupSpanMs: ordered.at(-1)!.eventTime - ordered[0]!.eventTime,
  });
};

const byEventOrder = (a: UserEvent, b: UserEvent) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);

describe('simulate (real broker)', () => {
  it('produces the generator stream keyed by user, in event-time order per user, reproducibly (app and CLI)', async () => {
    const config = await setup();
    const progress: number[] = [];
    const r = await runSimulate(config, {
      seed: 7,
      users: 30,
      rate: Decimal.parse(RATE, RATE_SCALE),
      onProgress: (p) => progress.push(p.produced),
      progressIntervalMs: 5,
    });

    // The summary.
    expect(r.mode).toBe('bounded');
    expect(r.prices).toEqual({ read: 1800, used: 1800, invalid: 0, ignored: 0, late: 0 });
    expect(r.deadLettered).toBe(0);
    expect(r.refused).toBe(0);
    expect(r.stoppedBy).toBe('prices');
    expect(r.events).toBe(r.transactions + r.rewards);
    expect(r.acked).toBe(r.events);
    expect(r.transactions).toBeGreaterThan(1000);
    expect(progress.length).toBeGreaterThan(0);

    // What Kafka holds is exactly what the pure generator gives for this tape.
    const { tx, rw } = await readUserEvents(config);
    const want = expected(7, 30);
    const got = [...tx.events, ...rw.events].sort(byEventOrder);
    expect(JSON.stringify(got)).toBe(JSON.stringify(want.events));
    expect(tx.events).toHaveLength(r.transactions);
    expect(rw.events).toHaveLength(r.rewards);
    for (const [t, c] of Object.entries(r.byType)) {
      expect(
        got.filter((e) => (e.kind === 'transaction' ? e.type : e.rewardType) === t),
        t,
      ).toHaveLength(c);
      expect(c, t).toBeGreaterThan(0);
    }
    expect(r.eventTime).toEqual({
      from: new Date(want.stats.firstEventTime!).toISOString(),
      to: new Date(want.stats.lastEventTime!).toISOString(),
    });
    expect(r.activeUsers).toBe(new Set(got.map((e) => e.userId)).size);

    // Keys are user ids; within a partition each user's events are in event-time order.
    for (const s of [tx, rw]) {
      const last = new Map<string, UserEvent>();
      s.records.forEach((rec, i) => {
        const e = s.events[i]!;
        expect(rec.key).toBe(e.userId);
        const k = `${rec.partition}|${rec.key}`;
        const prev = last.get(k);
        if (prev) expect(prev.eventTime <= e.eventTime && prev.eventId < e.eventId).toBe(true);
        last.set(k, e);
      });
    }

    // No sell, spend, withdrawal or unstake beyond holdings: the core replays it without a reject.
    expect(applyAll(new Map(), got).rejected).toEqual([]);

    // Every card spend has its cashback at the tier recordSpend gives (none when it is zero).
    const cashback = new Map(
      (rw.events as RewardEvent[]).filter((e) => e.rewardType === 'cashback').map((e) => [e.refEventId!, e]),
    );
    const tiers = new Map<string, ReturnType<typeof initialTierState>>();
    let spends = 0;
    for (const e of (tx.events as TransactionEvent[]).filter((x) => x.type === 'card_spend').sort(byEventOrder)) {
      const amount = e.asset === USD ? e.quantity.rescale(USD_SCALE) : notional(e.quantity, e.price);
      const res = recordSpend(tiers.get(e.userId) ?? initialTierState(), {
        eventId: e.eventId,
        eventTime: e.eventTime,
        amount,
      });
      tiers.set(e.userId, res.state);
      const reward = cashback.get(e.eventId);
      spends++;
      if (res.cashback.isZero()) {
        expect(reward).toBeUndefined();
        continue;
      }
      expect(reward).toMatchObject({ userId: e.userId, asset: e.asset === USD ? 'BTC' : e.asset });
      expect(reward!.quantity.eq(cashbackQuantity(res.cashback, reward!.price))).toBe(true);
    }
    expect(spends).toBe(r.byType.card_spend);
    expect(Object.values(r.spendsByTier).reduce((a, b) => a + b, 0)).toBe(spends);

    // Nothing was dead-lettered.
    expect(await readAll(config, topicName(config.topicPrefix, 'deadLetter'))).toEqual([]);

    // The CLI, same seed, same tape: byte-identical records appended after the first run's.
    const cli = await runCli(
      ['simulate', '--seed', '7', '--users', '30', '--rate', RATE, '--json', '--topic-prefix', config.topicPrefix],
      {},
      120_000,
    );
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const json = JSON.parse(cli.stdout) as SimulateResult;
    const stable = (x: SimulateResult) => ({ ...x, wallMs: 0, eventsPerSec: 0 });
    expect(stable(json)).toEqual(JSON.parse(JSON.stringify(stable(r))));
    expect(Object.keys(json)).toEqual([
      'mode',
      'seed',
      'users',
      'activeUsers',
      'rate',
      'topics',
      'prices',
      'events',
      'transactions',
      'rewards',
      'byType',
      'spendsByTier',
      'cappedSpends',
      'deadLettered',
      'refused',
      'eventTime',
      'acked',
      'wallMs',
      'eventsPerSec',
      'stoppedBy',
    ]);
    for (const topic of ['transactions', 'rewards'] as const) {
      const all = await readAll(config, topicName(config.topicPrefix, topic));
      const parts = new Map<number, ConsumedRecord[]>();
      for (const rec of all) parts.set(rec.partition, [...(parts.get(rec.partition) ?? []), rec]);
      let total = 0;
      for (const [p, recs] of parts) {
        expect(recs.length % 2, `${topic} p${p}`).toBe(0);
        const half = recs.length / 2;
        total += half;
        for (let i = 0; i < half; i++) {
          expect(recs[half + i]!.key).toBe(recs[i]!.key);
          expect(recs[half + i]!.value!.equals(recs[i]!.value!), `${topic} p${p} #${i}`).toBe(true);
        }
      }
      expect(total).toBe(topic === 'transactions' ? r.transactions : r.rewards);
    }
  });

  it('stops at --count and --duration', async () => {
    const config = await setup();
    const rate = Decimal.parse(RATE, RATE_SCALE);
    const counted = await runSimulate(config, { seed: 3, users: 10, rate, count: 50 });
    expect(counted.transactions).toBe(50);
    expect(counted.stoppedBy).toBe('count');
    const { tx, rw } = await readUserEvents(config);
    expect(tx.events).toHaveLength(50);
    expect(rw.events).toHaveLength(counted.rewards);

    const timed = await runSimulate(config, { seed: 4, users: 10, rate, durationMs: 6 * 3_600_000 });
    expect(timed.stoppedBy).toBe('duration');
    const first = orderPrices(PRICES)[0]!.eventTime;
    expect(Date.parse(timed.eventTime.to!)).toBeLessThan(first + 6 * 3_600_000);
    expect(timed.transactions).toBeGreaterThan(100);
  });

  it('on a signal, stops and flushes exactly what was accepted: a prefix of the full stream', async () => {
    const config = await setup();
    const rate = Decimal.parse('0.5', RATE_SCALE);
    const ac = new AbortController();
    const cut = await runSimulate(config, {
      seed: 3,
      users: 10,
      rate,
      signal: ac.signal,
      progressIntervalMs: 1,
      producer: { maxBatch: 100, lingerMs: 1, maxBuffered: 200 },
      onProgress: (p) => {
        if (p.produced > 0) ac.abort();
      },
    });
    expect(cut.stoppedBy).toBe('signal');
    expect(cut.events).toBeGreaterThan(0);
    expect(cut.acked).toBe(cut.events);
    const ordered = orderPrices(PRICES);
    const full = simulate(PRICES, {
      seed: 3,
      users: 10,
      rate,
      signupSpanMs: ordered.at(-1)!.eventTime - ordered[0]!.eventTime,
    });
    expect(cut.events).toBeLessThan(full.events.length);
    const { tx, rw } = await readUserEvents(config);
    const got = [...tx.events, ...rw.events].sort(byEventOrder);
    expect(JSON.stringify(got)).toBe(JSON.stringify(full.events.slice(0, cut.events)));
  });

  it('the CLI prints progress and, on SIGINT, flushes what was accepted and exits 0 with its summary', async () => {
    const config = await setup();
    const child = spawn(
      process.execPath,
      [BIN, 'simulate', '--seed', '5', '--users', '20', '--rate', '2', '--topic-prefix', config.topicPrefix],
      { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    await new Promise<void>((res) => {
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
        // Interrupt once a progress line shows events going out.
        if (/simulate \d+s {2}sent [1-9]/.test(stderr)) res();
      });
    });
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z simulate: 1,800 price events read\n/);
    expect(stderr).toMatch(
      /simulate \d+s {2}sent [\d,]+ \([\d,]+\/s\) {2}tx [\d,]+ {2}rewards [\d,]+ {2}acked [\d,]+ {2}errors 0 {2}event time 2024-/,
    );
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    const m =
      /^([\d,]+) events \(([\d,]+) transactions, ([\d,]+) rewards\) from [\d,]+ prices, seed 5, \d+\/20 users active, bounded$/.exec(
        lines[0]!,
      );
    expect(m, lines[0]).not.toBeNull();
    expect(lines[1]).toMatch(
      /^buy [\d,]+, sell [\d,]+, deposit [\d,]+, withdrawal [\d,]+, stake [\d,]+, unstake [\d,]+, card_spend [\d,]+, cashback [\d,]+, staking [\d,]+$/,
    );
    expect(lines[2]).toMatch(/^card spend by tier: Bronze [\d,]+, Silver [\d,]+, Gold [\d,]+, Platinum [\d,]+$/);
    expect(lines[3]).toMatch(/^event time 2024-03-09T20:\d\d:\d\d\.\d{3}Z \.\. 2024-03-\d\dT[\d:.]+Z$/);
    expect(lines[4]).toBe(
      `→ ${config.topicPrefix}raw.transactions, ${config.topicPrefix}raw.rewards; ${m![1]} records acknowledged, 0 dead-lettered → ${config.topicPrefix}dlq`,
    );
    expect(lines[5]).toMatch(/^\d+\.\d s, [\d,]+ events\/s, stopped by signal$/);
    const num = (x: string) => Number(x.replaceAll(',', ''));
    const { tx, rw } = await readUserEvents(config);
    expect(tx.events).toHaveLength(num(m![2]!));
    expect(rw.events).toHaveLength(num(m![3]!));
    // 2 events/s over 50 h would be 360,000 transactions: the signal cut it short.
    expect(num(m![2]!)).toBeLessThan(360_000);
  });

  it('fails clearly when the price topic does not exist, and produces nothing from an empty one', async () => {
    const config = testConfig();
    cleanupTopicsAfter(config);
    await expect(
      runSimulate(config, { seed: 1, users: 5, rate: Decimal.parse('1', RATE_SCALE) }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const cli = await runCli(['simulate', '--topic-prefix', config.topicPrefix]);
    expect(cli.code).toBe(5);
    expect(cli.stderr).toMatch(/^Error: price topic .*raw\.prices does not exist\nHint: /);

    const empty = await setup([]);
    const r = await runSimulate(empty, { seed: 1, users: 5, rate: Decimal.parse('1', RATE_SCALE) });
    expect(r.events).toBe(0);
    expect(r.prices.read).toBe(0);
  });

  it('--follow tails new prices and stops at --count', async () => {
    const config = await setup([]);
    let ready = false;
    const run = runSimulate(config, {
      seed: 9,
      users: 5,
      rate: Decimal.parse('50', RATE_SCALE),
      count: 40,
      follow: true,
      reorderMs: 1000,
      onReady: () => {
        ready = true;
      },
    });
    let finished = false;
    void run.finally(() => {
      finished = true;
    });
    // Keep a live tape going (one tick per symbol per second of event time) until the run is done:
    // the new consumer group starts at the log end, so ticks before it joined are not seen.
    const t0 = Date.now();
    for (let i = 0; !finished && Date.now() - t0 < 45_000; i++) {
      if (ready) {
        await produce(
          config,
          ['BTCUSDT', 'ETHUSDT'].map((symbol) => ({
            kind: 'price' as const,
            eventId: `synthetic:${symbol}:${i}`,
            symbol,
            price: Decimal.parse(symbol === 'BTCUSDT' ? '60000' : '3000', PRICE_SCALE),
            quantity: Decimal.parse('1', QTY_SCALE),
            eventTime: t0 + i * 1000,
            tradeId: String(i),
            source: 'synthetic' as const,
          })),
        );
      }
      await new Promise((res) => setTimeout(res, 200));
    }
    const r = await run;
    expect(r.mode).toBe('follow');
    expect(r.stoppedBy).toBe('count');
    expect(r.transactions).toBe(40);
    const { tx, rw } = await readUserEvents(config);
    expect(tx.events).toHaveLength(40);
    expect(rw.events).toHaveLength(r.rewards);
    // Replayed with the rewards (cashback adds units the later events may use).
    expect(applyAll(new Map(), [...tx.events, ...rw.events]).rejected).toEqual([]);
  });
});
