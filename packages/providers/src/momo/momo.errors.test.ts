import { AuthError, PermanentError, RetryableError, ValidationError } from '@intellifin/core';
import { TokenRejectedError } from '@intellifin/wallet-sync';
import { businessError, tokenError } from './momo.errors';
import { parseStatusBody } from './momo.api';

// One case per mapping of providers.md §2.3, §2.5 and §2.9–§2.11.
const now = new Date('2026-03-02T00:00:00Z');
const route = 'GET /collection/v1_0/requesttopay/:ref';

describe('MoMo error mapping', () => {
  it('token 401 {error} (API user/key rejected) is an AuthError', () => {
    const e = tokenError('collection', 401, { error: 'login_failed' }, undefined, now);
    expect(e).toBeInstanceOf(AuthError);
    expect((e as AuthError).code).toBe('momo_credentials_rejected');
  });

  it('token 500 {"error":"login_failed"} (key never generated or wrong, sandbox) is an AuthError', () => {
    const e = tokenError('disbursement', 500, { error: 'login_failed' }, undefined, now);
    expect(e).toBeInstanceOf(AuthError);
    expect((e as AuthError).code).toBe('momo_login_failed');
  });

  it('token 401 with the APIM body (wrong subscription key) is an AuthError naming the product key', () => {
    const e = tokenError('collection', 401, { statusCode: 401, message: 'Access denied due to invalid subscription key.' }, undefined, now);
    expect(e).toBeInstanceOf(AuthError);
    expect((e as AuthError).code).toBe('momo_subscription_key_rejected');
    expect(e.message).toContain('collection subscription key');
  });

  it('token 500 INTERNAL_PROCESSING_ERROR is retryable, not an auth failure', () => {
    expect(tokenError('collection', 500, { code: 'INTERNAL_PROCESSING_ERROR', message: 'x' }, undefined, now)).toBeInstanceOf(
      RetryableError,
    );
  });

  it('business 401 (APIM token body) asks for one token refresh', () => {
    const e = businessError(route, 401, { statusCode: 401, message: 'Unauthorized. Access token is missing or invalid.' }, undefined, now);
    expect(e).toBeInstanceOf(TokenRejectedError);
  });

  it('429 APIM body with Retry-After is retryable after that many seconds', () => {
    const e = businessError(route, 429, { statusCode: 429, message: 'Rate limit is exceeded. Try again in 60 seconds.' }, '30', now);
    expect(e).toBeInstanceOf(RetryableError);
    expect((e as RetryableError).retryAfterMs).toBe(30_000);
  });

  it('429 without the header takes the wait from the APIM message', () => {
    const e = businessError(route, 429, { statusCode: 429, message: 'Rate limit is exceeded. Try again in 60 seconds.' }, undefined, now);
    expect((e as RetryableError).retryAfterMs).toBe(60_000);
  });

  it('500 {code: INTERNAL_PROCESSING_ERROR} and 503 SERVICE_UNAVAILABLE are retryable', () => {
    expect(businessError(route, 500, { code: 'INTERNAL_PROCESSING_ERROR', message: 'x' }, undefined, now)).toBeInstanceOf(RetryableError);
    const e = businessError(route, 503, { code: 'SERVICE_UNAVAILABLE', message: 'x' }, undefined, now);
    expect(e).toBeInstanceOf(RetryableError);
    expect(e.message).toContain('SERVICE_UNAVAILABLE');
  });

  it('500 NOT_ALLOWED_TARGET_ENVIRONMENT is our configuration: permanent', () => {
    const e = businessError(route, 500, { code: 'NOT_ALLOWED_TARGET_ENVIRONMENT', message: 'x' }, undefined, now);
    expect(e).toBeInstanceOf(PermanentError);
    expect((e as PermanentError).code).toBe('momo_configuration');
  });

  it('403 FORBIDDEN IP and 400 are permanent', () => {
    expect(businessError('GET /disbursement/v1_0/transfer/:ref', 403, undefined, undefined, now)).toBeInstanceOf(PermanentError);
    expect(businessError(route, 400, undefined, undefined, now)).toBeInstanceOf(PermanentError);
  });
});

describe('MoMo status bodies', () => {
  it('SUCCESSFUL carries financialTransactionId as the ledger id', () => {
    const s = parseStatusBody(route, { financialTransactionId: '1927264368', amount: '1500', currency: 'EUR', status: 'SUCCESSFUL' });
    expect(s).toMatchObject({ status: 'successful', ledgerId: '1927264368', amount: '1500', currency: 'EUR' });
  });

  it('FAILED is HTTP 200 with a string reason (or an older {code} object)', () => {
    expect(parseStatusBody(route, { status: 'FAILED', reason: 'NOT_ENOUGH_FUNDS' })).toMatchObject({
      status: 'failed',
      reason: 'NOT_ENOUGH_FUNDS',
    });
    expect(parseStatusBody(route, { status: 'FAILED', reason: { code: 'PAYER_NOT_FOUND' } })).toMatchObject({ reason: 'PAYER_NOT_FOUND' });
  });

  it('PENDING, CREATED and unknown values are pending', () => {
    for (const status of ['PENDING', 'CREATED', 'ONGOING']) expect(parseStatusBody(route, { status }).status).toBe('pending');
  });

  it('the payer MSISDN never reaches the stored body', () => {
    const s = parseStatusBody(route, { status: 'PENDING', payer: { partyIdType: 'MSISDN', partyId: '260961234567' } });
    expect(JSON.stringify(s.raw)).not.toContain('260961234567');
  });

  it('a body without status is malformed', () => {
    expect(() => parseStatusBody(route, { financialTransactionId: '19272643' })).toThrow(ValidationError);
    expect(() => parseStatusBody(route, 'x')).toThrow(ValidationError);
  });
});
