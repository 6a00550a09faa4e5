import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { maskSecrets, type Logger } from '@intellifin/core';
import { ApiError, ConflictError, ForbiddenError, IdempotencyMismatchError, NotFoundError, RateLimitedError } from '../app/errors';
import { UnauthorizedError } from '../http/auth';

/** A request the transport refused before the application layer saw it (malformed bytes, a field out of bounds). */
export class InvalidArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArgumentError';
  }
}

/** A stream the server ends with a status of its own (a watch that fell behind, shutdown). */
export class StreamEndedError extends Error {
  constructor(
    readonly status: ServiceError['code'],
    message: string,
  ) {
    super(message);
    this.name = 'StreamEndedError';
  }
}

type Status = ServiceError['code'];

function serviceError(code: Status, details: string, metadata = new Metadata()): Partial<ServiceError> {
  return { code, details, metadata };
}

/**
 * The application layer's errors as gRPC statuses (the REST mapping's counterpart): 401 →
 * UNAUTHENTICATED, 404 → NOT_FOUND (another organisation's ids too), 400 → INVALID_ARGUMENT, 429 →
 * RESOURCE_EXHAUSTED with trailers `retry-after` (seconds) and `next-allowed-at`, 409/422 →
 * FAILED_PRECONDITION, 403 → PERMISSION_DENIED. Anything else is INTERNAL, logged, with a generic
 * message (never the error's text: it could hold a secret).
 */
export function toServiceError(err: unknown, log: Logger): Partial<ServiceError> {
  if (err instanceof InvalidArgumentError) return serviceError(status.INVALID_ARGUMENT, err.message);
  if (err instanceof StreamEndedError) return serviceError(err.status, err.message);
  if (err instanceof UnauthorizedError) return serviceError(status.UNAUTHENTICATED, err.message);
  if (err instanceof ApiError) {
    if (err instanceof RateLimitedError) {
      const md = new Metadata();
      md.set('retry-after', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
      md.set('next-allowed-at', err.nextAllowedAt.toISOString());
      return serviceError(status.RESOURCE_EXHAUSTED, err.message, md);
    }
    if (err instanceof NotFoundError) return serviceError(status.NOT_FOUND, err.message);
    if (err instanceof ForbiddenError) return serviceError(status.PERMISSION_DENIED, err.message);
    if (err instanceof ConflictError && err.code === 'invalid_cursor')
      return serviceError(status.INVALID_ARGUMENT, 'page_token: not a token this API issued');
    if (err instanceof IdempotencyMismatchError)
      return serviceError(status.FAILED_PRECONDITION, 'idempotency-key was already used with a different request');
    return serviceError(status.FAILED_PRECONDITION, `${err.code}: ${maskSecrets(err.message)}`);
  }
  log.error({ err }, 'gRPC call failed');
  return serviceError(status.INTERNAL, 'internal error');
}
