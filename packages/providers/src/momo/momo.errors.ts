import { AuthError, PermanentError, RetryableError, ValidationError } from '@intellifin/core';
import { parseRetryAfterMs } from '@intellifin/domain';
import { TokenRejectedError } from '@intellifin/wallet-sync';

/**
 * MTN MoMo HTTP outcomes in the core error taxonomy (providers.md §2.3, §2.9–§2.11). The gateway is
 * Azure APIM: gateway failures answer `{statusCode, message}`, API errors `{code, message}`, the
 * token endpoint `{error}`. Messages name the route, status and MoMo's code only: never keys,
 * tokens, MSISDNs or bodies.
 */
export interface MomoErrorBody {
  code?: unknown;
  message?: unknown;
  error?: unknown;
  statusCode?: unknown;
}

/** MoMo `code`s that mean our configuration is wrong (retrying cannot help). */
const CONFIG_CODES = new Set(['NOT_ALLOWED', 'NOT_ALLOWED_TARGET_ENVIRONMENT', 'INVALID_CALLBACK_URL_HOST', 'INVALID_CURRENCY']);

export function bodyCode(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as MomoErrorBody;
  if (typeof b.code === 'string') return b.code;
  if (typeof b.error === 'string') return b.error;
  return undefined;
}

/** A token endpoint (`POST /{product}/token/`) failure. */
export function tokenError(product: string, status: number, body: unknown, retryAfter: string | undefined, now: Date): Error {
  const route = `POST /${product}/token/`;
  if (status === 401) {
    const apim = isApimBody(body);
    return new AuthError(
      apim ? 'momo_subscription_key_rejected' : 'momo_credentials_rejected',
      apim ? `MoMo ${route}: the ${product} subscription key was rejected (401)` : `MoMo ${route}: API user/key rejected (401)`,
    );
  }
  // Observed in MTN's sandbox when the API key is missing or wrong (laravel-mtn-momo #46).
  if (status === 500 && bodyCode(body) === 'login_failed') return new AuthError('momo_login_failed', `MoMo ${route}: login_failed (500)`);
  return businessError(route, status, body, retryAfter, now);
}

/** A business call's failure other than a 404 on a status lookup. */
export function businessError(route: string, status: number, body: unknown, retryAfter: string | undefined, now: Date): Error {
  const code = bodyCode(body);
  const named = code ? ` ${code}` : '';
  if (status === 401) return new TokenRejectedError('momo_token_rejected', `MoMo ${route} answered 401`);
  if (status === 429) {
    const ms = parseRetryAfterMs(retryAfter, now) ?? retryAfterFromMessage(body);
    return new RetryableError('momo_rate_limited', `MoMo ${route} answered 429`, ms !== undefined ? { retryAfterMs: ms } : {});
  }
  if (status >= 500 && code && CONFIG_CODES.has(code))
    return new PermanentError('momo_configuration', `MoMo ${route} answered ${status}${named}`);
  if (status >= 500) return new RetryableError('momo_unavailable', `MoMo ${route} answered ${status}${named}`);
  if (status === 403) return new PermanentError('momo_forbidden', `MoMo ${route} answered 403${named}`);
  if (status === 404) return new PermanentError('momo_not_found', `MoMo ${route} answered 404${named}`);
  return new PermanentError('momo_request_rejected', `MoMo ${route} answered ${status}${named}`);
}

/** APIM's `Rate limit is exceeded. Try again in 60 seconds.` when no header came. */
function retryAfterFromMessage(body: unknown): number | undefined {
  const m = body && typeof body === 'object' ? (body as MomoErrorBody).message : undefined;
  const s = typeof m === 'string' ? /try again in (\d+) seconds/i.exec(m) : null;
  return s ? Number(s[1]) * 1000 : undefined;
}

export function isApimBody(body: unknown): boolean {
  return !!body && typeof body === 'object' && typeof (body as MomoErrorBody).statusCode === 'number';
}

export function malformed(route: string, detail: string): ValidationError {
  return new ValidationError('validation', `MoMo ${route} sent a malformed body: ${detail}`.slice(0, 500));
}

export function transportError(route: string, err: unknown): RetryableError {
  const name = err instanceof Error ? ((err as { code?: string }).code ?? err.name) : 'error';
  const timeout = /Timeout/i.test(name);
  return new RetryableError(
    timeout ? 'momo_timeout' : 'momo_unreachable',
    `MoMo ${route}: ${timeout ? 'timed out' : 'connection failed'} (${name})`,
    {
      cause: err,
    },
  );
}
