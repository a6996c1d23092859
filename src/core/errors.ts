/**
 * One error type for broken invariants (the second error channel: expected outcomes such as
 * "sell beyond holdings" are returned values, never thrown). The top-level CLI handler maps
 * `code` to an exit code and a hint.
 */
export const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'INVALID_CONFIG',
  'INVALID_DECIMAL',
  'DECIMAL_OVERFLOW',
  'INVALID_EVENT',
  'BROKER_UNREACHABLE',
  'REDIS_UNREACHABLE',
  'STACK_NOT_INSTALLED',
  'STACK_START_FAILED',
  'NOT_FOUND',
  'CONFLICT',
  'PIPELINE_FAILED',
  'RECONCILE_MISMATCH',
  'NO_DATA',
  'DATA_GAP',
  'PARTITION_MISMATCH',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class CryptolambdaError extends Error {
  override readonly name = 'CryptolambdaError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isCryptolambdaError = (e: unknown): e is CryptolambdaError => e instanceof CryptolambdaError;
