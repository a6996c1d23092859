import { describe, expect, it } from 'vitest';
import { decodeDeadLetter } from '../../../src/adapters/avro/codec.js';
import { runIngestRaw } from '../../../src/app/batch/ingest-raw.js';
import { runBatch } from '../../../src/app/batch/run-batch.js';
import { Decimal, PRICE_SCALE } from '../../../src/core/money/decimal.js';
import { dayOf } from '../../../src/core/speed/user-ledger.js';
import { topicName } from '../../../src/core/topics.js';
import { dayEnd } from '../../../src/core/warehouse/day-build.js';
import { type GoldenCase, loadGoldenCases, validateInput } from '../../support/golden.js';
import { readTopics } from '../produce/read-topic.js';
import { batchSetup, produceRaw, withWarehouse } from './support.js';

/**
 * The golden cases (fixtures/golden) through the whole batch path: raw objects produced to Kafka as
 * Avro, `ingest` (invalid ones to the dead-letter topic), `batch` per date, then the published facts
 * compared with the cases' expected positions, valuations, rejects and card-spend cashback.
 *
 * All cases share one lake: user ids get a case prefix (g01-alice), and in cases with a valuation
 * the assets get a case suffix (BTC → BTCG01) so each case can have its own mark price, produced as
 * a trade of <asset>USDT at the end of the case's last date (the close the batch values with).
 */
const cases = loadGoldenCases().filter(
  (c) =>
    (c.input.events?.length ?? 0) > 0 &&
    (c.expected.positions !== undefined || c.expected.tiers !== undefined) &&
    c.input.tiers?.table === undefined,
);

// Sanity: the filter keeps the position, valuation, reject, invalid and default-tier cases.
if (cases.length < 25) throw new Error(`only ${cases.length} golden cases selected`);

const tag = (c: GoldenCase): string => `g${c.file.slice(0, 2)}`;

const renamed = (c: GoldenCase): Record<string, unknown>[] => {
  const sfx = c.expected.valuation ? tag(c).toUpperCase() : '';
  const asset = (a: unknown) => (typeof a === 'string' && a !== 'USD' && sfx ? `${a}${sfx}` : a);
  return (c.input.events ?? []).map((raw) => {
    const r = { ...(raw as Record<string, unknown>) };
    if (typeof r.userId === 'string') r.userId = `${tag(c)}-${r.userId}`;
    if (r.kind !== 'price') {
      if (r.feeAsset === r.asset) r.feeAsset = asset(r.feeAsset);
      r.asset = asset(r.asset);
    }
    return r;
  });
};

/** Mark prices of a case's valuation queries, as trades at the end of its last date. */
const markPrices = (c: GoldenCase, lastDate: string): Record<string, unknown>[] => {
  const sfx = tag(c).toUpperCase();
  const byAsset = new Map<string, Set<string>>();
  for (const q of c.expected.valuation ?? []) byAsset.set(q.asset, (byAsset.get(q.asset) ?? new Set()).add(q.price));
  return [...byAsset]
    .filter(([, prices]) => prices.size === 1)
    .map(([a, prices]) => ({
      kind: 'price',
      eventId: `synthetic:${a}${sfx}USDT:${sfx}`,
      symbol: `${a}${sfx}USDT`,
      price: [...prices][0],
      quantity: '1',
      eventTime: dayEnd(lastDate),
      tradeId: sfx,
      source: 'synthetic',
    }));
};

describe('batch: golden cases through Kafka, ingest and batch', () => {
  it('gives the golden positions, valuations, rejects, dead letters and cashback', async () => {
    const config = await batchSetup();
    const lastDateOf = new Map<string, string>();
    const raws: Record<string, unknown>[] = [];
    for (const c of cases) {
      const dates = validateInput(c).userEvents.map((e) => dayOf(e.eventTime));
      const last = dates.sort().at(-1)!;
      lastDateOf.set(c.file, last);
      raws.push(...renamed(c), ...markPrices(c, last));
    }
    await produceRaw(config, raws);
    const ingest = await runIngestRaw(config);
    const expectedInvalid = cases.flatMap((c) => (c.expected.invalid ?? []).map((i) => i.reason)).sort();
    expect(ingest.deadLetters).toBe(expectedInvalid.length);
    const dlq = await readTopics(config, [topicName(config.topicPrefix, 'deadLetter')]);
    const reasons = dlq.map((r) => {
      const d = decodeDeadLetter(r.value!);
      if (!d.ok) throw new Error(d.reason);
      return d.event.reason;
    });
    expect(reasons.sort()).toEqual(expectedInvalid);

    const dates = [...new Set(ingest.dates)].filter((d) => d >= '2009-01-03').sort();
    for (const date of dates) await runBatch(config, { date });

    await withWarehouse(config.lakeDir, async (duck) => {
      for (const c of cases) {
        const t = tag(c);
        const sfx = c.expected.valuation ? t.toUpperCase() : '';
        const unname = (r: Record<string, string | null>) => ({
          ...r,
          userId: r.userId!.slice(t.length + 1),
          ...(r.asset ? { asset: sfx ? r.asset.slice(0, -sfx.length) : r.asset } : {}),
        });
        const date = lastDateOf.get(c.file)!;
        const like = `${t}-%`;
        if (c.expected.positions) {
          // Every position of the case's users at the end of its last date, from the carried state.
          const snap = await duck.rows<{ s: string }>(
            `SELECT state_json AS s FROM snapshot_user_state WHERE date = $1::DATE AND user_id LIKE $2 ORDER BY user_id`,
            [date, like],
          );
          const fromSnapshot = snap
            .flatMap((r) => JSON.parse(r.s).positions as Record<string, string>[])
            .map((p) =>
              unname({
                userId: p.userId!,
                asset: p.asset!,
                quantity: p.quantity!,
                staked: p.staked!,
                costBasis: p.costBasis!,
                realizedPnl: p.realizedPnl!,
                feesPaid: p.feesPaid!,
                rewardIncome: p.rewardIncome!,
              }),
            )
            .sort((a, b) => `${a.userId}|${a.asset}`.localeCompare(`${b.userId}|${b.asset}`));
          expect(fromSnapshot, c.file).toEqual(c.expected.positions.map(({ avgCost: _a, netInvested: _n, ...p }) => p));
          const facts = (
            await duck.rows<Record<string, string>>(
              `SELECT user_id AS "userId", asset, CAST(quantity_held AS VARCHAR) AS quantity, CAST(staked AS VARCHAR) AS staked,
                      CAST(cost_basis AS VARCHAR) AS "costBasis", CAST(avg_cost_basis AS VARCHAR) AS "avgCost",
                      CAST(realized_pnl AS VARCHAR) AS "realizedPnl", CAST(fees_paid AS VARCHAR) AS "feesPaid",
                      CAST(reward_income AS VARCHAR) AS "rewardIncome", CAST(cost_basis - realized_pnl AS VARCHAR) AS "netInvested"
               FROM fact_portfolio_daily WHERE date = $1::DATE AND user_id LIKE $2 ORDER BY user_id, asset`,
              [date, like],
            )
          ).map(unname);
          const keys = new Set(facts.map((f) => `${f.userId}|${f.asset}`));
          expect(facts, c.file).toEqual(c.expected.positions.filter((p) => keys.has(`${p.userId}|${p.asset}`)));
          for (const p of c.expected.positions)
            if (p.quantity !== '0.000000000000000000') expect(keys.has(`${p.userId}|${p.asset}`), c.file).toBe(true);
        }
        if (c.expected.valuation) {
          const rows = await duck.rows<Record<string, string>>(
            `SELECT user_id AS "userId", asset, CAST(close_price AS VARCHAR) AS close,
                    CAST(market_value AS VARCHAR) AS "marketValue", CAST(unrealized_pnl AS VARCHAR) AS "unrealizedPnl"
             FROM fact_portfolio_daily WHERE date = $1::DATE AND user_id LIKE $2`,
            [date, like],
          );
          const got = new Map(rows.map((r) => [`${r.userId}|${r.asset}`, r]));
          const priced = new Set(markPrices(c, date).map((p) => String(p.symbol).slice(0, -4 - sfx.length)));
          for (const q of c.expected.valuation.filter((v) => priced.has(v.asset))) {
            const r = got.get(`${t}-${q.userId}|${q.asset}${sfx}`);
            expect(r, `${c.file} ${q.userId}/${q.asset}`).toBeDefined();
            expect(r!.close, c.file).toBe(Decimal.parse(q.price, PRICE_SCALE).toString());
            expect({ marketValue: r!.marketValue, unrealizedPnl: r!.unrealizedPnl }, c.file).toEqual({
              marketValue: q.marketValue,
              unrealizedPnl: q.unrealizedPnl,
            });
          }
        }
        if (c.expected.rejected) {
          const rows = await duck.rows<{ eventId: string; code: string }>(
            `SELECT event_id AS "eventId", code FROM batch_rejects WHERE user_id LIKE $1 AND code <> 'DUPLICATE' ORDER BY event_id`,
            [like],
          );
          expect(rows, c.file).toEqual([...c.expected.rejected].sort((a, b) => a.eventId.localeCompare(b.eventId)));
        }
        for (const u of c.expected.tiers ?? []) {
          // Card spend and cashback owed per day: the tier engine's per-spend results summed by date.
          const timeOf = new Map(validateInput(c).userEvents.map((e) => [e.eventId, e.eventTime]));
          const perDay = new Map<string, { spend: bigint; owed: bigint; capped: bigint }>();
          const units = (s: string) => BigInt(s.replace('.', ''));
          for (const s of u.spends) {
            const d = dayOf(timeOf.get(s.eventId)!);
            const cur = perDay.get(d) ?? { spend: 0n, owed: 0n, capped: 0n };
            perDay.set(d, {
              spend: cur.spend + units(s.amount),
              owed: cur.owed + units(s.cashback),
              capped: cur.capped + units(s.capped),
            });
          }
          const rows = await duck.rows<{ d: string; spend: string; owed: string; capped: string }>(
            `SELECT CAST(date AS VARCHAR) AS d, CAST(spend AS VARCHAR) AS spend, CAST(cashback_owed AS VARCHAR) AS owed,
                    CAST(cashback_capped AS VARCHAR) AS capped
             FROM fact_reward_daily WHERE user_id = $1 AND spend > 0 ORDER BY date`,
            [`${t}-${u.userId}`],
          );
          expect(
            rows.map((r) => ({ d: r.d, spend: units(r.spend), owed: units(r.owed), capped: units(r.capped) })),
            `${c.file} ${u.userId}`,
          ).toEqual([...perDay].sort().map(([d, v]) => ({ d, ...v })));
        }
      }
    });
  });
});
