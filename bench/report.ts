import { appendFileSync } from 'node:fs';

/**
 * One measured figure. Each bench prints its own detail; `npm run bench` (bench/run-all.ts) sets
 * BENCH_RESULT_FILE and collects these lines into one summary table.
 */
export const report = (bench: string, metric: string, value: number, unit: string, note = ''): void => {
  const file = process.env.BENCH_RESULT_FILE;
  if (file) appendFileSync(file, `${JSON.stringify({ bench, metric, value, unit, note })}\n`);
};

/** Exit code of a bench that cannot run on this machine (it says why); run-all lists it as skipped. */
export const SKIPPED_EXIT = 75;
