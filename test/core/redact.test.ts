import { describe, expect, it } from 'vitest';
import { maskSecrets, registerSecret } from '../../src/core/redact.js';

describe('maskSecrets', () => {
  it('masks the password of every URL in a text, keeping user and host', () => {
    expect(maskSecrets('cannot reach Redis at redis://cryptolambda:Zx9_long-pass@127.0.0.1:26379/0 (x)')).toBe(
      'cannot reach Redis at redis://cryptolambda:***@127.0.0.1:26379/0 (x)',
    );
    expect(maskSecrets('a rediss://:onlypass@h:1 and https://u:p4ss@x/y')).toBe(
      'a rediss://:***@h:1 and https://u:***@x/y',
    );
    expect(maskSecrets('redis://127.0.0.1:6379/0 has no secret')).toBe('redis://127.0.0.1:6379/0 has no secret');
  });

  it('masks registered secrets wherever they appear (an AUTH error echoing one, a log line)', () => {
    registerSecret('generated-SECRET-value-123');
    expect(maskSecrets('WRONGPASS for generated-SECRET-value-123; again generated-SECRET-value-123')).toBe(
      'WRONGPASS for ***; again ***',
    );
    registerSecret('abc'); // too short to mask safely
    expect(maskSecrets('abc')).toBe('abc');
  });
});
