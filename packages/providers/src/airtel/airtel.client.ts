import { trace, withSpan, type Tracer } from '@intellifin/core';
import { BALANCE_ROUTE, COLLECTION_ROUTE, DISBURSEMENT_ROUTE, TOKEN_ROUTE } from './airtel.errors';
import type { AirtelHttp } from './airtel.http';
import { interpretBalance, interpretEnquiry, interpretToken, type AirtelReferenceStatus, type AirtelToken } from './airtel.mapper';

/** One merchant's Airtel app: client credentials (decrypted from `provider_credentials`) and the wallet's country/currency. */
export interface AirtelMerchant {
  clientId: string;
  clientSecret: string;
  /** ISO-3166 alpha-2 (`X-Country`). */
  country: string;
  /** ISO-4217 (`X-Currency`). */
  currency: string;
}

/**
 * The Airtel calls the wallet sync needs (providers.md §3): the token, the merchant balance and
 * the enquiries of a collection and of a disbursement by the platform's `transaction.id`. No
 * history route exists and none is called. Business calls send the bearer token, `X-Country` and
 * `X-Currency`; a refused token is an `AuthError` with code `airtel_token_rejected` (the wallet
 * layer refreshes once and repeats the call); a token request the endpoint refuses is
 * `airtel_client_rejected` (the merchant must re-link).
 */
export class AirtelClient {
  constructor(
    private readonly http: AirtelHttp,
    private readonly tracer?: Tracer,
  ) {}

  /** `POST /auth/oauth2/token` with the JSON client-credentials body (§3.2). */
  requestToken(m: Pick<AirtelMerchant, 'clientId' | 'clientSecret'>, signal: AbortSignal): Promise<AirtelToken> {
    return this.span('airtel.token', () =>
      this.http.call(
        {
          route: TOKEN_ROUTE,
          method: 'POST',
          path: '/auth/oauth2/token',
          headers: {},
          body: { client_id: m.clientId, client_secret: m.clientSecret, grant_type: 'client_credentials' },
          signal,
        },
        interpretToken,
      ),
    );
  }

  /** The merchant wallet's balance in minor units of `m.currency` (§3.6: a decimal string in major units). */
  balance(m: AirtelMerchant, token: string, signal: AbortSignal): Promise<bigint> {
    return this.span('airtel.balance', () =>
      this.http.call(
        { route: BALANCE_ROUTE, method: 'GET', path: '/standard/v1/users/balance', headers: this.headers(m, token), signal },
        (r) => interpretBalance(r, m.currency),
      ),
    );
  }

  /** A collection's state by its `transaction.id` (`GET /standard/v1/payments/{id}`, §3.5). */
  collectionStatus(m: AirtelMerchant, token: string, id: string, signal: AbortSignal): Promise<AirtelReferenceStatus> {
    return this.enquiry(COLLECTION_ROUTE, `/standard/v1/payments/${encodeURIComponent(id)}`, m, token, id, signal);
  }

  /** A payout's state by its `transaction.id` (`GET /standard/v1/disbursements/{id}`, §3.6). */
  disbursementStatus(m: AirtelMerchant, token: string, id: string, signal: AbortSignal): Promise<AirtelReferenceStatus> {
    return this.enquiry(DISBURSEMENT_ROUTE, `/standard/v1/disbursements/${encodeURIComponent(id)}`, m, token, id, signal);
  }

  private enquiry(route: string, path: string, m: AirtelMerchant, token: string, id: string, signal: AbortSignal) {
    return this.span('airtel.enquiry', () =>
      this.http.call({ route, method: 'GET', path, headers: this.headers(m, token), signal }, (r) => interpretEnquiry(r, id)),
    );
  }

  private headers(m: AirtelMerchant, token: string): Record<string, string> {
    return { authorization: `Bearer ${token}`, 'x-country': m.country, 'x-currency': m.currency };
  }

  private span<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return withSpan(this.tracer ?? trace.getTracer('airtel-worker'), name, { attributes: { 'provider.name': 'airtel' } }, fn);
  }
}
