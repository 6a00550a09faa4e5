import type { AccountRef, ProviderId, SyncTrigger } from './account';
import type { Money } from './money';
import type { DateWindow, SyncCursor } from './sync-cursor';
import type { SyncMode } from './sync-run';
import type { CanonicalTransaction } from './transaction';

/**
 * The port a provider adapter (Mono, MoMo, Airtel; each lives in its worker) implements, and the
 * only thing the shared sync engine knows about a provider.
 *
 * ## Error contract
 * The domain does not depend on `@intellifin/core`, so the contract is stated here and adapters
 * throw core's taxonomy (`@intellifin/core` errors):
 * - `AuthError`       credentials, token or consent rejected *after one token refresh*: Mono
 *                     `REAUTHORISATION_REQUIRED`, 401/403, MoMo key revoked, Airtel client rejected.
 *                     The engine marks the account `auth_required`, emits one auth event, no retry.
 * - `RetryableError`  transient: 5xx, 429, timeouts, connection resets. Set `retryAfterMs` from
 *                     `Retry-After` when the provider sent one (see `parseRetryAfterMs`); the engine
 *                     naks with `retryDelayMs`, which never undercuts it.
 * - `PermanentError`  will never succeed as is: unknown account (404), unsupported currency.
 *                     The engine marks `error`, terms the command and records it in the DLQ.
 * - `ValidationError` the provider sent something malformed (the mapper's `DomainError`s become
 *                     this). Thrown while producing a page, so nothing of that page is written.
 * - `NotReadyError`   (a `RetryableError`) the provider has not finished preparing the data (Mono
 *                     `data_status` PROCESSING/PARTIAL, an enqueued real-time job): retried later
 *                     with backoff, never counted as a failure of the account.
 * - `UnlinkedError`   (a `PermanentError`) the user or the provider unlinked the account: the engine
 *                     disables it with the reason `unlinked`, keeps its data and never retries.
 * - An `AbortError` (or any error) after `signal` aborted is treated as cancellation.
 *
 * Adapters compute their own fetch window from the cursor (the engine is provider-agnostic).
 * Anything else is treated as retryable by the engine (bounded by the poison cap).
 *
 * Adapters never log or put credentials, tokens, MSISDNs or account numbers in error messages.
 */
export interface ProviderPort {
  readonly provider: ProviderId;

  /**
   * What changed since `cursor`, as pages. The engine commits each page — its rows and its
   * `cursorAfter` — in one fenced Postgres transaction before pulling the next, so:
   * - the adapter must not prefetch beyond one page (a cancelled run stops at a page boundary:
   *   the engine stops iterating and calls `return()`, so clean up in `finally`);
   * - every page must be self-consistent: if the run stops after page k, storing
   *   `pages[k].cursorAfter` must lose nothing (Mono: the input cursor until the last page, then
   *   `advanceMonoCursor(cursor, window)`; MoMo/Airtel: pending refs minus those found terminal so far).
   * Pages may be empty (a page that only moves the cursor). Rows in one page have distinct
   * `providerTxnId`s and are valid canonical transactions in the account's currency.
   */
  fetchDelta(request: FetchDeltaRequest): AsyncIterable<TransactionPage>;

  /** The account's current balance. */
  fetchBalance(request: FetchBalanceRequest): Promise<BalanceSnapshot>;

  /**
   * A URL that takes the user straight to re-linking this account (Mono `POST /v2/accounts/initiate`
   * with scope reauth). Absent for providers whose repair happens elsewhere (MoMo: the user
   * regenerates the API key in the MoMo setup flow; the app's own screen is the deep link).
   */
  requestReauthLink?(request: ReauthLinkRequest): Promise<ReauthLink>;
}

export interface FetchDeltaRequest {
  readonly account: AccountRef;
  /** The cursor as stored (`parseCursor(accounts.cursor, provider)`). */
  readonly cursor: SyncCursor;
  readonly trigger: SyncTrigger;
  readonly mode: SyncMode;
  /** Ask for real-time data (Mono `x-realtime: true`, only for manual triggers within Mono's limits). */
  readonly realtime: boolean;
  /** The engine's clock for this run (the adapter must not read its own). */
  readonly now: Date;
  /** MoMo/Airtel: extra references to poll now (named by a callback trigger), besides the cursor's. */
  readonly hintRefs?: readonly string[];
  /** Aborted on cancel or shutdown; pass it to every HTTP call. */
  readonly signal: AbortSignal;
}

export interface TransactionPage {
  /** 0-based page number within this run. */
  readonly index: number;
  readonly transactions: readonly CanonicalTransaction[];
  /** The cursor to store together with this page's rows. */
  readonly cursorAfter: SyncCursor;
  /** The provider date window this page was read from (Mono), recorded on the run row. */
  readonly window?: DateWindow;
}

export interface FetchBalanceRequest {
  readonly account: AccountRef;
  readonly realtime: boolean;
  readonly now: Date;
  readonly signal: AbortSignal;
}

export interface BalanceSnapshot {
  /** Ledger/current balance, in the account's currency. */
  readonly balance: Money;
  /** Available balance when the provider distinguishes it. */
  readonly available?: Money;
  /** When the provider says the balance was true (else the fetch time). */
  readonly asOf: Date;
}

export interface ReauthLinkRequest {
  readonly account: AccountRef;
  /** Where the provider's widget sends the user back to (the app's deep link). */
  readonly redirectUrl?: string;
  readonly signal: AbortSignal;
}

export interface ReauthLink {
  readonly url: string;
  readonly expiresAt?: Date;
}

/** Collects every page of a delta (tests, small backfills). Honours `signal` between pages. */
export async function collectPages(pages: AsyncIterable<TransactionPage>, signal?: AbortSignal): Promise<TransactionPage[]> {
  const out: TransactionPage[] = [];
  for await (const page of pages) {
    out.push(page);
    if (signal?.aborted) break;
  }
  return out;
}

/**
 * The re-link URL stored on an account (`accounts.reauth_url`), if the user can still use it: a link
 * is reused until it expires, so asking again (the engine on a failed run, sync-api's
 * `POST /v1/accounts/:id/reauth`) never churns a link the user already holds. A link stored
 * without an expiry is not reused (its lifetime is unknown).
 */
export function reusableReauthLink(
  stored: { reauthUrl: string | null; reauthUrlExpiresAt: Date | null },
  now: Date,
): { url: string; expiresAt: Date } | null {
  if (stored.reauthUrl && stored.reauthUrlExpiresAt && stored.reauthUrlExpiresAt.getTime() > now.getTime())
    return { url: stored.reauthUrl, expiresAt: stored.reauthUrlExpiresAt };
  return null;
}
