import type { AccountRef, Money } from '@intellifin/domain';
import type { FreshToken, ReferenceKind, WalletProviderId } from '@intellifin/persistence';

export type { ReferenceKind, WalletProviderId } from '@intellifin/persistence';

/**
 * What one provider (MoMo, Airtel) implements so that the shared `WalletProvider` can keep a
 * merchant wallet current. The provider's HTTP client, mapper and error mapping live in its worker;
 * everything provider-neutral (credentials, token cache, 401 → one refresh → AuthError, paging over
 * our own pending references, grace period, callbacks, rate budget) lives here.
 *
 * Error contract (as the provider port's): throw `@intellifin/core` errors. In particular:
 * - `TokenRejectedError` when a business call answered 401 for the bearer token (the shared layer
 *   refreshes the token once and retries; a second rejection becomes an `AuthError`);
 * - `AuthError` from `requestToken` when the provider refused the credentials themselves (MoMo
 *   401/500 `login_failed`, Airtel client rejected): the account needs the user;
 * - `RetryableError` (with `retryAfterMs` from `Retry-After`) for 5xx, 429, timeouts, resets;
 * - `ValidationError` for a malformed body.
 * Never put tokens, keys, MSISDNs or bodies in error messages.
 */
export interface WalletApi<C = unknown> {
  readonly provider: WalletProviderId;

  /** Validates the decrypted `provider_credentials` secret (zod); throws `PermanentError` naming the missing field. */
  parseCredential(secret: unknown): C;

  /** The token product an operation uses: MoMo `collection` | `disbursement`; Airtel `default`. */
  productFor(op: ReferenceKind | 'balance'): string;

  /** Asks the provider for a new access token (MoMo `POST /{product}/token/`, Airtel `POST /auth/oauth2/token`). */
  requestToken(credential: C, product: string, signal: AbortSignal): Promise<FreshToken>;

  /** The merchant wallet's balance (MoMo `GET /collection/v1_0/account/balance`, Airtel `GET /standard/v1/users/balance`). */
  readBalance(call: WalletCall<C>): Promise<WalletBalance>;

  /** The status of one reference we created, by kind (MoMo requesttopay / transfer; Airtel payments enquiry). */
  lookupStatus(call: WalletCall<C>, ref: { referenceId: string; kind: ReferenceKind }): Promise<StatusLookup>;

  /**
   * A callback body, normalised. `referenceId` is the reference the callback URL named (MoMo's body
   * does not carry it); Airtel's body does (`transaction.id`). Throws `ValidationError` when malformed.
   */
  parseCallback(body: unknown, referenceId: string | undefined): { referenceId: string; lookup: StatusLookup };
}

/** Everything one authorised provider call needs. */
export interface WalletCall<C> {
  readonly account: AccountRef;
  readonly credential: C;
  /** The bearer token for `product`. */
  readonly token: string;
  readonly product: string;
  readonly signal: AbortSignal;
}

export interface WalletBalance {
  readonly balance: Money;
  readonly available?: Money;
  /** The provider's raw body (kept for audits; never logged). */
  readonly raw?: unknown;
}

/** A provider's status of one reference, normalised. */
export type WalletStatus = 'pending' | 'successful' | 'failed' | 'not_found';

export interface StatusLookup {
  readonly status: WalletStatus;
  /** The provider's ledger id (MoMo `financialTransactionId`, Airtel `airtel_money_id`) once it has one. */
  readonly ledgerId?: string;
  /** Failure reason as the provider says it (MoMo `reason`, Airtel DP/ESB code). */
  readonly reason?: string;
  /** Amount and currency as the provider reports them (major-unit decimal string as on the wire). */
  readonly amount?: string;
  readonly currency?: string;
  /** The provider's status as received (`SUCCESSFUL`, `TS`, …), for diagnostics. */
  readonly providerStatus?: string;
  /** The body as received, with personal data masked by the api (`maskParty`). */
  readonly raw: unknown;
}

/**
 * Thrown by a `WalletApi` business call answered 401 for its bearer token: the shared layer drops
 * that token (if still cached), refreshes once and retries; a second 401 is an `AuthError`.
 */
export class TokenRejectedError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'TokenRejectedError';
    this.code = code;
  }
}
