import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * A Python venv under the cache dir with `packages` from PyPI, created on first use (opt-in tests
 * only: pyspark and apache-airflow are hundreds of MB). Returns the venv's bin directory.
 */
export const ensureVenv = (cacheDir: string, name: string, packages: readonly string[]): string => {
  const dir = path.join(cacheDir, 'venvs', name);
  const bin = path.join(dir, 'bin');
  if (!existsSync(path.join(dir, '.complete'))) {
    const python = process.env.PYTHON ?? 'python3';
    execFileSync(python, ['-m', 'venv', dir], { stdio: 'inherit' });
    execFileSync(path.join(bin, 'pip'), ['install', '--quiet', ...packages], { stdio: 'inherit', timeout: 900_000 });
    execFileSync('touch', [path.join(dir, '.complete')]);
  }
  return bin;
};
