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
  'STOPPED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Whether trying again can succeed, decided per code: only faults of something outside us that
 * comes back (a broker or Redis that is restarting, a lock another process holds). Bad input, no
 * data, a failed gate or a bug give the same answer on every attempt, so a retry only delays the
 * alert. The pipeline runner retries on this (and on foreign errors, which are usually I/O).
 */
export const RETRIABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'BROKER_UNREACHABLE',
  'REDIS_UNREACHABLE',
  'CONFLICT',
]);

export class CryptolambdaError extends Error {
  override readonly name = 'CryptolambdaError';
  readonly retriable: boolean;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown; retriable?: boolean },
  ) {
    super(message, options);
    this.retriable = options?.retriable ?? RETRIABLE_CODES.has(code);
  }
}

/**
 * A bounded job (`ingest`, `batch`) that stopped early on SIGINT/SIGTERM after a clean shutdown:
 * the message says what it committed and what it left (not published, not read), the hint what the
 * next run does about it. The CLI exits 130 (SIGINT) or 143 (SIGTERM), as a forced stop does.
 */
export class StoppedError extends CryptolambdaError {
  constructor(
    readonly signal: string,
    /** What was committed and what was left, without the "stopped by" prefix. */
    readonly detail: string,
    hint?: string,
  ) {
    super('STOPPED', `stopped by ${signal}: ${detail}`, hint, { retriable: false });
  }
}

/** The signal name an aborted stop signal carries (untilStopped aborts with it), else SIGTERM. */
export const stopSignalName = (signal: AbortSignal): string =>
  typeof signal.reason === 'string' && signal.reason.startsWith('SIG') ? signal.reason : 'SIGTERM';

export const isCryptolambdaError = (e: unknown): e is CryptolambdaError => e instanceof CryptolambdaError;
