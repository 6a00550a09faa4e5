import { AuthError, PermanentError, RetryableError, ValidationError, errorCode, errorKind, retryAfterMs } from '../src/errors';

describe('error taxonomy', () => {
  it('classifies each kind and keeps code, cause and retry-after', () => {
    const cause = new Error('socket hang up');
    const rate = new RetryableError('provider_rate_limited', 'Mono answered 429', { retryAfterMs: 30_000, cause });
    expect(errorKind(rate)).toBe('retryable');
    expect(rate.retryable).toBe(true);
    expect(retryAfterMs(rate)).toBe(30_000);
    expect(rate.cause).toBe(cause);
    expect(rate.name).toBe('RetryableError');
    expect(errorKind(new AuthError('reauthorisation_required', 'x'))).toBe('auth');
    expect(errorKind(new PermanentError('account_not_found', 'x'))).toBe('permanent');
    const v = new ValidationError('malformed_payload', 'bad page', [{ path: 'data.0.amount', message: 'expected integer' }]);
    expect(errorKind(v)).toBe('validation');
    expect(v.retryable).toBe(false);
    expect(v.issues[0]!.path).toBe('data.0.amount');
  });

  it('treats unknown throwables as retryable with code internal', () => {
    expect(errorKind(new TypeError('boom'))).toBe('retryable');
    expect(errorKind('string thrown')).toBe('retryable');
    expect(errorCode(new TypeError('boom'))).toBe('internal');
    expect(retryAfterMs(new AuthError('a', 'b'))).toBeUndefined();
  });
});
