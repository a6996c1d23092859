import type { Decimal } from '../money/decimal.js';
import { type PositionJson, positionFromJson } from '../portfolio/codec.js';
import { type LotQueueJson, type LotSummary, summarizeLotJson } from '../portfolio/lots.js';
import type { Position } from '../portfolio/position.js';
import { type DayRewardsJson, dayFromJson, dayOf } from '../speed/user-ledger.js';

/**
 * Reconciliation of one date, pure: the batch facts of D against the speed layer's end-of-day state
 * of D, per user and asset and per user's day rewards. Both layers run the same core functions, so
 * the expectation is equality to the last unit, not a tolerance: any difference is a finding.
 *
 * Scope: users with events on D on either side (batch: a fact_reward_daily row of D, or a position
 * row with events_day > 0; speed: a member of `days:<D>`).
 *
 * Per asset, a side "has" the asset when its row had events on D or is not flat (quantity, staked and
 * cost basis zero): the batch writes no row for a flat position without events that day, while the
 * speed layer's end-of-day book keeps every position it ever had, so flat untouched rows are not
 * compared. A speed user whose every event of D was rejected has no end-of-day book (nothing
 * changed); then only batch rows with events on D are expected on the speed side.
 */
export type ReconStatus = 'match' | 'mismatch' | 'missing_in_batch' | 'missing_in_speed';

export interface ReconRow {
  readonly date: string;
  readonly userId: string;
  /** Asset code, or 'rewards' for the day aggregate. */
  readonly subject: string;
  /** Compared field, or '*' for a subject missing on one side. */
  readonly field: string;
  readonly status: ReconStatus;
  readonly batchValue: string | null;
  readonly speedValue: string | null;
  /** speed - batch, exact, for numeric fields that differ or match; null otherwise. */
  readonly difference: string | null;
}

/** A fact_portfolio_daily row of D (the position columns, mirroring core Position). */
export interface BatchPositionRow {
  readonly userId: string;
  readonly asset: string;
  readonly quantity: Decimal;
  readonly staked: Decimal;
  readonly costBasis: Decimal;
  readonly realizedPnl: Decimal;
  readonly feesPaid: Decimal;
  readonly rewardIncome: Decimal;
  readonly eventCount: number;
  readonly eventsDay: number;
  /** The position's open lots of D (fact_lot_daily); absent for builds made before lots existed. */
  readonly lots?: LotSummary;
}

/**
 * An `eod:<user>:<D>` value: the position and, since lots exist, its open lots. A reader may swap
 * `lots` for their summary (`lotsSummary`, summarizeLotJson) as it parses each value, so a page of
 * users never holds every user's lots at once (a heavy user has hundreds of thousands).
 */
export type EodPositionJson = PositionJson & { lots?: LotQueueJson; lotsSummary?: LotSummary };

/** A fact_reward_daily row of D. */
export interface BatchRewardRow {
  readonly userId: string;
  readonly spend: Decimal;
  readonly cashbackOwed: Decimal;
  readonly cashbackCapped: Decimal;
  readonly cashbackPaid: Decimal;
  readonly stakingIncome: Decimal;
  readonly realizedPnl: Decimal;
  readonly tier: string;
  readonly spend30d: Decimal;
  readonly events: number;
  readonly rejected: number;
}

/** One member of `days:<D>` with its `eod:<user>:<D>` book and `rw:<user>:<D>` aggregate. */
export interface SpeedUserDay {
  readonly userId: string;
  /** null when the key does not exist. */
  readonly eod: readonly EodPositionJson[] | null;
  readonly rewards: DayRewardsJson | null;
}

export interface ReconSummary {
  readonly date: string;
  readonly users: number;
  readonly subjects: number;
  readonly fieldsMatched: number;
  readonly fieldsMismatched: number;
  readonly missingInBatch: number;
  readonly missingInSpeed: number;
  /** True when nothing mismatched and nothing is missing. */
  readonly clean: boolean;
}

export interface ReconResult {
  readonly summary: ReconSummary;
  /** Every compared field (fact_reconciliation rows): per user (sorted), the rewards subject, then assets (sorted). */
  readonly rows: ReconRow[];
}

type Value = { kind: 'dec'; v: Decimal } | { kind: 'int'; v: number } | { kind: 'str'; v: string };

const dec = (v: Decimal): Value => ({ kind: 'dec', v });
const int = (v: number): Value => ({ kind: 'int', v });
const str = (v: string): Value => ({ kind: 'str', v });

const text = (x: Value): string => (x.kind === 'dec' ? x.v.toString() : String(x.v));

/** Exact speed - batch, at the wider scale of the two. */
const diff = (speed: Value, batch: Value): string | null => {
  if (speed.kind === 'dec' && batch.kind === 'dec') return speed.v.sub(batch.v).toString();
  if (speed.kind === 'int' && batch.kind === 'int') return String(speed.v - batch.v);
  return null;
};

const same = (a: Value, b: Value): boolean =>
  a.kind === 'dec' && b.kind === 'dec' ? a.v.eq(b.v) : a.kind === b.kind && a.v === b.v;

const POSITION_FIELDS: readonly [string, (p: BatchPositionRow) => Value, (p: Position) => Value][] = [
  ['quantity_held', (b) => dec(b.quantity), (s) => dec(s.quantity)],
  ['staked', (b) => dec(b.staked), (s) => dec(s.staked)],
  ['cost_basis', (b) => dec(b.costBasis), (s) => dec(s.costBasis)],
  ['realized_pnl', (b) => dec(b.realizedPnl), (s) => dec(s.realizedPnl)],
  ['fees_paid', (b) => dec(b.feesPaid), (s) => dec(s.feesPaid)],
  ['reward_income', (b) => dec(b.rewardIncome), (s) => dec(s.rewardIncome)],
  ['event_count', (b) => int(b.eventCount), (s) => int(s.eventCount)],
];

type Day = ReturnType<typeof dayFromJson>;

const REWARD_FIELDS: readonly [string, (b: BatchRewardRow) => Value, (s: Day) => Value][] = [
  ['spend', (b) => dec(b.spend), (s) => dec(s.spend)],
  ['cashback_owed', (b) => dec(b.cashbackOwed), (s) => dec(s.cashbackOwed)],
  ['cashback_capped', (b) => dec(b.cashbackCapped), (s) => dec(s.cashbackCapped)],
  ['cashback_paid', (b) => dec(b.cashbackPaid), (s) => dec(s.cashbackPaid)],
  ['staking_income', (b) => dec(b.stakingIncome), (s) => dec(s.stakingIncome)],
  ['realized_pnl', (b) => dec(b.realizedPnl), (s) => dec(s.realizedPnl)],
  ['tier_at_time', (b) => str(b.tier), (s) => str(s.tier)],
  ['rolling_30d_spend', (b) => dec(b.spend30d), (s) => dec(s.spend30d)],
  ['events', (b) => int(b.events), (s) => int(s.events)],
  ['rejected', (b) => int(b.rejected), (s) => int(s.rejected)],
];

const flatBatch = (b: BatchPositionRow): boolean => b.quantity.isZero() && b.staked.isZero() && b.costBasis.isZero();
const flatSpeed = (p: Position): boolean => p.quantity.isZero() && p.staked.isZero() && p.costBasis.isZero();

const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export const reconcileDay = (
  date: string,
  batchPositions: readonly BatchPositionRow[],
  batchRewards: readonly BatchRewardRow[],
  speedUsers: readonly SpeedUserDay[],
): ReconResult => {
  const posByUser = new Map<string, BatchPositionRow[]>();
  for (const p of batchPositions) posByUser.set(p.userId, [...(posByUser.get(p.userId) ?? []), p]);
  const rwByUser = new Map(batchRewards.map((r) => [r.userId, r]));
  const speedByUser = new Map(speedUsers.map((s) => [s.userId, s]));

  const users = new Set<string>([...rwByUser.keys(), ...speedByUser.keys()]);
  for (const p of batchPositions) if (p.eventsDay > 0) users.add(p.userId);

  const rows: ReconRow[] = [];
  let subjects = 0;
  const push = (userId: string, subject: string, field: string, b: Value | null, s: Value | null): void => {
    const status: ReconStatus =
      b === null ? 'missing_in_batch' : s === null ? 'missing_in_speed' : same(s, b) ? 'match' : 'mismatch';
    rows.push({
      date,
      userId,
      subject,
      field,
      status,
      batchValue: b === null ? null : text(b),
      speedValue: s === null ? null : text(s),
      difference: b === null || s === null ? null : diff(s, b),
    });
  };

  for (const userId of [...users].sort(cmpStr)) {
    const speed = speedByUser.get(userId);
    // Rewards aggregate of the day.
    const br = rwByUser.get(userId);
    const sr = speed?.rewards ? dayFromJson(speed.rewards) : undefined;
    if (br !== undefined || sr !== undefined) {
      subjects++;
      if (br !== undefined && sr !== undefined)
        for (const [f, fb, fs] of REWARD_FIELDS) push(userId, 'rewards', f, fb(br), fs(sr));
      else push(userId, 'rewards', '*', br ? str('present') : null, sr ? str('present') : null);
    }
    // Positions.
    const batchRows = new Map((posByUser.get(userId) ?? []).map((p) => [p.asset, p]));
    const eod = speed?.eod ?? null;
    const speedBook = new Map((eod ?? []).map((j) => [j.asset, positionFromJson(j)]));
    const speedLots = new Map(
      (eod ?? []).flatMap((j) =>
        j.lotsSummary
          ? [[j.asset, j.lotsSummary] as const]
          : j.lots
            ? [[j.asset, summarizeLotJson(j.lots)] as const]
            : [],
      ),
    );
    const bookKnown = eod !== null;
    const assets = new Set([...batchRows.keys(), ...speedBook.keys()]);
    for (const asset of [...assets].sort(cmpStr)) {
      const b = batchRows.get(asset);
      const s = speedBook.get(asset);
      const bHas = b !== undefined && (b.eventsDay > 0 || !flatBatch(b));
      const sHas = s !== undefined && (dayOf(s.lastEventTime) === date || !flatSpeed(s));
      if (b !== undefined && s !== undefined) {
        subjects++;
        for (const [f, fb, fs] of POSITION_FIELDS) push(userId, asset, f, fb(b), fs(s));
        // Lots are compared when both sides carry them (builds and checkpoints made since lots exist).
        const l = speedLots.get(asset);
        if (b.lots !== undefined && l !== undefined) {
          push(userId, asset, 'open_lots', int(b.lots.count), int(l.count));
          push(userId, asset, 'lots_quantity', dec(b.lots.quantity), dec(l.quantity));
          push(userId, asset, 'lots_cost', dec(b.lots.cost), dec(l.cost));
          push(userId, asset, 'lots_digest', str(b.lots.digest), str(l.digest));
        }
      } else if (b !== undefined && bHas && (bookKnown || b.eventsDay > 0)) {
        subjects++;
        push(userId, asset, '*', str('present'), null);
      } else if (s !== undefined && sHas) {
        subjects++;
        push(userId, asset, '*', null, str('present'));
      }
    }
  }
  const count = (st: ReconStatus) => rows.filter((r) => r.status === st).length;
  const mismatched = count('mismatch');
  const missingInBatch = count('missing_in_batch');
  const missingInSpeed = count('missing_in_speed');
  return {
    summary: {
      date,
      users: users.size,
      subjects,
      fieldsMatched: count('match'),
      fieldsMismatched: mismatched,
      missingInBatch,
      missingInSpeed,
      clean: mismatched + missingInBatch + missingInSpeed === 0,
    },
    rows,
  };
};

/**
 * The summary of a day reconciled in pages of whole users (reconcileDay per page): every figure is
 * a per-user sum, so adding the pages' summaries gives the summary of reconcileDay over the day.
 */
export const addSummaries = (date: string, parts: readonly ReconSummary[]): ReconSummary => {
  const sum = (f: (s: ReconSummary) => number) => parts.reduce((n, s) => n + f(s), 0);
  const fieldsMismatched = sum((s) => s.fieldsMismatched);
  const missingInBatch = sum((s) => s.missingInBatch);
  const missingInSpeed = sum((s) => s.missingInSpeed);
  return {
    date,
    users: sum((s) => s.users),
    subjects: sum((s) => s.subjects),
    fieldsMatched: sum((s) => s.fieldsMatched),
    fieldsMismatched,
    missingInBatch,
    missingInSpeed,
    clean: fieldsMismatched + missingInBatch + missingInSpeed === 0,
  };
};
