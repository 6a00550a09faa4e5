/**
 * The one error the domain throws. It carries a stable snake_case `code` so that callers (provider
 * mappers, the sync engine, the API) can translate it into their own taxonomy — typically a
 * `ValidationError` from `@intellifin/core` when the bad value came from a provider payload or a
 * request, or a bug report when it came from our own code. The domain does not depend on core.
 */
export class DomainError extends Error {
  readonly code: string;
  /** Safe-to-log context (never secrets). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.details = details;
  }
}

export function isDomainError(err: unknown): err is DomainError {
  return err instanceof DomainError;
}
