import { z } from 'zod';
import { AuthError, PermanentError, RetryableError, ValidationError } from '@intellifin/core';
import type { AirtelApi, AirtelCredential } from './airtel/airtel.api';
import type { MomoApi, MomoCredential } from './momo/momo.api';
import type { MonoClient } from './mono/mono.client';
import { parseBody } from './mono/mono.mapper';

/**
 * What linking and repair (sync-api) ask of the providers, over the same clients the workers use:
 * Mono's code exchange (`POST /v2/accounts/auth`, then the account's details for its currency), and
 * a token request proving a MoMo or Airtel merchant credential works. Each failure is classified for
 * the API: `rejected` (the user's code or credentials are wrong: a 400 saying so), `unavailable`
 * (the provider or our own configuration failed: a 503, nothing stored).
 */
export type VerificationFailure =
  { kind: 'rejected'; code: string; message: string } | { kind: 'unavailable'; code: string; message: string };

const AUTH_ROUTE = 'POST /v2/accounts/auth';
const DETAILS_ROUTE = 'GET /v2/accounts/:id';

const exchangeSchema = z.object({ status: z.literal('successful'), data: z.object({ id: z.string().min(1).max(200) }) });
const detailsSchema = z.object({
  status: z.literal('successful'),
  data: z.object({
    account: z.object({
      currency: z.string().regex(/^[A-Z]{3}$/),
      institution: z.object({ name: z.string() }).partial().optional(),
    }),
  }),
});

export interface MonoLinkedAccount {
  /** Mono's permanent account id (`data.id` of the exchange). */
  id: string;
  currency: string;
  /** The bank's name (never the account number or holder name). */
  institution: string | null;
}

/** Exchanges a Mono Connect code for the account id, then reads the account's currency and bank. */
export async function exchangeMonoCode(client: MonoClient, code: string, signal: AbortSignal): Promise<MonoLinkedAccount> {
  const res = await client.post(AUTH_ROUTE, '/v2/accounts/auth', { code }, signal);
  const { id } = parseBody(exchangeSchema, AUTH_ROUTE, res.body).data;
  const details = await client.get(DETAILS_ROUTE, `/v2/accounts/${encodeURIComponent(id)}`, {}, signal);
  const account = parseBody(detailsSchema, DETAILS_ROUTE, details.body).data.account;
  return { id, currency: account.currency, institution: account.institution?.name ?? null };
}

/** A token request for each product the credential names (collection always; disbursement when given). */
export async function verifyMomoCredential(api: MomoApi, credential: MomoCredential, signal: AbortSignal): Promise<void> {
  await api.requestToken(credential, 'collection', signal);
  if (credential.subscriptionKeys.disbursement) await api.requestToken(credential, 'disbursement', signal);
}

/** A token request with the client credentials. */
export async function verifyAirtelCredential(api: AirtelApi, credential: AirtelCredential, signal: AbortSignal): Promise<void> {
  await api.requestToken(credential, 'default', signal);
}

/** Codes that mean the user's own input was refused (the others of their kind are our configuration). */
const REJECTED_CODES = new Set([
  // MoMo token endpoint: API user/key, the product's subscription key, or no key generated yet.
  'momo_credentials_rejected',
  'momo_subscription_key_rejected',
  'momo_login_failed',
  // Airtel token endpoint: client id/secret refused or malformed.
  'airtel_client_rejected',
  'airtel_token_request_rejected',
  // Mono: the exchange refused the code (400: invalid or expired).
  'mono_request_rejected',
  'mono_account_not_found',
]);

/**
 * How the API answers a provider failure during linking or repair. Messages come from the clients
 * and name routes and provider codes only, never keys, tokens or account numbers.
 */
export function classifyVerificationFailure(err: unknown): VerificationFailure {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : 'provider request failed';
  if (typeof code === 'string' && REJECTED_CODES.has(code) && (err instanceof AuthError || err instanceof PermanentError))
    return { kind: 'rejected', code, message };
  if (err instanceof AuthError) return { kind: 'rejected', code: err.code, message };
  if (err instanceof RetryableError) return { kind: 'unavailable', code: err.code, message };
  if (err instanceof ValidationError) return { kind: 'unavailable', code: err.code, message };
  return { kind: 'unavailable', code: typeof code === 'string' ? code : 'provider_error', message };
}
