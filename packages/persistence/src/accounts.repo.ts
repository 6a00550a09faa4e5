import type { AccountStatus, ProviderId, SyncMode } from '@intellifin/domain';
import type { Queryable } from './db';

export interface AccountRecord {
  id: string;
  orgId: string;
  userId: string | null;
  provider: ProviderId;
  providerAccountId: string;
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
  consecutiveFailures: number;
  fence: bigint;
  cursor: unknown;
  credentialId: string | null;
  reauthUrl: string | null;
  reauthUrlExpiresAt: Date | null;
  rerunRequestedAt: Date | null;
  /** Start (database clock) and scope of the last successful run. */
  lastSuccessStartedAt: Date | null;
  lastSuccessMode: SyncMode | null;
  lastSuccessRealtime: boolean | null;
  cancelRequestedAt: Date | null;
}

const COLUMNS: Record<keyof AccountRecord, string> = {
  id: 'id',
  orgId: 'org_id',
  userId: 'user_id',
  provider: 'provider',
  providerAccountId: 'provider_account_id',
  type: 'type',
  displayName: 'display_name',
  currency: 'currency',
  balanceMinor: 'balance_minor',
  balanceAsOf: 'balance_as_of',
  status: 'status',
  lastSuccessAt: 'last_success_at',
  lastAttemptAt: 'last_attempt_at',
  lastErrorCode: 'last_error_code',
  lastError: 'last_error',
  consecutiveFailures: 'consecutive_failures',
  fence: 'fence',
  cursor: 'cursor',
  credentialId: 'credential_id',
  reauthUrl: 'reauth_url',
  reauthUrlExpiresAt: 'reauth_url_expires_at',
  rerunRequestedAt: 'rerun_requested_at',
  lastSuccessStartedAt: 'last_success_started_at',
  lastSuccessMode: 'last_success_mode',
  lastSuccessRealtime: 'last_success_realtime',
  cancelRequestedAt: 'cancel_requested_at',
};
const SELECT_LIST = Object.entries(COLUMNS)
  .map(([k, c]) => `${c} AS "${k}"`)
  .join(', ');

export async function insertOrganization(db: Queryable, name: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>('INSERT INTO organizations (name) VALUES ($1) RETURNING id', [name]);
  return rows[0]!.id;
}

export async function insertUser(db: Queryable, orgId: string, externalId: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>('INSERT INTO users (org_id, external_id) VALUES ($1, $2) RETURNING id', [
    orgId,
    externalId,
  ]);
  return rows[0]!.id;
}

export interface NewAccount {
  orgId: string;
  userId?: string | null;
  provider: ProviderId;
  providerAccountId: string;
  type: 'bank' | 'mobile_money';
  currency: string;
  displayName?: string;
  credentialId?: string | null;
}

export async function insertAccount(db: Queryable, a: NewAccount): Promise<AccountRecord> {
  const { rows } = await db.query<AccountRecord>(
    `INSERT INTO accounts (org_id, user_id, provider, provider_account_id, type, currency, display_name, credential_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${SELECT_LIST}`,
    [a.orgId, a.userId ?? null, a.provider, a.providerAccountId, a.type, a.currency, a.displayName ?? null, a.credentialId ?? null],
  );
  return rows[0]!;
}

export async function getAccount(db: Queryable, id: string): Promise<AccountRecord | null> {
  const { rows } = await db.query<AccountRecord>(`SELECT ${SELECT_LIST} FROM accounts WHERE id = $1`, [id]);
  return rows[0] ?? null;
}
