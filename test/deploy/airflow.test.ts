import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { STEP_NAMES } from '../../src/commands/pipeline/step.js';
import { resolveConfig } from '../../src/config/config.js';
import { ensureVenv } from '../support/venv.js';

const DAG = path.resolve('deploy/airflow/cryptolambda_daily.py');

describe('deploy/airflow DAG (static)', () => {
  it('maps every pipeline step to a task, in the DAG order', () => {
    const src = readFileSync(DAG, 'utf8');
    expect(/STEPS = \[(.*)\]/.exec(src)?.[1]).toBe(STEP_NAMES.map((s) => `"${s}"`).join(', '));
  });
});

/**
 * Opt-in (CRYPTOLAMBDA_TEST_AIRFLOW=1): a venv with apache-airflow from PyPI imports the DAG
 * through Airflow's DagBag (import errors fail), checks tasks, order and commands, then runs
 * `airflow dags test` with CRYPTOLAMBDA_BIN pointing at a recorder, so every BashOperator really
 * executes in dependency order with the rendered date.
 */
describe.skipIf(!process.env.CRYPTOLAMBDA_TEST_AIRFLOW)('deploy/airflow DAG in a real Airflow', () => {
  it('imports with apache-airflow and `airflow dags test` runs the six steps in order', () => {
    const t0 = Date.now();
    const bin = ensureVenv(resolveConfig({}, process.env).cacheDir, 'airflow-2.10.5', ['apache-airflow==2.10.5']);
    const home = mkdtempSync(path.join(tmpdir(), 'airflow-home-'));
    const dags = path.join(home, 'dags');
    execFileSync('mkdir', ['-p', dags]);
    execFileSync('cp', [DAG, dags]);
    const log = path.join(home, 'calls.log');
    const recorder = path.join(home, 'cryptolambda');
    writeFileSync(recorder, `#!/bin/sh\necho "$@" >> ${log}\n`);
    chmodSync(recorder, 0o755);
    const env = {
      ...process.env,
      AIRFLOW_HOME: home,
      AIRFLOW__CORE__DAGS_FOLDER: dags,
      AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
      AIRFLOW__CORE__UNIT_TEST_MODE: 'False',
      CRYPTOLAMBDA_BIN: recorder,
    };
    const inspect = `
import json
from airflow.models import DagBag
bag = DagBag(dag_folder=${JSON.stringify(dags)}, include_examples=False)
assert not bag.import_errors, bag.import_errors
d = bag.get_dag("cryptolambda_daily")
print(json.dumps({
  "tasks": [t.task_id for t in d.topological_sort()],
  "down": {t.task_id: sorted(t.downstream_task_ids) for t in d.tasks},
  "cmd": {t.task_id: t.bash_command for t in d.tasks},
  "ops": sorted({type(t).__name__ for t in d.tasks}),
}))`;
    // DagBag and `dags test` need Airflow's metadata DB (SQLite under AIRFLOW_HOME here).
    execFileSync(path.join(bin, 'airflow'), ['db', 'migrate'], { env, stdio: 'pipe' });
    const out = JSON.parse(
      execFileSync(path.join(bin, 'python'), ['-c', inspect], { env }).toString().trim().split('\n').pop()!,
    );
    expect(out.tasks).toEqual([...STEP_NAMES]);
    expect(out.ops).toEqual(['BashOperator']);
    expect(out.down).toEqual({
      sensor: ['ingest'],
      ingest: ['batch'],
      batch: ['dq'],
      dq: ['reconcile'],
      reconcile: ['retire'],
      retire: [],
    });
    expect(out.cmd.batch).toBe(`${recorder} pipeline step batch --date {{ ds }}`);
    execFileSync(path.join(bin, 'airflow'), ['dags', 'test', 'cryptolambda_daily', '2026-11-24'], {
      env,
      stdio: 'pipe',
      timeout: 600_000,
    });
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      'pipeline step sensor --date 2026-11-24 --sensor-timeout 30m',
      'pipeline step ingest --date 2026-11-24',
      'pipeline step batch --date 2026-11-24',
      'pipeline step dq --date 2026-11-24',
      'pipeline step reconcile --date 2026-11-24',
      'pipeline step retire --date 2026-11-24',
    ]);
    process.stderr.write(`[airflow] opt-in check took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }, 1_200_000);
});
