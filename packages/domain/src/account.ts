import type { CurrencyCode } from './money';
import { DomainError } from './errors';

/** The providers accounts are synced from. The id is used in NATS subjects, metrics labels and the database. */
export const PROVIDERS = ['mono', 'momo', 'airtel'] as const;
export type ProviderId = (typeof PROVIDERS)[number];

export function isProviderId(value: unknown): value is ProviderId {
  return typeof value === 'string' && (PROVIDERS as readonly string[]).includes(value);
}

export function parseProviderId(value: unknown): ProviderId {
  if (!isProviderId(value)) {
    throw new DomainError('unknown_provider', `unknown provider: ${String(value).slice(0, 32)}`);
  }
  return value;
}

export const ACCOUNT_TYPES = ['bank', 'mobile_money'] as const;
export type AccountType = (typeof ACCOUNT_TYPES)[number];

/** Which kind of account each provider yields: Mono links banks, MoMo and Airtel are wallets. */
export const PROVIDER_ACCOUNT_TYPE: Readonly<Record<ProviderId, AccountType>> = Object.freeze({
  mono: 'bank',
  momo: 'mobile_money',
  airtel: 'mobile_money',
});

/**
 * Account health as the user sees it:
 * - `active`        syncing normally (transient failures keep an account active; they show in
 *                   `consecutive_failures` / `last_error`, not in the status);
 * - `auth_required` the provider rejected credentials or consent: the user must re-link; no sync
 *                   is attempted on a schedule until it is repaired;
 * - `error`         a permanent failure (unknown account, poison command, malformed data): needs
 *                   an operator or a later manual retry;
 * - `disabled`      switched off by the user or an operator; the sync never touches it.
 */
export const ACCOUNT_STATUSES = ['active', 'auth_required', 'error', 'disabled'] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

export function isAccountStatus(value: unknown): value is AccountStatus {
  return typeof value === 'string' && (ACCOUNT_STATUSES as readonly string[]).includes(value);
}

/**
 * Why a sync run was asked for:
 * - `scheduled` the account's `next_sync_at` came due; `nightly` the nightly full refresh;
 * - `balance`   a balance-only refresh; `stale` the scheduler's sweep re-issuing a lost command;
 * - `manual`    a user pressed "Sync now"; `webhook` a provider webhook (Mono);
 * - `callback`  a MoMo/Airtel payment callback about one of the account's references;
 * - `link`      the first sync of an account just linked; `repair` the sync after a re-auth repaired it;
 * - `admin`     an admin's org-wide sync; `background` an internal caller's background sync.
 */
export const SYNC_TRIGGERS = [
  'scheduled',
  'nightly',
  'balance',
  'stale',
  'manual',
  'webhook',
  'callback',
  'link',
  'repair',
  'admin',
  'background',
] as const;
export type SyncTrigger = (typeof SYNC_TRIGGERS)[number];

export function isSyncTrigger(value: unknown): value is SyncTrigger {
  return typeof value === 'string' && (SYNC_TRIGGERS as readonly string[]).includes(value);
}

/** Triggers that come from a person or from the provider itself, as opposed to our own timers. */
export const EXTERNAL_TRIGGERS: readonly SyncTrigger[] = Object.freeze(['manual', 'webhook', 'callback', 'link', 'repair']);

/**
 * What a provider adapter needs to know about an account. Credentials are not part of it: the
 * worker resolves `credentialId` through its own (encrypted) credential store.
 */
export interface AccountRef {
  /** Our id (UUID). */
  readonly id: string;
  readonly orgId: string;
  readonly provider: ProviderId;
  readonly type: AccountType;
  readonly currency: CurrencyCode;
  /** The provider's id for the account: Mono account id, MoMo/Airtel wallet or merchant reference. */
  readonly providerAccountId: string;
  readonly status: AccountStatus;
  /** `provider_credentials` row holding the merchant credentials (MoMo/Airtel). */
  readonly credentialId?: string;
  /** ISO 3166-1 alpha-2 country (Airtel needs `X-Country`). */
  readonly country?: string;
}

/**
 * The status changes a sync run may make. Anything else (enabling a disabled account, repairing
 * an `auth_required` one from outside a run) belongs to the user or the API, not to the sync.
 *
 * - active        → active | auth_required | error
 * - auth_required → auth_required | active   (a run that succeeds proves the link was repaired)
 * - error         → error | active | auth_required
 * - disabled      → (nothing: a run never starts or writes for a disabled account)
 */
export const SYNC_STATUS_TRANSITIONS: Readonly<Record<AccountStatus, readonly AccountStatus[]>> = Object.freeze({
  active: Object.freeze(['active', 'auth_required', 'error'] as AccountStatus[]),
  auth_required: Object.freeze(['auth_required', 'active'] as AccountStatus[]),
  error: Object.freeze(['error', 'active', 'auth_required'] as AccountStatus[]),
  disabled: Object.freeze([] as AccountStatus[]),
});

export function canSyncTransition(from: AccountStatus, to: AccountStatus): boolean {
  return SYNC_STATUS_TRANSITIONS[from].includes(to);
}

export function assertSyncTransition(from: AccountStatus, to: AccountStatus): void {
  if (!canSyncTransition(from, to)) {
    throw new DomainError('invalid_status_transition', `a sync may not move an account from ${from} to ${to}`, {
      from,
      to,
    });
  }
}

/**
 * Whether a run should start at all for an account in `status` asked for by `trigger`.
 * Disabled: never. `auth_required`: only for a person's or the provider's own request (manual,
 * webhook, callback) — those can follow a repair; timers (scheduled, nightly, balance, stale) must
 * not hammer a provider with credentials it already rejected.
 */
export function shouldRunSync(status: AccountStatus, trigger: SyncTrigger): boolean {
  switch (status) {
    case 'active':
    case 'error':
      return true;
    case 'auth_required':
      return EXTERNAL_TRIGGERS.includes(trigger);
    case 'disabled':
      return false;
  }
}

/** How a run failed, in the core error taxonomy's terms (`@intellifin/core` ErrorKind). */
export type FailureKind = 'auth' | 'retryable' | 'permanent' | 'validation';

/** How a run ended, from the status machine's point of view. */
export type RunResult =
  { readonly outcome: 'succeeded' } | { readonly outcome: 'cancelled' } | { readonly outcome: 'failed'; readonly failure: FailureKind };

/**
 * The status an account takes after a run ended with `result`:
 * succeeded → active; cancelled → unchanged; auth → auth_required; retryable → unchanged (the
 * command is retried with backoff, and the poison cap turns a never-ending one into `error`);
 * permanent / validation → error. A disabled account stays disabled whatever happened.
 */
export function statusAfterRun(current: AccountStatus, result: RunResult): AccountStatus {
  if (current === 'disabled') return 'disabled';
  let next: AccountStatus;
  if (result.outcome === 'succeeded') next = 'active';
  else if (result.outcome === 'cancelled') next = current;
  else if (result.failure === 'auth') next = 'auth_required';
  else if (result.failure === 'retryable') next = current;
  else next = 'error';
  // auth_required is only left by success: a permanent failure while the link is broken is most
  // likely a consequence of the broken link, and the user-facing state must stay "re-link".
  if (current === 'auth_required' && next === 'error') next = 'auth_required';
  assertSyncTransition(current, next);
  return next;
}
