import { describe, expect, it } from 'vitest';
import { CryptolambdaError, ERROR_CODES, RETRIABLE_CODES } from '../../src/core/errors.js';

describe('CryptolambdaError.retriable', () => {
  it('is decided per code: only outside faults that come back are retried', () => {
    const retriable = ERROR_CODES.filter((c) => new CryptolambdaError(c, 'x').retriable);
    expect(retriable).toEqual(['BROKER_UNREACHABLE', 'REDIS_UNREACHABLE', 'CONFLICT']);
    expect([...RETRIABLE_CODES]).toEqual(retriable);
  });

  it('a caller that knows better can override it', () => {
    expect(new CryptolambdaError('BROKER_UNREACHABLE', 'x', undefined, { retriable: false }).retriable).toBe(false);
    expect(new CryptolambdaError('NO_DATA', 'x', undefined, { retriable: true }).retriable).toBe(true);
  });
});
