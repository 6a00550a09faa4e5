import { z } from 'zod';
import { PermanentError } from '@intellifin/core';
import { moneyFromDecimal, parseCurrency } from '@intellifin/domain';
import type { FreshToken } from '@intellifin/persistence';
import {
  maskBody,
  type ReferenceKind,
  type StatusLookup,
  type WalletApi,
  type WalletBalance,
  type WalletCall,
} from '@intellifin/wallet-sync';
import { malformed } from './momo.errors';
import type { MomoClient } from './momo.client';

/**
 * The merchant's MoMo credential as stored (encrypted) in `provider_credentials`: the API user and
 * key, and the subscription key of each product (MoMo gives one per product, providers.md §2.1).
 * `targetEnvironment` overrides MOMO_TARGET_ENVIRONMENT for this merchant.
 */
export const momoCredentialSchema = z.object({
  apiUser: z.string().min(1),
  apiKey: z.string().min(1),
  subscriptionKeys: z.object({ collection: z.string().min(1), disbursement: z.string().min(1).optional() }),
  targetEnvironment: z.string().min(1).optional(),
});
export type MomoCredential = z.infer<typeof momoCredentialSchema>;

export type MomoProduct = 'collection' | 'disbursement';

const STATUS_ROUTE: Record<ReferenceKind, { route: string; path: (ref: string) => string }> = {
  collection: { route: 'GET /collection/v1_0/requesttopay/:ref', path: (r) => `/collection/v1_0/requesttopay/${encodeURIComponent(r)}` },
  payout: { route: 'GET /disbursement/v1_0/transfer/:ref', path: (r) => `/disbursement/v1_0/transfer/${encodeURIComponent(r)}` },
};

/** Terminal failures some clients model besides FAILED (providers.md §2.5); any other unknown value is pending. */
const FAILED_STATUSES = new Set(['FAILED', 'REJECTED', 'TIMEOUT']);

/**
 * MTN MoMo as a `WalletApi` (providers.md §2): `POST /{product}/token/`, the collection balance,
 * request-to-pay status for collections and transfer status for payouts. MoMo has no history route;
 * none is ever called.
 */
export class MomoApi implements WalletApi<MomoCredential> {
  readonly provider = 'momo' as const;

  constructor(
    private readonly client: MomoClient,
    private readonly targetEnvironment: string,
  ) {}

  parseCredential(secret: unknown): MomoCredential {
    const r = momoCredentialSchema.safeParse(secret);
    if (!r.success) {
      const fields = [...new Set(r.error.issues.map((i) => i.path.join('.')))].join(', ');
      throw new PermanentError('momo_credential_invalid', `MoMo credential is missing or has invalid fields: ${fields}`);
    }
    return r.data;
  }

  productFor(op: ReferenceKind | 'balance'): MomoProduct {
    return op === 'payout' ? 'disbursement' : 'collection';
  }

  private subscriptionKey(c: MomoCredential, product: string): string {
    const key = product === 'disbursement' ? c.subscriptionKeys.disbursement : c.subscriptionKeys.collection;
    if (!key) throw new PermanentError('momo_credential_invalid', `MoMo credential has no subscriptionKeys.${product}`);
    return key;
  }

  async requestToken(c: MomoCredential, product: string, signal: AbortSignal): Promise<FreshToken> {
    const res = await this.client.call({
      route: `POST /${product}/token/`,
      method: 'POST',
      path: `/${product}/token/`,
      headers: {
        authorization: `Basic ${Buffer.from(`${c.apiUser}:${c.apiKey}`).toString('base64')}`,
        'ocp-apim-subscription-key': this.subscriptionKey(c, product),
      },
      token: { product },
      signal,
    });
    const b = res.body as { access_token?: unknown; expires_in?: unknown } | undefined;
    const expires = typeof b?.expires_in === 'string' ? Number(b.expires_in) : b?.expires_in;
    if (typeof b?.access_token !== 'string' || b.access_token === '') throw malformed(`POST /${product}/token/`, 'access_token missing');
    if (typeof expires !== 'number' || !Number.isFinite(expires) || expires <= 0)
      throw malformed(`POST /${product}/token/`, 'expires_in invalid');
    return { token: b.access_token, expiresInMs: expires * 1000 };
  }

  private headers(call: WalletCall<MomoCredential>): Record<string, string> {
    return {
      authorization: `Bearer ${call.token}`,
      'ocp-apim-subscription-key': this.subscriptionKey(call.credential, call.product),
      'x-target-environment': call.credential.targetEnvironment ?? this.targetEnvironment,
    };
  }

  async readBalance(call: WalletCall<MomoCredential>): Promise<WalletBalance> {
    const route = `GET /${call.product}/v1_0/account/balance`;
    const res = await this.client.call({
      route,
      method: 'GET',
      path: `/${call.product}/v1_0/account/balance`,
      headers: this.headers(call),
      signal: call.signal,
    });
    const b = res.body as { availableBalance?: unknown; currency?: unknown } | undefined;
    if (typeof b?.availableBalance !== 'string' || typeof b.currency !== 'string')
      throw malformed(route, 'availableBalance/currency missing');
    let currency;
    try {
      currency = parseCurrency(b.currency);
    } catch {
      throw malformed(route, 'unknown currency');
    }
    if (currency !== call.account.currency)
      throw malformed(route, `currency ${currency} differs from the account's ${call.account.currency}`);
    try {
      const balance = moneyFromDecimal(b.availableBalance, currency);
      return { balance, available: balance, raw: b };
    } catch {
      throw malformed(route, 'availableBalance is not a decimal amount');
    }
  }

  async lookupStatus(call: WalletCall<MomoCredential>, ref: { referenceId: string; kind: ReferenceKind }): Promise<StatusLookup> {
    const r = STATUS_ROUTE[ref.kind];
    const res = await this.client.call({
      route: r.route,
      method: 'GET',
      path: r.path(ref.referenceId),
      headers: this.headers(call),
      signal: call.signal,
      passStatuses: [404],
    });
    if (res.status === 404) {
      const code = (res.body as { code?: unknown } | undefined)?.code;
      // RESOURCE_NOT_FOUND: unknown, or accepted with 202 and later rejected by the wallet (§2.5).
      if (code !== undefined && code !== 'RESOURCE_NOT_FOUND') throw malformed(r.route, 'unexpected 404 body');
      return { status: 'not_found', providerStatus: 'RESOURCE_NOT_FOUND', raw: res.body ?? null };
    }
    return parseStatusBody(r.route, res.body);
  }

  parseCallback(body: unknown, referenceId: string | undefined): { referenceId: string; lookup: StatusLookup } {
    if (!referenceId) throw malformed('callback', 'the callback URL named no reference');
    return { referenceId, lookup: parseStatusBody('callback', body) };
  }
}

/** A request-to-pay / transfer status body (also the callback body), normalised. */
export function parseStatusBody(route: string, body: unknown): StatusLookup {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw malformed(route, 'not an object');
  const b = body as Record<string, unknown>;
  if (typeof b.status !== 'string' || b.status === '') throw malformed(route, 'status missing');
  const ftid = b.financialTransactionId;
  const ledgerId = typeof ftid === 'string' && ftid !== '' ? ftid : typeof ftid === 'number' ? String(ftid) : undefined;
  const reasonValue = b.reason;
  const reason =
    typeof reasonValue === 'string'
      ? reasonValue
      : reasonValue && typeof reasonValue === 'object' && typeof (reasonValue as { code?: unknown }).code === 'string'
        ? (reasonValue as { code: string }).code
        : undefined;
  const common = {
    providerStatus: b.status,
    ...(typeof b.amount === 'string' ? { amount: b.amount } : {}),
    ...(typeof b.currency === 'string' ? { currency: b.currency } : {}),
    raw: maskBody(body),
  };
  if (b.status === 'SUCCESSFUL') return { status: 'successful', ...(ledgerId ? { ledgerId } : {}), ...common };
  if (FAILED_STATUSES.has(b.status)) {
    return {
      status: 'failed',
      reason: reason ?? (b.status === 'FAILED' ? 'unspecified' : b.status),
      ...(ledgerId ? { ledgerId } : {}),
      ...common,
    };
  }
  // PENDING, CREATED and any unknown non-terminal value (§2.5).
  return { status: 'pending', ...common };
}
