/**
 * `npm run bench`: runs every benchmark against the local stack and prints one table of the
 * figures each reported through bench/report.ts. Figures only; nothing here asserts a timing.
 *
 *   node .cryptolambda/bench/bench/run-all.js [--only name,name] [--skip name,name]
 *
 * A bench that exits SKIPPED_EXIT (75, bench/report.ts) could not run here (e.g. `peer` without
 * Java/Maven): it prints why, is listed as skipped, and does not fail the run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SKIPPED_EXIT } from './report.js';

interface Figure {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  note: string;
}

/** Each bench with the arguments that keep the whole run within minutes on 2 cores. */
const BENCHES: { name: string; args: string[] }[] = [
  { name: 'producer', args: ['200000', '3'] },
  { name: 'stream', args: [] },
  { name: 'stream-users', args: [] },
  // The same user path in one process (no Kafka, no Redis): CPU per event, GC share, heap per user.
  { name: 'speed-users-core', args: ['200000', '20000'] },
  { name: 'stream-restore', args: [] },
  { name: 'ingest', args: [] },
  { name: 'batch', args: [] },
  // 10k and 100k users; BENCH_RECONCILE_1M=1 adds the 1M-user day.
  { name: 'reconcile', args: [] },
  { name: 'parquet-writers', args: [] },
  { name: 'portfolio', args: [] },
  { name: 'serve', args: [] },
  { name: 'core-replay', args: [] },
  { name: 'speed-order', args: [] },
  { name: 'lots', args: [] },
  { name: 'bootstrap', args: [] },
  // Kafka Streams side by side (bench/peer.ts): needs Java 17 + Maven; --skip peer leaves it out,
  // BENCH_PEER_SIZES=30000,300000 changes the sizes (default 30k, 300k, 3M prices).
  { name: 'peer', args: [] },
];

const here = path.dirname(fileURLToPath(import.meta.url));
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg >= 0 ? new Set((process.argv[onlyArg + 1] ?? '').split(',')) : undefined;
const skipArg = process.argv.indexOf('--skip');
const skip = new Set(skipArg >= 0 ? (process.argv[skipArg + 1] ?? '').split(',') : []);
const skipped: string[] = [];
const resultFile = path.join(mkdtempSync(path.join(tmpdir(), 'cl-bench-')), 'results.jsonl');
const failures: string[] = [];

for (const b of BENCHES) {
  if ((only && !only.has(b.name)) || skip.has(b.name)) continue;
  const script = path.join(here, `${b.name}.js`);
  if (!existsSync(script)) {
    failures.push(`${b.name}: not built (${script} missing)`);
    continue;
  }
  process.stderr.write(`\n== bench ${b.name} ${b.args.join(' ')}\n`);
  const r = spawnSync(process.execPath, ['--expose-gc', script, ...b.args], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_RESULT_FILE: resultFile },
  });
  if (r.status === SKIPPED_EXIT) skipped.push(b.name);
  else if (r.status !== 0) failures.push(`${b.name}: exit ${r.status ?? r.signal}`);
}

const figures: Figure[] = existsSync(resultFile)
  ? readFileSync(resultFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Figure)
  : [];
const fmt = (v: number): string =>
  Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toLocaleString('en-US', { maximumFractionDigits: 3 });
const rows = figures.map((f) => [f.bench, f.metric, `${fmt(f.value)} ${f.unit}`, f.note]);
const widths = [0, 1, 2, 3].map((i) =>
  Math.max(...[['bench', 'metric', 'value', 'note'][i]!.length, ...rows.map((r) => r[i]!.length)]),
);
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log(`\n${line(['bench', 'metric', 'value', 'note'])}`);
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log(`\nnode ${process.version}, ${new Date().toISOString()}`);
if (skipped.length > 0) console.log(`\nskipped (see their output above): ${skipped.join(', ')}`);
if (failures.length > 0) {
  console.log(`\nnot measured: ${failures.join('; ')}`);
  process.exitCode = 1;
}
