import { AuthError, PermanentError, RetryableError, UnlinkedError, ValidationError } from '@intellifin/core';
import { parseRetryAfterMs } from '@intellifin/domain';

/**
 * Mono HTTP outcomes in the core error taxonomy (providers.md §1.9). Messages name the route and
 * status only: never the secret key, account numbers or bodies.
 */
export function errorForStatus(route: string, status: number, retryAfterHeader: string | undefined, now: Date): Error {
  if (status === 429) {
    const ms = parseRetryAfterMs(retryAfterHeader, now);
    return new RetryableError('mono_rate_limited', `Mono ${route} answered 429`, ms !== undefined ? { retryAfterMs: ms } : {});
  }
  if (status >= 500) return new RetryableError('mono_unavailable', `Mono ${route} answered ${status}`);
  // 401 = our secret key is wrong: an operator problem, not the user's. Retry (bounded by the poison
  // cap) rather than telling every user to re-link.
  if (status === 401) return new RetryableError('mono_key_rejected', `Mono ${route} rejected the secret key (401)`);
  if (status === 403) return new AuthError('mono_forbidden', `Mono ${route} answered 403: access to the account was withdrawn`);
  // A data endpoint answering 404 for an account we know (we only ever ask about linked accounts):
  // the user or Mono unlinked it (providers.md §1.10.7).
  if (status === 404 && DATA_ROUTES.has(route)) return new UnlinkedError(`Mono ${route} answered 404: the account was unlinked`);
  if (status === 404) return new PermanentError('mono_account_not_found', `Mono ${route} answered 404: unknown or unlinked account`);
  return new PermanentError('mono_request_rejected', `Mono ${route} answered ${status}`);
}

/** Routes that serve an account's data: their 404 means the account was unlinked. */
export const DATA_ROUTES: ReadonlySet<string> = new Set([
  'GET /v2/accounts/:id',
  'GET /v2/accounts/:id/transactions',
  'GET /v2/accounts/:id/balance',
]);

export function reauthRequired(): AuthError {
  return new AuthError('REAUTHORISATION_REQUIRED', 'Mono requires the user to re-authorise the account');
}

export function malformed(route: string, detail: string): ValidationError {
  return new ValidationError('validation', `Mono ${route} sent a malformed body: ${detail}`.slice(0, 500));
}

export function transportError(route: string, err: unknown): RetryableError {
  const name = err instanceof Error ? ((err as { code?: string }).code ?? err.name) : 'error';
  const timeout = /Timeout/i.test(name);
  return new RetryableError(
    timeout ? 'mono_timeout' : 'mono_unreachable',
    `Mono ${route}: ${timeout ? 'timed out' : 'connection failed'} (${name})`,
    { cause: err },
  );
}
