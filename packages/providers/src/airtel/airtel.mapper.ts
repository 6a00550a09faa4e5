import { PermanentError } from '@intellifin/core';
import { parseDecimalToMinor } from '@intellifin/domain';
import { effectiveCode, errorForResponse, isNotFound, malformed, unparsable } from './airtel.errors';
import {
  balanceResponseSchema,
  enquiryResponseSchema,
  envelopeSchema,
  tokenResponseSchema,
  type AirtelStatusBlock,
  type AirtelTxnStatus,
} from './airtel.schemas';

/** What one HTTP exchange gave, before interpretation. */
export interface RawResponse {
  route: string;
  status: number;
  retryAfter: string | undefined;
  text: string;
  now: Date;
}

/** An Airtel reference's state as the enquiry reports it. */
export type AirtelReferenceStatus =
  | { state: 'pending'; providerStatus: 'TIP' | 'TA'; code: string | undefined }
  | { state: 'successful'; providerStatus: 'TS'; ledgerId: string; code: string | undefined }
  | { state: 'failed'; providerStatus: 'TF' | 'TE'; reason: string; ledgerId: string | undefined }
  | { state: 'not_found' };

export interface AirtelToken {
  accessToken: string;
  expiresInSeconds: number;
}

/** `POST /auth/oauth2/token`: the token and its lifetime (`expires_in` parsed from its string). */
export function interpretToken(r: RawResponse): AirtelToken {
  const json = parseJson(r);
  if (r.status < 200 || r.status >= 300) throw errorForResponse(facts(r, statusOf(json)));
  const parsed = tokenResponseSchema.safeParse(json);
  if (!parsed.success) {
    // A 200 carrying an error envelope instead of a token.
    const st = statusOf(json);
    if (st && effectiveCode(r.status, st) !== r.status) throw errorForResponse(facts(r, st));
    throw malformed(r.route, parsed.error.issues);
  }
  return { accessToken: parsed.data.access_token, expiresInSeconds: parsed.data.expires_in };
}

/** `GET /standard/v1/users/balance`: the balance in minor units of `currency`. */
export function interpretBalance(r: RawResponse, currency: string): bigint {
  const json = parseJson(r);
  const st = statusOf(json);
  if (r.status < 200 || r.status >= 300 || effectiveCode(r.status, st) !== r.status) throw errorForResponse(facts(r, st));
  if (st?.success === false) throw errorForResponse(facts(r, st));
  const parsed = balanceResponseSchema.safeParse(json);
  if (!parsed.success) throw malformed(r.route, parsed.error.issues);
  if (parsed.data.data.currency !== currency) {
    throw new PermanentError(
      'airtel_currency_mismatch',
      `Airtel ${r.route} reported the wallet in ${parsed.data.data.currency}, the account is in ${currency}`,
    );
  }
  try {
    return parseDecimalToMinor(parsed.data.data.balance, currency);
  } catch {
    throw malformed(r.route, [{ path: ['data', 'balance'], message: `not a ${currency} amount` }]);
  }
}

/**
 * `GET /standard/v1/payments/{id}` / `GET /standard/v1/disbursements/{id}`: the reference's state.
 * TS → successful with `airtel_money_id`; TF/TE → failed with the DP `response_code` as reason
 * (also when a 200 says `success:false` but names the transaction TF, e.g. DP00800001005);
 * TIP/TA → pending; ESB000045 / DP…1025 / DP…1015 (200 or 404) → not found.
 */
export function interpretEnquiry(r: RawResponse, id: string): AirtelReferenceStatus {
  const json = parseJson(r);
  const st = statusOf(json);
  const code = effectiveCode(r.status, st);
  if (code < 200 || code >= 300) {
    if (isNotFound(st, code)) return { state: 'not_found' };
    throw errorForResponse(facts(r, st));
  }
  const parsed = enquiryResponseSchema.safeParse(json);
  if (!parsed.success) throw malformed(r.route, parsed.error.issues);
  const status = parsed.data.status;
  const tx = parsed.data.data?.transaction;
  if (!tx) {
    if (isNotFound(status, code)) return { state: 'not_found' };
    if (status.success === false) throw errorForResponse(facts(r, status));
    throw malformed(r.route, [{ path: ['data', 'transaction'], message: 'missing on a successful enquiry' }]);
  }
  if (tx.id !== id) throw malformed(r.route, [{ path: ['data', 'transaction', 'id'], message: 'does not match the reference asked for' }]);
  return fromStatus(tx.status, status.response_code, tx.airtel_money_id, r.route);
}

/** The state a transaction status (enquiry `status` or callback `status_code`) means. */
export function fromStatus(
  s: AirtelTxnStatus,
  responseCode: string | undefined,
  ledgerId: string | undefined,
  route: string,
): AirtelReferenceStatus {
  switch (s) {
    case 'TS':
      if (ledgerId === undefined)
        throw malformed(route, [{ path: ['data', 'transaction', 'airtel_money_id'], message: 'missing on a TS transaction' }]);
      return { state: 'successful', providerStatus: 'TS', ledgerId, code: responseCode };
    case 'TF':
    case 'TE':
      return { state: 'failed', providerStatus: s, reason: failureReason(s, responseCode), ledgerId };
    default:
      return { state: 'pending', providerStatus: s, code: responseCode };
  }
}

/** The failure reason stored on the reference: the DP code (e.g. DP00800001007), else `failed` / `expired`. */
export function failureReason(s: 'TF' | 'TE', responseCode: string | undefined): string {
  if (responseCode !== undefined && /^DP\d{11}$/.test(responseCode)) return responseCode;
  return s === 'TE' ? 'expired' : 'failed';
}

function parseJson(r: RawResponse): unknown {
  if (r.text.trim() === '') {
    if (r.status >= 200 && r.status < 300) throw unparsable(r.route, r.status);
    return undefined;
  }
  try {
    return JSON.parse(r.text) as unknown;
  } catch {
    // An error status with a non-JSON body is still that error; a 2xx with one is a glitch.
    if (r.status >= 200 && r.status < 300) throw unparsable(r.route, r.status);
    return undefined;
  }
}

function statusOf(json: unknown): AirtelStatusBlock | undefined {
  const e = envelopeSchema.safeParse(json);
  return e.success ? e.data.status : undefined;
}

function facts(r: RawResponse, status: AirtelStatusBlock | undefined) {
  return { route: r.route, httpStatus: r.status, status, retryAfterHeader: r.retryAfter, now: r.now };
}
