import { CryptolambdaError } from '../errors.js';
import { parseDate } from '../time/date.js';

/**
 * The daily pipeline as data: named steps with dependencies, retry policy and an injected `run`.
 * The steps themselves (ingest, batch, reconcile, dq...) are plain async functions built by the
 * caller with whatever adapters they need captured in closures; this module only decides order
 * and what runs, so it stays pure and testable without any I/O.
 */

/** What a step receives on each attempt. */
export interface StepContext {
  /** The business date being processed, YYYY-MM-DD. */
  readonly date: string;
  /** 1-based attempt number (retries increase it). */
  readonly attempt: number;
  /** Aborted when the run is asked to stop (SIGINT/SIGTERM, scheduler stop). */
  readonly signal: AbortSignal;
  /** True when this step runs because of --force although it had succeeded before. */
  readonly forced: boolean;
  /** Progress line for the human output (stderr) and --debug. */
  readonly log: (msg: string) => void;
}

export interface StepOutcome {
  readonly rows?: number;
  readonly detail?: string;
}

export interface StepDef {
  readonly name: string;
  readonly dependsOn: readonly string[];
  /** Extra attempts after the first failure (0 = run once). */
  readonly retries: number;
  /** Delay before the first retry; doubles on each further retry. */
  readonly backoffMs: number;
  readonly run: (ctx: StepContext) => Promise<StepOutcome>;
}

export const STEP_STATUSES = ['running', 'succeeded', 'failed', 'blocked', 'skipped'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

/** Validates a YYYY-MM-DD calendar date (it also names ledger files, so it must be strict). */
export const assertDate = (date: string): string => parseDate(date, 'date');

export { dateRange } from '../time/date.js';

const STEP_NAME_RE = /^[a-z][a-z0-9_-]{0,63}$/;

/**
 * Step names in an order where every step comes after its dependencies. Ties keep declaration
 * order, so the same DAG always runs in the same order (Kahn's algorithm with a stable queue).
 * Throws INVALID_ARGUMENT for duplicate or malformed names, unknown dependencies and cycles (the
 * message names the cycle).
 */
export const topoOrder = (steps: readonly Pick<StepDef, 'name' | 'dependsOn' | 'retries' | 'backoffMs'>[]) => {
  const byName = new Map<string, (typeof steps)[number]>();
  for (const s of steps) {
    if (!STEP_NAME_RE.test(s.name)) {
      throw new CryptolambdaError('INVALID_ARGUMENT', `invalid step name ${JSON.stringify(s.name)}`);
    }
    if (byName.has(s.name)) throw new CryptolambdaError('INVALID_ARGUMENT', `duplicate step ${s.name}`);
    if (!Number.isInteger(s.retries) || s.retries < 0 || !(s.backoffMs >= 0)) {
      throw new CryptolambdaError('INVALID_ARGUMENT', `step ${s.name}: retries and backoffMs must be >= 0`);
    }
    byName.set(s.name, s);
  }
  for (const s of steps) {
    for (const d of s.dependsOn) {
      if (!byName.has(d)) throw new CryptolambdaError('INVALID_ARGUMENT', `step ${s.name} depends on unknown ${d}`);
      if (d === s.name) throw new CryptolambdaError('INVALID_ARGUMENT', `dependency cycle: ${d} -> ${d}`);
    }
  }
  const indegree = new Map(steps.map((s) => [s.name, new Set(s.dependsOn).size]));
  const order: string[] = [];
  const done = new Set<string>();
  while (order.length < steps.length) {
    const next = steps.find((s) => !done.has(s.name) && indegree.get(s.name) === 0);
    if (!next) throw new CryptolambdaError('INVALID_ARGUMENT', `dependency cycle: ${findCycle(steps, done)}`);
    order.push(next.name);
    done.add(next.name);
    for (const s of steps) if (new Set(s.dependsOn).has(next.name)) indegree.set(s.name, indegree.get(s.name)! - 1);
  }
  return order;
};

/** A cycle among the steps Kahn's algorithm could not order, as "a -> b -> a". */
const findCycle = (steps: readonly Pick<StepDef, 'name' | 'dependsOn'>[], done: ReadonlySet<string>): string => {
  const deps = new Map(steps.map((s) => [s.name, s.dependsOn.filter((d) => !done.has(d))]));
  // Every remaining step has a remaining dependency, so walking dependencies must revisit a node.
  const start = steps.find((s) => !done.has(s.name))!.name;
  const path: string[] = [];
  const seen = new Map<string, number>();
  let cur = start;
  while (!seen.has(cur)) {
    seen.set(cur, path.length);
    path.push(cur);
    cur = deps.get(cur)![0]!;
  }
  return [...path.slice(seen.get(cur)), cur].join(' -> ');
};

/** All steps that (transitively) depend on any of `roots`, roots excluded. */
export const downstreamOf = (steps: readonly Pick<StepDef, 'name' | 'dependsOn'>[], roots: Iterable<string>) => {
  const out = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const cur = queue.shift()!;
    for (const s of steps) {
      if (s.dependsOn.includes(cur) && !out.has(s.name)) {
        out.add(s.name);
        queue.push(s.name);
      }
    }
  }
  return out;
};

/**
 * What previous runs of a date left behind, per step: the last status that was not 'skipped'
 * ('skipped' means "already done earlier", so it inherits). `runs` oldest first.
 */
export const effectiveStatuses = (
  runs: readonly { readonly steps: readonly { readonly name: string; readonly status: StepStatus }[] }[],
): Map<string, StepStatus> => {
  const out = new Map<string, StepStatus>();
  for (const r of runs) for (const s of r.steps) if (s.status !== 'skipped') out.set(s.name, s.status);
  return out;
};

/** `true` = every step; a list = those steps and everything downstream of them. */
export type Force = boolean | readonly string[];

export interface PlannedStep {
  readonly name: string;
  readonly action: 'run' | 'skip';
  readonly forced: boolean;
  readonly reason: string;
}

/**
 * Decide, before a run starts, which steps run and which are skipped. A step that succeeded in an
 * earlier run of the date is skipped unless forced; forcing a step also reruns its dependents,
 * since their inputs change. Anything else (never run, failed, blocked, or left 'running' by a
 * process that died) runs. Whether a step is then blocked is decided while running (`blockedBy`).
 */
export const planRun = (
  steps: readonly Pick<StepDef, 'name' | 'dependsOn' | 'retries' | 'backoffMs'>[],
  previous: ReadonlyMap<string, StepStatus>,
  force: Force = false,
): PlannedStep[] => {
  const order = topoOrder(steps);
  let forcedSet: Set<string>;
  if (force === true) forcedSet = new Set(order);
  else if (force === false) forcedSet = new Set();
  else {
    for (const f of force) {
      if (!order.includes(f)) throw new CryptolambdaError('INVALID_ARGUMENT', `--force names unknown step ${f}`);
    }
    forcedSet = new Set([...force, ...downstreamOf(steps, force)]);
  }
  return order.map((name) => {
    const prev = previous.get(name);
    if (prev === 'succeeded') {
      return forcedSet.has(name)
        ? { name, action: 'run', forced: true, reason: 'forced' }
        : { name, action: 'skip', forced: false, reason: 'succeeded in an earlier run' };
    }
    return {
      name,
      action: 'run',
      forced: false,
      reason: prev === undefined ? 'not run yet' : prev === 'running' ? 'interrupted earlier' : `was ${prev}`,
    };
  });
};

/**
 * While running: the first dependency of `step` that failed or is blocked in this run, if any (then
 * the step is recorded 'blocked' instead of running). `current` holds this run's statuses so far;
 * skipped dependencies count as succeeded.
 */
export const blockedBy = (
  step: Pick<StepDef, 'dependsOn'>,
  current: ReadonlyMap<string, StepStatus>,
): string | undefined =>
  step.dependsOn.find((d) => {
    const s = current.get(d);
    return s === 'failed' || s === 'blocked' || s === undefined || s === 'running';
  });
