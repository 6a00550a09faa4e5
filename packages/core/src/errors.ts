/**
 * The error taxonomy every adapter maps its failures into, and every runner acts on:
 *
 * | kind       | meaning                                         | what a consumer does                  |
 * |------------|-------------------------------------------------|---------------------------------------|
 * | auth       | credentials/consent rejected; user must act     | mark `auth_required`, no retry        |
 * | retryable  | transient (5xx, timeout, reset, 429)            | retry later (honour `retryAfterMs`)   |
 * | permanent  | will never succeed as is (unknown account, ...) | record, dead-letter, no retry         |
 * | validation | input (payload, request, config) is malformed   | reject with a clear message, no retry |
 *
 * Errors carry a stable machine `code` (snake_case) and a human message; messages must never
 * contain secrets — put identifiers in `details` only when they are safe to log.
 */
export type ErrorKind = 'auth' | 'retryable' | 'permanent' | 'validation';

export interface AppErrorOptions {
  cause?: unknown;
  /** Safe, loggable context (never secrets). */
  details?: Record<string, unknown>;
}

export abstract class AppError extends Error {
  abstract readonly kind: ErrorKind;
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details;
  }

  get retryable(): boolean {
    return this.kind === 'retryable';
  }
}

/** Credentials, token or consent rejected by a provider: a person has to re-authenticate. */
export class AuthError extends AppError {
  readonly kind = 'auth' as const;
}

export interface RetryableErrorOptions extends AppErrorOptions {
  /** The server's own instruction (e.g. `Retry-After`), in milliseconds, when it gave one. */
  retryAfterMs?: number;
}

/** A transient failure: trying again later may succeed. */
export class RetryableError extends AppError {
  readonly kind = 'retryable' as const;
  readonly retryAfterMs: number | undefined;

  constructor(code: string, message: string, options: RetryableErrorOptions = {}) {
    super(code, message, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * The provider has not finished preparing the data yet (Mono `data_status` PROCESSING or PARTIAL,
 * an enqueued real-time job): not a failure of the account, just "not yet". Retried with backoff.
 */
export class NotReadyError extends RetryableError {
  constructor(message: string, options: RetryableErrorOptions = {}) {
    super('not_ready', message, options);
  }
}

/** A failure that will repeat however often it is retried. */
export class PermanentError extends AppError {
  readonly kind = 'permanent' as const;
}

/** The user or the provider unlinked the account: it is disabled (reason `unlinked`), its data kept, never retried. */
export class UnlinkedError extends PermanentError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('unlinked', message, options);
  }
}

export interface ValidationIssue {
  path: string;
  message: string;
}

/** Malformed input: a provider payload, an API request or configuration. */
export class ValidationError extends AppError {
  readonly kind = 'validation' as const;
  readonly issues: ValidationIssue[];

  constructor(code: string, message: string, issues: ValidationIssue[] = [], options: AppErrorOptions = {}) {
    super(code, message, options);
    this.issues = issues;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/**
 * The kind of any thrown value. Unknown exceptions (bugs, driver errors) are treated as retryable:
 * a redelivery is cheap, a lost sync is not, and the poison cap (max deliveries) bounds the cost.
 */
export function errorKind(err: unknown): ErrorKind {
  return isAppError(err) ? err.kind : 'retryable';
}

/** A stable code for metrics labels and run records: the AppError code, else `internal`. */
export function errorCode(err: unknown): string {
  return isAppError(err) ? err.code : 'internal';
}

/** The provider's retry instruction carried by the error, if any. */
export function retryAfterMs(err: unknown): number | undefined {
  return err instanceof RetryableError ? err.retryAfterMs : undefined;
}
