import { z } from 'zod';
import { AuthError, PermanentError } from '@intellifin/core';
import { moneyFromMinor } from '@intellifin/domain';
import type { FreshToken } from '@intellifin/persistence';
import {
  TokenRejectedError,
  type ReferenceKind,
  type StatusLookup,
  type WalletApi,
  type WalletBalance,
  type WalletCall,
} from '@intellifin/wallet-sync';
import type { AirtelClient, AirtelMerchant } from './airtel.client';
import { isTokenRejected, malformed } from './airtel.errors';
import { fromStatus, type AirtelReferenceStatus } from './airtel.mapper';
import { callbackSchema } from './airtel.schemas';

/**
 * The merchant's Airtel credential as stored (encrypted) in `provider_credentials`: the app's
 * client id and secret (providers.md §3.2), and optionally the wallet's country when the account
 * row does not carry one (`X-Country`).
 */
export const airtelCredentialSchema = z.object({
  clientId: z.string().min(1).max(255),
  clientSecret: z.string().min(1).max(255),
  country: z
    .string()
    .regex(/^[A-Z]{2}$/)
    .optional(),
});
export type AirtelCredential = z.infer<typeof airtelCredentialSchema>;

/** Airtel has one token per app (no products as MoMo has). */
export const AIRTEL_PRODUCT = 'default';

/**
 * Airtel Money as a `WalletApi` (providers.md §3): `POST /auth/oauth2/token`, the merchant balance,
 * the collection enquiry (`/standard/v1/payments/{id}`) and the payout enquiry
 * (`/standard/v1/disbursements/{id}`). No history route exists; none is called.
 *
 * Callbacks (§3.7) carry `status_code` and, for TS, `airtel_money_id`, but no DP code: a TS
 * callback is final (the same transition the enquiry will report); a TF callback is taken as a
 * trigger only (status `pending`), so the run's enquiry records the failure with its DP reason and
 * a callback and a poll never disagree about it.
 */
export class AirtelApi implements WalletApi<AirtelCredential> {
  readonly provider = 'airtel' as const;

  constructor(private readonly client: AirtelClient) {}

  parseCredential(secret: unknown): AirtelCredential {
    const r = airtelCredentialSchema.safeParse(secret);
    if (!r.success) {
      const fields = [...new Set(r.error.issues.map((i) => i.path.join('.') || '(root)'))].join(', ');
      throw new PermanentError('airtel_credential_invalid', `Airtel credential is missing or has invalid fields: ${fields}`);
    }
    return r.data;
  }

  productFor(_op: ReferenceKind | 'balance'): string {
    return AIRTEL_PRODUCT;
  }

  async requestToken(c: AirtelCredential, _product: string, signal: AbortSignal): Promise<FreshToken> {
    const t = await this.client.requestToken(c, signal);
    return { token: t.accessToken, expiresInMs: t.expiresInSeconds * 1000 };
  }

  async readBalance(call: WalletCall<AirtelCredential>): Promise<WalletBalance> {
    const minor = await this.business(() => this.client.balance(this.merchant(call), call.token, call.signal));
    const balance = moneyFromMinor(minor, call.account.currency);
    return { balance, available: balance };
  }

  async lookupStatus(call: WalletCall<AirtelCredential>, ref: { referenceId: string; kind: ReferenceKind }): Promise<StatusLookup> {
    const m = this.merchant(call);
    const s = await this.business(() =>
      ref.kind === 'payout'
        ? this.client.disbursementStatus(m, call.token, ref.referenceId, call.signal)
        : this.client.collectionStatus(m, call.token, ref.referenceId, call.signal),
    );
    return toLookup(s);
  }

  parseCallback(body: unknown, referenceId: string | undefined): { referenceId: string; lookup: StatusLookup } {
    const r = callbackSchema.safeParse(body);
    if (!r.success) throw malformed('callback', r.error.issues);
    const tx = r.data.transaction;
    if (referenceId !== undefined && referenceId !== tx.id) {
      throw malformed('callback', [{ path: ['transaction', 'id'], message: 'differs from the reference the callback URL named' }]);
    }
    if (tx.status_code === 'TS')
      return { referenceId: tx.id, lookup: toLookup(fromStatus('TS', undefined, tx.airtel_money_id, 'callback')) };
    // Not final here (TF without its DP code, or a non-final status): a trigger for the enquiry.
    return {
      referenceId: tx.id,
      lookup: { status: 'pending', providerStatus: tx.status_code, raw: { transaction: { id: tx.id, status_code: tx.status_code } } },
    };
  }

  private merchant(call: WalletCall<AirtelCredential>): AirtelMerchant {
    const country = call.account.country ?? call.credential.country;
    if (!country) {
      throw new PermanentError(
        'airtel_country_missing',
        `Airtel account ${call.account.id} has no country (accounts.country or credential.country)`,
      );
    }
    return { clientId: call.credential.clientId, clientSecret: call.credential.clientSecret, country, currency: call.account.currency };
  }

  /** A refused bearer token becomes the wallet layer's `TokenRejectedError` (it refreshes once, then `AuthError`). */
  private async business<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isTokenRejected(err)) throw new TokenRejectedError((err as AuthError).code, (err as AuthError).message);
      throw err;
    }
  }
}

/** The normalised lookup; `raw` keeps only the codes and the ledger id (never MSISDNs). */
export function toLookup(s: AirtelReferenceStatus): StatusLookup {
  switch (s.state) {
    case 'successful':
      return {
        status: 'successful',
        ledgerId: s.ledgerId,
        providerStatus: 'TS',
        raw: { status: 'TS', response_code: s.code ?? null, airtel_money_id: s.ledgerId },
      };
    case 'failed':
      return {
        status: 'failed',
        reason: s.reason,
        ...(s.ledgerId ? { ledgerId: s.ledgerId } : {}),
        providerStatus: s.providerStatus,
        raw: { status: s.providerStatus, response_code: s.reason },
      };
    case 'pending':
      return { status: 'pending', providerStatus: s.providerStatus, raw: { status: s.providerStatus, response_code: s.code ?? null } };
    default:
      return { status: 'not_found', raw: null };
  }
}
