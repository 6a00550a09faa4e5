import { AuthError, PermanentError, RetryableError, ValidationError } from '@intellifin/core';
import { parseRetryAfterMs } from '@intellifin/domain';
import type { AirtelStatusBlock } from './airtel.schemas';

/**
 * Airtel outcomes in the core error taxonomy (providers.md §3.3, §3.9). Decisions use, in order:
 * the HTTP status, the envelope's `status.code` (a 200 may carry "500"), the router code, the ESB
 * `result_code`, then the DP `response_code`. Messages name the route and the codes only: never
 * tokens, client secrets, MSISDNs or bodies.
 */

export const TOKEN_ROUTE = 'POST /auth/oauth2/token';
export const BALANCE_ROUTE = 'GET /standard/v1/users/balance';
export const COLLECTION_ROUTE = 'GET /standard/v1/payments/:id';
export const DISBURSEMENT_ROUTE = 'GET /standard/v1/disbursements/:id';

/** The bearer token was refused on a business call (HTTP or envelope 401). The API refreshes the token once, then this stands. */
export const TOKEN_REJECTED = 'airtel_token_rejected';
/** The token endpoint refused the client id/secret: the merchant must re-link Airtel. */
export const CLIENT_REJECTED = 'airtel_client_rejected';

/** ESB result codes that say "try again" (§3.9): something went wrong, error initiating, error fetching status. */
const RETRYABLE_ESB = new Set(['ESB000001', 'ESB000004', 'ESB000014']);
/** ESB result codes that say our request or the merchant's setup is wrong (§3.9): retrying cannot help. */
const PERMANENT_ESB = new Set(['ESB000008', 'ESB000033', 'ESB000034', 'ESB000035', 'ESB000036', 'ESB000039', 'ESB000041']);
/** Router codes (§3.9) that are transient; every other ROUTER code is a configuration problem. */
const RETRYABLE_ROUTER = new Set(['ROUTER117']);
/** "No transaction found" in any of its spellings (§3.5, §3.9). */
const NOT_FOUND_CODES = new Set(['ESB000045', 'DP00800001025', 'DP00900001015']);

export interface ResponseFacts {
  route: string;
  /** The HTTP status. */
  httpStatus: number;
  /** The parsed status block, when the body had one. */
  status?: AirtelStatusBlock | undefined;
  retryAfterHeader?: string | undefined;
  now: Date;
}

/** True when the codes say "no such transaction" (enquiry of an unknown id). */
export function isNotFound(status: AirtelStatusBlock | undefined, httpStatus: number): boolean {
  if (status === undefined) return false;
  return (
    NOT_FOUND_CODES.has(status.result_code ?? '') ||
    NOT_FOUND_CODES.has(status.response_code ?? '') ||
    (httpStatus === 404 && status.result_code === 'ESB000045')
  );
}

/** The effective HTTP-like code: a 2xx carrying a non-2xx `status.code` means that code. */
export function effectiveCode(httpStatus: number, status: AirtelStatusBlock | undefined): number {
  if (httpStatus >= 200 && httpStatus < 300 && status && (status.code < 200 || status.code >= 300)) return status.code;
  return httpStatus;
}

/**
 * The error for an answer that is not a success. Call it for non-2xx statuses, for 2xx envelopes
 * whose `status.code` is not 2xx, and for 2xx envelopes with `success: false` that carry no
 * transaction state to act on.
 */
export function errorForResponse(f: ResponseFacts): Error {
  const code = effectiveCode(f.httpStatus, f.status);
  const codes = describeCodes(f.status);
  const where = `Airtel ${f.route} answered ${code}${codes}`;
  if (code === 429) {
    const ms = parseRetryAfterMs(f.retryAfterHeader, f.now);
    return new RetryableError('airtel_rate_limited', where, ms !== undefined ? { retryAfterMs: ms } : {});
  }
  if (code === 401) {
    if (f.route === TOKEN_ROUTE) return clientRejected(where);
    return new AuthError(TOKEN_REJECTED, `${where}: the bearer token was refused`);
  }
  if (code >= 500) return new RetryableError('airtel_unavailable', where);
  if (code === 408) return new RetryableError('airtel_timeout', where);
  const router = routerCode(f.status);
  if (router !== undefined) {
    return RETRYABLE_ROUTER.has(router)
      ? new RetryableError('airtel_router_error', where)
      : new PermanentError(
          'airtel_router_rejected',
          `${where}: the merchant's country, currency or wallet is not configured for this call`,
        );
  }
  const esb = f.status?.result_code;
  // "Something went wrong" on a 200 is the gateway's own failure; on a 4xx the status says our request is at fault.
  if (esb !== undefined && RETRYABLE_ESB.has(esb) && code < 400) return new RetryableError('airtel_gateway_error', where);
  if (esb !== undefined && PERMANENT_ESB.has(esb)) return new PermanentError('airtel_request_rejected', where);
  if (f.route === TOKEN_ROUTE && code === 400) return new PermanentError('airtel_token_request_rejected', where);
  if (code === 403) return new PermanentError('airtel_forbidden', where);
  if (code >= 400) return new PermanentError('airtel_request_rejected', where);
  // A 2xx that says success:false with no code we know: the gateway did not do it; try again later.
  return new RetryableError('airtel_unsuccessful', where);
}

/** The token endpoint refused the client credentials (after one refresh attempt): re-link Airtel. */
export function clientRejected(where: string): AuthError {
  return new AuthError(CLIENT_REJECTED, `${where}: client credentials rejected; the merchant must re-link Airtel Money`);
}

export function isTokenRejected(err: unknown): boolean {
  return err instanceof AuthError && err.code === TOKEN_REJECTED;
}

/** A body that is not JSON (cut short, garbled): a transport glitch, tried again. */
export function unparsable(route: string, httpStatus: number): RetryableError {
  return new RetryableError('airtel_malformed_body', `Airtel ${route} answered ${httpStatus} with a body that is not JSON`);
}

/** JSON that does not match the documented envelope: a validation failure naming the fields at fault (never their values). */
export function malformed(route: string, issues: readonly { path: PropertyKey[]; message: string }[]): ValidationError {
  const list = issues.slice(0, 5).map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
  const detail = list.map((i) => `${i.path}: ${i.message}`).join('; ');
  return new ValidationError('airtel_malformed_envelope', `Airtel ${route} sent a malformed body: ${detail}`.slice(0, 500), list);
}

export function transportError(route: string, err: unknown): RetryableError {
  const name = err instanceof Error ? ((err as { code?: string }).code ?? err.name) : 'error';
  const timeout = /Timeout/i.test(name);
  return new RetryableError(
    timeout ? 'airtel_timeout' : 'airtel_unreachable',
    `Airtel ${route}: ${timeout ? 'timed out' : 'connection failed'} (${name})`,
    { cause: err },
  );
}

function routerCode(status: AirtelStatusBlock | undefined): string | undefined {
  for (const c of [status?.result_code, status?.response_code]) if (c !== undefined && /^ROUTER\d+$/.test(c)) return c;
  return undefined;
}

function describeCodes(status: AirtelStatusBlock | undefined): string {
  if (!status) return '';
  const parts = [status.result_code, status.response_code].filter((c): c is string => c !== undefined && /^[A-Z]{2,6}\d{3,12}$/.test(c));
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}
