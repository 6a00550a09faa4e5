import type { AccountStatus, ProviderId } from '@intellifin/domain';

/**
 * An account's sync status as the apps show it. Three statuses kept apart, as Plaid does:
 * - connection health: can we reach the data at all (consent, link, provider);
 * - run status: what the sync machinery is doing for it now;
 * - data completeness: how much of its history we hold.
 * Pure: the query module reads the facts, this turns them into the view.
 */
export const CONNECTION_HEALTH = ['ok', 'reauth_required', 'expiring', 'unlinked', 'provider_down'] as const;
export type ConnectionHealth = (typeof CONNECTION_HEALTH)[number];
export const RUN_STATUSES = ['idle', 'queued', 'running', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const DATA_COMPLETENESS = ['not_ready', 'initial', 'history_complete'] as const;
export type DataCompleteness = (typeof DATA_COMPLETENESS)[number];

export const PROVIDER_LABELS: Readonly<Record<ProviderId, string>> = { mono: 'Mono', momo: 'MTN MoMo', airtel: 'Airtel Money' };

/** What the database knows about one account (one row of the accounts query). */
export interface AccountFacts {
  id: string;
  provider: ProviderId;
  type: 'bank' | 'mobile_money';
  displayName: string | null;
  currency: string;
  balanceMinor: bigint | null;
  balanceAsOf: Date | null;
  status: AccountStatus;
  lastSuccessAt: Date | null;
  lastAttemptAt: Date | null;
  lastErrorCode: string | null;
  lastError: string | null;
  consentExpiresAt: Date | null;
  nextSyncAt: Date | null;
  /** The latest run (any outcome), if any. */
  lastRunOutcome: string | null;
  lastRunStartedAt: Date | null;
  lastRunErrorCode: string | null;
  lastRunErrorKind: string | null;
  /** A manual request queued after the latest run started (not cancelled, within the queued TTL). */
  queuedCommandId: string | null;
  queuedAt: Date | null;
  /** A successful run covered the history window (or was a full re-sync). */
  historyComplete: boolean;
  /** `now()` of the database when read. */
  dbNow: Date;
}

export interface AccountStatusView {
  id: string;
  provider: ProviderId;
  /** "Last synced via Mono": the provider's display name. */
  providerLabel: string;
  type: 'bank' | 'mobile_money';
  displayName: string | null;
  status: AccountStatus;
  balance: { minor: bigint; currency: string; asOf: string | null } | null;
  lastSuccessAt: string | null;
  lastAttemptAt: string | null;
  lastError: { code: string; hint: string } | null;
  nextSyncAt: string | null;
  nextManualSyncAllowedAt: string | null;
  connection: { health: ConnectionHealth; expiresAt: string | null };
  run: { status: RunStatus; code: string | null; since: string | null; commandId: string | null };
  data: { completeness: DataCompleteness };
}

/** Readable hints for the error codes the workers record; any other code keeps its stored (masked) hint. */
const HINTS: Readonly<Record<string, string>> = {
  auth_required: 'The bank or wallet needs you to reconnect this account.',
  reauth_required: 'The bank or wallet needs you to reconnect this account.',
  consent_revoked: 'Access to this account was withdrawn; reconnect it to resume syncing.',
  invalid_credentials: 'The stored credentials were refused by the provider; update them to resume syncing.',
  unlinked: 'This account was unlinked at the provider; link it again to resume syncing.',
  not_ready: 'The provider is still preparing this account’s data; syncing resumes by itself.',
  provider_unavailable: 'The provider is not answering right now; syncing resumes by itself.',
  rate_limited: 'The provider asked us to slow down; syncing resumes by itself.',
  timeout: 'The provider took too long to answer; syncing resumes by itself.',
};

export function readableHint(code: string, stored: string | null): string {
  return HINTS[code] ?? stored ?? 'The last sync failed; it is retried by itself.';
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export interface StatusOptions {
  consentExpiryWarningDays: number;
}

export function connectionHealth(f: AccountFacts, o: StatusOptions): { health: ConnectionHealth; expiresAt: string | null } {
  const expiresAt = iso(f.consentExpiresAt);
  if (f.status === 'disabled') return { health: 'unlinked', expiresAt };
  if (f.status === 'auth_required') return { health: 'reauth_required', expiresAt };
  if (f.consentExpiresAt && f.consentExpiresAt.getTime() - f.dbNow.getTime() <= o.consentExpiryWarningDays * 86_400_000)
    return { health: 'expiring', expiresAt };
  if (f.status === 'error' && f.lastRunErrorKind === 'retryable') return { health: 'provider_down', expiresAt };
  return { health: 'ok', expiresAt };
}

export function runStatus(f: AccountFacts): AccountStatusView['run'] {
  if (f.lastRunOutcome === 'running') return { status: 'running', code: null, since: iso(f.lastRunStartedAt), commandId: null };
  if (f.queuedCommandId) return { status: 'queued', code: null, since: iso(f.queuedAt), commandId: f.queuedCommandId };
  if (f.lastRunOutcome === 'failed')
    return { status: 'failed', code: f.lastRunErrorCode ?? 'unknown', since: iso(f.lastRunStartedAt), commandId: null };
  return { status: 'idle', code: null, since: null, commandId: null };
}

export function dataCompleteness(f: AccountFacts): DataCompleteness {
  if (!f.lastSuccessAt) return 'not_ready';
  return f.historyComplete ? 'history_complete' : 'initial';
}

export function accountStatusView(f: AccountFacts, nextManualSyncAllowedAt: Date | null, o: StatusOptions): AccountStatusView {
  return {
    id: f.id,
    provider: f.provider,
    providerLabel: PROVIDER_LABELS[f.provider],
    type: f.type,
    displayName: f.displayName,
    status: f.status,
    balance: f.balanceMinor === null ? null : { minor: f.balanceMinor, currency: f.currency, asOf: iso(f.balanceAsOf) },
    lastSuccessAt: iso(f.lastSuccessAt),
    lastAttemptAt: iso(f.lastAttemptAt),
    lastError: f.lastErrorCode ? { code: f.lastErrorCode, hint: readableHint(f.lastErrorCode, f.lastError) } : null,
    nextSyncAt: iso(f.nextSyncAt),
    nextManualSyncAllowedAt: iso(nextManualSyncAllowedAt),
    connection: connectionHealth(f, o),
    run: runStatus(f),
    data: { completeness: dataCompleteness(f) },
  };
}
