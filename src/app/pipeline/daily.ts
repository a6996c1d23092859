import { setTimeout as sleepTimer } from 'node:timers/promises';
import type { Duck } from '../../adapters/duckdb/db.js';
import { CryptolambdaError } from '../../core/errors.js';
import type { StepContext, StepDef } from '../../core/pipeline/dag.js';
import {
  DEFAULT_DQ_THRESHOLDS,
  type DqCheck,
  type DqThresholds,
  defaultChecks,
  WAREHOUSE_SCHEMA,
} from '../../core/pipeline/dq.js';
import { dqStep } from './dq-runner.js';

/**
 * The daily DAG of the batch side, as `pipeline run` executes it:
 *
 *   sensor ──► ingest ──► batch ──► dq ──► reconcile ──► retire
 *
 * - sensor: waits until date D is complete: the speed layer's watermark (min over live partitions,
 *   idle ones excluded) has passed the end of D plus the allowed lateness, so no on-time event of D
 *   can still arrive. Times out after `sensorTimeoutMs` (retried by the next run).
 * - ingest: Kafka → Parquet raw zone up to the current end offsets (atomic manifest), then checks
 *   the manifest holds D (files under dt=D), unless `allowEmpty`.
 * - batch: builds D's star schema (portfolio snapshot and reward summary are published in one
 *   atomic commit, so the two can never disagree; that is why they are one step here).
 * - dq: the data-quality gate, checks declared as data; a violation blocks reconcile and alerts.
 * - reconcile: batch facts of D vs the speed layer's end-of-day state; any difference fails the run.
 * - retire: the batch now covers D, so the speed layer's per-day keys of D expire soon
 *   (`speedRetentionSec`) instead of after the stream's 8 days.
 *
 * The functions doing the work are injected (`DailyDeps`), so the DAG and its gates are tested with
 * the real implementations in integration tests and stay independent of how each is built.
 */
export interface DailyDeps {
  /** Current speed-layer watermark in ms (undefined when the speed layer has not seen data yet). */
  readonly watermark: () => Promise<number | undefined>;
  /** Ingest what Kafka holds now; returns rows landed. */
  readonly ingest: (signal: AbortSignal, log: (m: string) => void) => Promise<{ rows: number }>;
  /** Dates present in the raw zone (dt= partitions). */
  readonly rawDates: () => Promise<readonly string[]>;
  /** Build date D; returns rows written across the facts. */
  readonly batch: (
    date: string,
    log: (m: string) => void,
    opts: { readonly allowEmpty: boolean; readonly signal?: AbortSignal },
  ) => Promise<{ rows: number; detail?: string }>;
  /** A connection with the warehouse views, for the DQ checks (closed by `release`). */
  readonly warehouse: () => Promise<Duck>;
  /** Reconcile D; `mismatches` counts mismatched and missing rows. */
  readonly reconcile: (date: string) => Promise<{ compared: number; mismatches: number; summary: string }>;
  /** Shorten the TTL of the speed layer's per-day keys of D; returns the keys changed. */
  readonly retire: (date: string, ttlSec: number) => Promise<{ users: number; keys: number }>;
}

export interface DailyOptions {
  /** Event-time slack after the end of D before D counts as complete (the stream's allowed lateness). */
  readonly allowedLatenessMs: number;
  readonly sensorTimeoutMs: number;
  readonly sensorPollMs?: number;
  readonly allowEmpty?: boolean;
  readonly checks?: readonly DqCheck[];
  /** Check ids not run this time (`pipeline run --skip-check`); the dq step records them in the ledger. */
  readonly skipChecks?: readonly string[];
  readonly retries?: number;
  readonly backoffMs?: number;
  /** How long the speed layer's keys of a date live once the batch covered it (default 2 days). */
  readonly speedRetentionSec?: number;
}

export const DEFAULT_SPEED_RETENTION_SEC = 2 * 86_400;

const endOfDay = (date: string): number => Date.parse(`${date}T00:00:00.000Z`) + 86_400_000;

/**
 * The data-quality checks of the daily run: the defaults plus valuation completeness (every
 * position's asset has a price at or before the end of the day, so market value is never missing).
 */
export const dailyChecks = (th: DqThresholds = DEFAULT_DQ_THRESHOLDS): DqCheck[] => [
  ...defaultChecks(WAREHOUSE_SCHEMA, th),
  {
    id: 'fact_portfolio_daily.close_price.not_null',
    kind: 'not_null',
    table: 'fact_portfolio_daily',
    dateColumn: 'date',
    columns: ['close_price'],
  },
];

export const dailySteps = (deps: DailyDeps, o: DailyOptions): StepDef[] => {
  const retries = o.retries ?? 2;
  const backoffMs = o.backoffMs ?? 2000;
  return [
    {
      name: 'sensor',
      dependsOn: [],
      retries: 0,
      backoffMs: 0,
      run: async (ctx: StepContext) => {
        const needed = endOfDay(ctx.date) + o.allowedLatenessMs;
        const deadline = Date.now() + o.sensorTimeoutMs;
        for (;;) {
          const wm = await deps.watermark();
          if (wm !== undefined && wm >= needed) {
            return { detail: `watermark ${new Date(wm).toISOString()} passed ${new Date(needed).toISOString()}` };
          }
          if (Date.now() >= deadline || ctx.signal.aborted) {
            throw new CryptolambdaError(
              'PIPELINE_FAILED',
              `${ctx.date} is not complete: speed-layer watermark ${wm === undefined ? 'unknown' : new Date(wm).toISOString()} has not passed ${new Date(needed).toISOString()} after ${Math.round(o.sensorTimeoutMs / 1000)} s`,
              'is `cryptolambda stream` running and are prices flowing? raise --sensor-timeout to wait longer',
            );
          }
          ctx.log(`waiting for the watermark to pass ${new Date(needed).toISOString()}`);
          await sleepTimer(o.sensorPollMs ?? 2000, undefined, { signal: ctx.signal }).catch(() => undefined);
        }
      },
    },
    {
      name: 'ingest',
      dependsOn: ['sensor'],
      retries,
      backoffMs,
      run: async (ctx) => {
        const r = await deps.ingest(ctx.signal, ctx.log);
        const dates = await deps.rawDates();
        if (!dates.includes(ctx.date) && !o.allowEmpty) {
          // NO_DATA is not retriable (CryptolambdaError decides per code): the data will not appear.
          throw new CryptolambdaError(
            'NO_DATA',
            `the raw zone has no data for ${ctx.date} after ingest`,
            'check the producers, or pass --allow-empty for a day without events',
          );
        }
        return { rows: r.rows, detail: `${r.rows} rows landed; raw zone holds ${ctx.date}` };
      },
    },
    {
      name: 'batch',
      dependsOn: ['ingest'],
      retries,
      backoffMs,
      run: async (ctx) => deps.batch(ctx.date, ctx.log, { allowEmpty: o.allowEmpty === true, signal: ctx.signal }),
    },
    dqStep({
      name: 'dq',
      dependsOn: ['batch'],
      checks: o.checks ?? dailyChecks(),
      skip: o.skipChecks ?? [],
      connect: () => deps.warehouse(),
      release: (duck) => duck.close(),
    }),
    {
      name: 'reconcile',
      dependsOn: ['dq'],
      retries: 0,
      backoffMs: 0,
      run: async (ctx) => {
        const r = await deps.reconcile(ctx.date);
        if (r.mismatches > 0) {
          throw new CryptolambdaError('RECONCILE_MISMATCH', `reconcile ${ctx.date}: ${r.summary}`);
        }
        return { rows: r.compared, detail: r.summary };
      },
    },
    {
      name: 'retire',
      dependsOn: ['reconcile'],
      retries,
      backoffMs,
      run: async (ctx) => {
        const ttl = o.speedRetentionSec ?? DEFAULT_SPEED_RETENTION_SEC;
        const r = await deps.retire(ctx.date, ttl);
        return { rows: r.keys, detail: `${r.keys} speed-layer keys of ${r.users} users now expire within ${ttl} s` };
      },
    },
  ];
};
