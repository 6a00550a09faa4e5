/**
 * One test per Airtel mapping onto the engine's error taxonomy and reference states, each body
 * taken from providers.md §3 (section named in the test).
 */
import { AuthError, PermanentError, RetryableError, ValidationError } from '@intellifin/core';
import { BALANCE_ROUTE, CLIENT_REJECTED, COLLECTION_ROUTE, DISBURSEMENT_ROUTE, TOKEN_REJECTED, TOKEN_ROUTE } from './airtel.errors';
import { interpretBalance, interpretEnquiry, interpretToken, type RawResponse } from './airtel.mapper';

const NOW = new Date('2025-10-02T14:22:00Z');
const raw = (route: string, status: number, body: unknown, retryAfter?: string): RawResponse => ({
  route,
  status,
  retryAfter,
  text: typeof body === 'string' ? body : JSON.stringify(body),
  now: NOW,
});
const ok = { response_code: 'DP00800001001', code: '200', success: true, result_code: 'ESB000010', message: 'SUCCESS' };
const enquiry = (transaction: Record<string, unknown>, status: Record<string, unknown> = ok) => ({ data: { transaction }, status });
const ID = 'SUB8841OCT2025A';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('token (§3.2)', () => {
  it('parses expires_in sent as a string', () => {
    const t = interpretToken(
      raw(TOKEN_ROUTE, 200, { access_token: 'pQWBjnwY0gS04euamZVVl4zDWfE4Pqkp', expires_in: '180', token_type: 'bearer' }),
    );
    expect(t).toEqual({ accessToken: 'pQWBjnwY0gS04euamZVVl4zDWfE4Pqkp', expiresInSeconds: 180 });
  });

  it('accepts the integer expires_in of a client fixture', () => {
    expect(interpretToken(raw(TOKEN_ROUTE, 200, { access_token: 'x', expires_in: 180, token_type: 'bearer' })).expiresInSeconds).toBe(180);
  });

  it('refuses a non-positive or non-numeric expires_in (ph-ee-connector treats non-positive as an error)', () => {
    for (const expires_in of ['0', '-5', 'soon', '']) {
      const err = thrown(() => interpretToken(raw(TOKEN_ROUTE, 200, { access_token: 'x', expires_in })));
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toContain('expires_in');
    }
  });

  it('rejected client credentials (401) are an AuthError pointing at re-link', () => {
    const err = thrown(() =>
      interpretToken(
        raw(TOKEN_ROUTE, 401, { status: { code: '401', success: false, result_code: 'ESB000001', message: 'Invalid client credentials' } }),
      ),
    );
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).code).toBe(CLIENT_REJECTED);
    expect(err.message).toContain('re-link');
  });

  it('a token request failing field validation (400 ESB000008) is permanent', () => {
    const err = thrown(() => interpretToken(raw(TOKEN_ROUTE, 400, { status: { code: '400', success: false, result_code: 'ESB000008' } })));
    expect(err).toBeInstanceOf(PermanentError);
  });
});

describe('status.code envelope (§3.3)', () => {
  it('a 401 with the suggested body on a business call is a refused token', () => {
    const err = thrown(() =>
      interpretEnquiry(
        raw(COLLECTION_ROUTE, 401, { status: { code: '401', success: false, result_code: 'ESB000001', message: 'Unauthorized' } }),
        ID,
      ),
    );
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).code).toBe(TOKEN_REJECTED);
  });

  it('an HTTP 200 whose status.code is "500" is retryable', () => {
    const err = thrown(() =>
      interpretEnquiry(raw(COLLECTION_ROUTE, 200, { status: { code: '500', success: false, result_code: 'ESB000001' } }), ID),
    );
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).code).toBe('airtel_unavailable');
  });

  it('an HTTP 200 whose status.code is "401" is a refused token', () => {
    const err = thrown(() =>
      interpretBalance(raw(BALANCE_ROUTE, 200, { status: { code: '401', success: false, message: 'Unauthorized' } }), 'ZMW'),
    );
    expect((err as AuthError).code).toBe(TOKEN_REJECTED);
  });

  it('accepts status.code as an integer (one helper fixture)', () => {
    const r = interpretEnquiry(
      raw(COLLECTION_ROUTE, 200, enquiry({ id: ID, status: 'TIP' }, { ...ok, code: 200, response_code: 'DP00800001006' })),
      ID,
    );
    expect(r.state).toBe('pending');
  });

  it('HTTP 429 with Retry-After is retryable after that long', () => {
    const err = thrown(() => interpretEnquiry(raw(COLLECTION_ROUTE, 429, { status: { code: '429', success: false } }, '7'), ID));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).retryAfterMs).toBe(7_000);
  });

  it('HTTP 503 is retryable', () => {
    const err = thrown(() =>
      interpretBalance(raw(BALANCE_ROUTE, 503, { status: { code: '503', success: false, result_code: 'ESB000001' } }), 'ZMW'),
    );
    expect((err as RetryableError).code).toBe('airtel_unavailable');
  });

  it('the published error example (200 carrying code "400", DP00800001005 Msisdn Not Found, §3.9) is permanent', () => {
    const body = { status: { response_code: 'DP00800001005', code: '400', success: false, message: 'Msisdn Not Found' } };
    const err = thrown(() => interpretBalance(raw(BALANCE_ROUTE, 200, body), 'ZMW'));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain('DP00800001005');
  });

  it('a 200 that is not JSON (cut short) is retryable; JSON of the wrong shape is a validation error naming the field', () => {
    expect(
      thrown(() => interpretEnquiry(raw(COLLECTION_ROUTE, 200, '{"data":{"transaction":{"airtel_money_id":"MP2510'), ID)),
    ).toBeInstanceOf(RetryableError);
    const err = thrown(() => interpretEnquiry(raw(COLLECTION_ROUTE, 200, enquiry({ id: ID, status: 'PAID' })), ID));
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain('data.transaction.status');
  });
});

describe('ESB result codes (§3.9)', () => {
  const esb = (result_code: string, code = '200') => ({ status: { code, success: false, result_code, message: 'x' } });

  it('ESB000001 something went wrong (200, success:false) is retryable', () => {
    expect((thrown(() => interpretBalance(raw(BALANCE_ROUTE, 200, esb('ESB000001')), 'ZMW')) as RetryableError).code).toBe(
      'airtel_gateway_error',
    );
  });

  it('ESB000014 error fetching status is retryable', () => {
    expect(thrown(() => interpretEnquiry(raw(COLLECTION_ROUTE, 200, esb('ESB000014')), ID))).toBeInstanceOf(RetryableError);
  });

  it.each(['ESB000008', 'ESB000033', 'ESB000034', 'ESB000035', 'ESB000039', 'ESB000041'])(
    '%s (validation / setup) is permanent',
    (code) => {
      expect(thrown(() => interpretBalance(raw(BALANCE_ROUTE, 400, esb(code, '400')), 'ZMW'))).toBeInstanceOf(PermanentError);
    },
  );

  it('ESB000045 no transaction found (200, success:false, DP00800001025) is a not-found reference, not an error', () => {
    const body = {
      data: {},
      status: { code: '200', success: false, result_code: 'ESB000045', response_code: 'DP00800001025', message: 'No Transaction Found' },
    };
    expect(interpretEnquiry(raw(COLLECTION_ROUTE, 200, body), ID)).toEqual({ state: 'not_found' });
  });

  it('ESB000045 answered with HTTP 404 is a not-found reference too', () => {
    const body = { data: {}, status: { code: '404', success: false, result_code: 'ESB000045', response_code: 'DP00800001025' } };
    expect(interpretEnquiry(raw(DISBURSEMENT_ROUTE, 404, body), ID)).toEqual({ state: 'not_found' });
  });

  it('a 404 without ESB000045 (an unknown route) is permanent, not a missing reference', () => {
    const body = { status: { code: '404', success: false, result_code: 'ESB000001', message: 'Not Found' } };
    expect(thrown(() => interpretEnquiry(raw(COLLECTION_ROUTE, 404, body), ID))).toBeInstanceOf(PermanentError);
  });
});

describe('router codes (§3.9, outside the normal envelope)', () => {
  it.each(['ROUTER001', 'ROUTER003', 'ROUTER005', 'ROUTER006', 'ROUTER007', 'ROUTER112'])('%s is permanent', (code) => {
    const err = thrown(() =>
      interpretBalance(raw(BALANCE_ROUTE, 400, { status: { code: '400', success: false, result_code: code } }), 'ZMW'),
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain(code);
  });

  it('ROUTER117 response generation error is retryable', () => {
    const err = thrown(() =>
      interpretBalance(raw(BALANCE_ROUTE, 400, { status: { code: '400', success: false, result_code: 'ROUTER117' } }), 'ZMW'),
    );
    expect(err).toBeInstanceOf(RetryableError);
  });
});

describe('enquiry states and DP codes (§3.5, §3.9)', () => {
  it('TS carries airtel_money_id as the ledger id (the §3.5 sample)', () => {
    const body = enquiry({ airtel_money_id: 'MP251002.1422.A39151', id: ID, message: 'Paid ZMW 150 to ACME', status: 'TS' });
    expect(interpretEnquiry(raw(COLLECTION_ROUTE, 200, body), ID)).toEqual({
      state: 'successful',
      providerStatus: 'TS',
      ledgerId: 'MP251002.1422.A39151',
      code: 'DP00800001001',
    });
  });

  it('TS without airtel_money_id is malformed', () => {
    expect(thrown(() => interpretEnquiry(raw(COLLECTION_ROUTE, 200, enquiry({ id: ID, status: 'TS' })), ID))).toBeInstanceOf(
      ValidationError,
    );
  });

  it('TIP with DP00800001006 (in process) is pending', () => {
    const r = interpretEnquiry(
      raw(COLLECTION_ROUTE, 200, enquiry({ id: ID, status: 'TIP' }, { ...ok, response_code: 'DP00800001006' })),
      ID,
    );
    expect(r).toEqual({ state: 'pending', providerStatus: 'TIP', code: 'DP00800001006' });
  });

  it('TA with DP00800001000 (ambiguous: enquire again) is pending', () => {
    const r = interpretEnquiry(
      raw(COLLECTION_ROUTE, 200, enquiry({ id: ID, status: 'TA' }, { ...ok, response_code: 'DP00800001000' })),
      ID,
    );
    expect(r.state).toBe('pending');
  });

  it('TF with DP00800001007 (not enough balance) is failed with that code as the reason', () => {
    const r = interpretEnquiry(
      raw(COLLECTION_ROUTE, 200, enquiry({ id: ID, status: 'TF' }, { ...ok, response_code: 'DP00800001007' })),
      ID,
    );
    expect(r).toEqual({ state: 'failed', providerStatus: 'TF', reason: 'DP00800001007', ledgerId: undefined });
  });

  it('TE with DP00800001029 (expired) is failed with that reason', () => {
    const r = interpretEnquiry(
      raw(COLLECTION_ROUTE, 200, enquiry({ id: ID, status: 'TE' }, { ...ok, response_code: 'DP00800001029' })),
      ID,
    );
    expect(r).toMatchObject({ state: 'failed', providerStatus: 'TE', reason: 'DP00800001029' });
  });

  it('a 200 with success:false naming the transaction TF (DP00800001005, dash in the id) is a failed reference', () => {
    const body = enquiry(
      { id: 'SUB-1', status: 'TF', message: 'Transaction ID is invalid' },
      { response_code: 'DP00800001005', code: '200', success: false, result_code: 'ESB000014', message: 'Transaction ID is invalid' },
    );
    expect(interpretEnquiry(raw(COLLECTION_ROUTE, 200, body), 'SUB-1')).toMatchObject({ state: 'failed', reason: 'DP00800001005' });
  });

  it('a disbursement TF with DP00900001007 (insufficient funds) is failed with that reason', () => {
    const body = enquiry(
      { id: ID, status: 'TF' },
      { response_code: 'DP00900001007', code: '200', success: false, result_code: 'ESB000011' },
    );
    expect(interpretEnquiry(raw(DISBURSEMENT_ROUTE, 200, body), ID)).toMatchObject({ state: 'failed', reason: 'DP00900001007' });
  });

  it('an answer about another id is malformed', () => {
    expect(thrown(() => interpretEnquiry(raw(COLLECTION_ROUTE, 200, enquiry({ id: 'OTHER', status: 'TIP' })), ID))).toBeInstanceOf(
      ValidationError,
    );
  });
});

describe('balance (§3.6)', () => {
  const body = (balance: unknown, currency = 'ZMW') => ({
    data: { balance, currency, account_status: 'Active' },
    status: { response_code: 'DP02100000001', code: '200', success: true, result_code: 'ESB000010', message: 'SUCCESS' },
  });

  it('a decimal string in major units becomes minor units', () => {
    expect(interpretBalance(raw(BALANCE_ROUTE, 200, body('230486.65')), 'ZMW')).toBe(23_048_665n);
  });

  it('a balance sent as a JSON number is malformed (money never as a float)', () => {
    const err = thrown(() => interpretBalance(raw(BALANCE_ROUTE, 200, body(230486.65)), 'ZMW'));
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain('data.balance');
  });

  it('a wallet in another currency than the account is permanent', () => {
    expect(thrown(() => interpretBalance(raw(BALANCE_ROUTE, 200, body('10.00', 'UGX')), 'ZMW'))).toBeInstanceOf(PermanentError);
  });
});
