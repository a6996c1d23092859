import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RawSnapshot } from '../../../src/core/ticker/snapshot.js';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../fixtures/ticker');

/** A captured speed-layer snapshot (fixtures/ticker/<name>.json), as the Redis source returns it. */
export const loadSnapshot = (name: 'live' | 'stale' | 'empty'): RawSnapshot =>
  JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8')) as RawSnapshot;
