import { AuthError, PermanentError, RetryableError, ValidationError } from '@intellifin/core';
import { classifyVerificationFailure } from './linking';

describe('classifyVerificationFailure', () => {
  it('the user’s own input refused → rejected', () => {
    for (const err of [
      new AuthError('momo_credentials_rejected', 'MoMo POST /collection/token/: API user/key rejected (401)'),
      new AuthError('momo_subscription_key_rejected', 'x'),
      new AuthError('airtel_client_rejected', 'x'),
      new PermanentError('airtel_token_request_rejected', 'x'),
      new PermanentError('mono_request_rejected', 'Mono POST /v2/accounts/auth answered 400'),
    ])
      expect(classifyVerificationFailure(err)).toMatchObject({ kind: 'rejected', code: err.code, message: err.message });
  });

  it('the provider down, rate-limited or our own configuration → unavailable', () => {
    for (const err of [
      new RetryableError('momo_unavailable', 'x'),
      new RetryableError('mono_key_rejected', 'Mono rejected the secret key (401)'),
      new RetryableError('rate_budget_exhausted', 'x'),
      new PermanentError('momo_configuration', 'x'),
      new ValidationError('validation', 'malformed body'),
      new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
    ])
      expect(classifyVerificationFailure(err).kind).toBe('unavailable');
  });
});
