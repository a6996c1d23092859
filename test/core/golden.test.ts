import { describe, expect, it } from 'vitest';
import { actualFor, type GoldenCase, loadGoldenCases, validateInput } from '../support/golden.js';

const cases = loadGoldenCases();
const FIELDS = [
  'invalid',
  'positions',
  'valuation',
  'rejected',
  'candles',
  'lateness',
  'tiers',
  'correlation',
] as const satisfies readonly (keyof GoldenCase['expected'])[];

describe('golden cases (fixtures/golden)', () => {
  it('has the hand-worked catalogue', () => {
    expect(cases.length).toBeGreaterThanOrEqual(32);
    for (const c of cases) {
      expect(c.file).toMatch(/^\d{2}-[a-z0-9-]+\.json$/);
      expect(c.name.length).toBeGreaterThan(0);
      expect((Array.isArray(c.why) ? c.why.join('\n') : c.why).length).toBeGreaterThan(40);
      const named = FIELDS.filter((f) => c.expected[f] !== undefined);
      expect(named.length, `${c.file} expects nothing`).toBeGreaterThan(0);
      expect(Object.keys(c.expected).filter((k) => !(FIELDS as readonly string[]).includes(k))).toEqual([]);
    }
  });

  describe.each(cases.map((c) => [c.file, c] as const))('%s', (_file, c) => {
    it('input passes validation except the events listed as invalid', () => {
      expect(validateInput(c).invalid).toEqual(c.expected.invalid ?? []);
    });

    // Computed on first use so a case whose input breaks the core fails its own tests, not collection.
    let actual: GoldenCase['expected'] | undefined;
    for (const field of FIELDS) {
      if (c.expected[field] === undefined) continue;
      it(`${field} matches the hand working`, () => {
        actual ??= actualFor(c);
        expect(actual[field]).toEqual(c.expected[field]);
      });
    }
  });
});
