/**
 * The application layer's failures, transport-neutral: REST maps them to status codes, gRPC (later)
 * to its codes. Messages are safe to show (no secrets, MSISDNs or account numbers).
 */
export abstract class ApiError extends Error {
  abstract readonly code: string;
}

/** The resource does not exist for this caller (another organisation's id included: never 403). */
export class NotFoundError extends ApiError {
  readonly code = 'not_found';
  constructor(what: string) {
    super(`${what} not found`);
    this.name = 'NotFoundError';
  }
}

/** The request is valid but conflicts with the resource's state (e.g. an unlinked account). */
export class ConflictError extends ApiError {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ConflictError';
    this.code = code;
  }
}

/** An Idempotency-Key reused with a different request. */
export class IdempotencyMismatchError extends ApiError {
  readonly code = 'idempotency_key_reused';
  constructor() {
    super('Idempotency-Key was already used with a different request');
    this.name = 'IdempotencyMismatchError';
  }
}

/** Too many manual syncs of one account: try again at `nextAllowedAt`. */
export class RateLimitedError extends ApiError {
  readonly code = 'rate_limited';
  constructor(
    readonly retryAfterMs: number,
    readonly nextAllowedAt: Date,
    what = 'manual sync of this account',
  ) {
    super(`${what} is rate-limited; next allowed at ${nextAllowedAt.toISOString()}`);
    this.name = 'RateLimitedError';
  }
}

/** The caller lacks the role a use case needs. */
export class ForbiddenError extends ApiError {
  readonly code = 'forbidden';
  constructor(role: string) {
    super(`requires the ${role} role`);
    this.name = 'ForbiddenError';
  }
}

/** The provider refused what the caller sent (a wrong key or secret, an invalid or expired link code): 400, nothing stored. */
export class CredentialsRejectedError extends ApiError {
  readonly code = 'credentials_rejected';
  constructor(message: string) {
    super(message);
    this.name = 'CredentialsRejectedError';
  }
}

/** The provider could not be asked (down, timing out, rate-limited, or our own provider settings refused): 503, nothing stored. */
export class ProviderUnavailableError extends ApiError {
  readonly code = 'provider_unavailable';
  constructor(message: string) {
    super(message);
    this.name = 'ProviderUnavailableError';
  }
}

/** Input that passed the schema but breaks a rule the use case knows (a bound, a cursor): a 400 naming the field. */
export class InvalidInputError extends ApiError {
  readonly code = 'validation';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'InvalidInputError';
  }
}
