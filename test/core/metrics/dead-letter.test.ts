import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_CATEGORIES, deadLetterCategory } from '../../../src/core/metrics/dead-letter.js';

describe('deadLetterCategory', () => {
  it('maps the free-text reasons the decoders give to a closed label set', () => {
    expect(deadLetterCategory('empty message value')).toBe('empty_value');
    expect(deadLetterCategory('bad magic 6e6f: expected c301 (Avro single-object encoding)')).toBe('bad_header');
    expect(deadLetterCategory('truncated header: 3 bytes, single-object header needs 10')).toBe('bad_header');
    expect(deadLetterCategory('unknown schema fingerprint 0011223344556677')).toBe('unknown_schema');
    expect(deadLetterCategory('schema fingerprint 00 is cl.Trade v1, expected a cl.Transaction')).toBe(
      'unknown_schema',
    );
    expect(deadLetterCategory('avro body of cl.Trade v1 unreadable: truncated buffer')).toBe('undecodable');
    expect(deadLetterCategory('price: expected a positive decimal, got "-1"')).toBe('invalid_event');
  });

  it('never returns anything outside the declared categories', () => {
    for (const r of ['', 'x', 'a\nb', '💥', 'avro', 'bad'])
      expect(DEAD_LETTER_CATEGORIES).toContain(deadLetterCategory(r));
  });
});
