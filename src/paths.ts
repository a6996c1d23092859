import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (where package.json lives), whether running from src/ (tests) or dist/. */
const findRoot = (): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('cryptolambda: package root not found');
};

export const PACKAGE_ROOT = findRoot();
export const packagePath = (...parts: string[]): string => path.join(PACKAGE_ROOT, ...parts);
