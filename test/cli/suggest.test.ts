import { describe, expect, it } from 'vitest';
import { closestCommand, editDistance } from '../../src/cli/suggest.js';

const IDS = ['portfolio', 'stack:status', 'stack:up', 'stream', 'stream:status', 'topics:tail', 'top'];

describe('did-you-mean', () => {
  it('edit distance', () => {
    expect([editDistance('kitten', 'sitting'), editDistance('', 'ab'), editDistance('same', 'same')]).toEqual([
      3, 2, 0,
    ]);
  });

  it('suggests the closest command, also when arguments were folded into the id', () => {
    expect(closestCommand('portfolo:u1', IDS)).toBe('portfolio');
    expect(closestCommand('stak:status', IDS)).toBe('stack:status');
    expect(closestCommand('topics:tial:dlq', IDS)).toBe('topics:tail');
    expect(closestCommand('zzzzzzzzzz', IDS)).toBeUndefined();
  });
});
