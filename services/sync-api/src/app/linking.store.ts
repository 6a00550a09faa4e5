import type { AccountStatus, ProviderId } from '@intellifin/domain';
import type { PoolClient } from '@intellifin/persistence';
import { authEventId } from '@intellifin/sync-engine';

/**
 * The writes of linking, repair and unlink, inside the caller's org-scoped transaction (row-level
 * security: another organisation's rows are invisible, and inserting one is refused).
 */

/** The caller's `users` row (created on their first link), by the JWT subject. */
export async function ensureUser(db: PoolClient, orgId: string, externalId: string): Promise<string> {
  await db.query({
    name: 'sync-api.link.user-insert',
    text: `INSERT INTO users (org_id, external_id) VALUES ($1, $2) ON CONFLICT (org_id, external_id) DO NOTHING`,
    values: [orgId, externalId],
  });
  const { rows } = await db.query<{ id: string }>({
    name: 'sync-api.link.user-id',
    text: `SELECT id FROM users WHERE org_id = $1 AND external_id = $2`,
    values: [orgId, externalId],
  });
  return rows[0]!.id;
}

export interface LinkTarget {
  id: string;
  orgId: string;
  userId: string | null;
  /** `users.external_id` of the account's user. */
  ownerExternalId: string | null;
  provider: ProviderId;
  providerAccountId: string;
  currency: string;
  status: AccountStatus;
  credentialId: string | null;
  reauthUrl: string | null;
  reauthUrlExpiresAt: Date | null;
  dbNow: Date;
}

const TARGET_COLUMNS = `a.id, a.org_id AS "orgId", a.user_id AS "userId", u.external_id AS "ownerExternalId", a.provider,
  a.provider_account_id AS "providerAccountId", a.currency, a.status, a.credential_id AS "credentialId", a.reauth_url AS "reauthUrl",
  a.reauth_url_expires_at AS "reauthUrlExpiresAt", now() AS "dbNow"`;

/** The organisation's account for this provider account, locked (null: none in this organisation). */
export async function lockByProviderAccount(db: PoolClient, provider: ProviderId, providerAccountId: string): Promise<LinkTarget | null> {
  const { rows } = await db.query<LinkTarget>({
    name: 'sync-api.link.by-provider-account',
    text: `SELECT ${TARGET_COLUMNS} FROM accounts a LEFT JOIN users u ON u.id = a.user_id
            WHERE a.provider = $1 AND a.provider_account_id = $2 FOR NO KEY UPDATE OF a`,
    values: [provider, providerAccountId],
  });
  return rows[0] ?? null;
}

/** An account the caller may change (owner filter: null = any of the organisation's), locked. */
export async function lockOwnedAccount(db: PoolClient, owner: string | null, accountId: string): Promise<LinkTarget | null> {
  const { rows } = await db.query<LinkTarget>({
    name: 'sync-api.link.owned',
    text: `SELECT ${TARGET_COLUMNS} FROM accounts a LEFT JOIN users u ON u.id = a.user_id
            WHERE a.id = $2 AND ($1::text IS NULL OR u.external_id = $1) FOR NO KEY UPDATE OF a`,
    values: [owner, accountId],
  });
  return rows[0] ?? null;
}

export interface NewLinkedAccount {
  orgId: string;
  userId: string;
  provider: ProviderId;
  providerAccountId: string;
  currency: string;
  displayName: string | null;
  credentialId: string | null;
}

/** Postgres' unique violation: another organisation holds this provider account (RLS hides its row). */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown }).code === '23505';
}

export async function insertLinkedAccount(db: PoolClient, a: NewLinkedAccount): Promise<string> {
  const { rows } = await db.query<{ id: string }>({
    name: 'sync-api.link.account-insert',
    text: `INSERT INTO accounts (org_id, user_id, provider, provider_account_id, type, currency, display_name, credential_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    values: [
      a.orgId,
      a.userId,
      a.provider,
      a.providerAccountId,
      a.provider === 'mono' ? 'bank' : 'mobile_money',
      a.currency,
      a.displayName,
      a.credentialId,
    ],
  });
  return rows[0]!.id;
}

/**
 * The account works again (a re-link of an unlinked account, or verified new credentials): active,
 * its credential set, any stored re-link URL dropped (the user no longer needs it), failures reset.
 * The fence moves on, so a run still in flight with the old credentials can write nothing (its
 * finish would otherwise mark the account `auth_required` again); its command is handed back.
 */
export async function reactivateAccount(db: PoolClient, accountId: string, credentialId: string | null): Promise<void> {
  await db.query({
    name: 'sync-api.link.reactivate',
    text: `UPDATE accounts SET status = 'active', credential_id = $2, reauth_url = NULL, reauth_url_expires_at = NULL,
                  consecutive_failures = 0, fence = fence + 1, updated_at = now()
            WHERE id = $1`,
    values: [accountId, credentialId],
  });
}

export async function storeReauthLink(db: PoolClient, accountId: string, url: string, expiresAt: Date | null): Promise<void> {
  await db.query({
    name: 'sync-api.link.store-reauth',
    text: `UPDATE accounts SET reauth_url = $2, reauth_url_expires_at = $3, updated_at = now() WHERE id = $1`,
    values: [accountId, url, expiresAt],
  });
}

export interface UnlinkOutcome {
  credentialErased: boolean;
  transactionsErased: number;
}

/**
 * Unlinks: status `disabled` (the scheduler plans it no more and the engine drops any command still
 * queued for it; the fence moves on, so a run in flight writes nothing more, not even its status), its credential erased (the row too, unless another account still uses it) and,
 * with `erase`, its transactions and balance erased at once. Run history stays (no personal data).
 */
export async function unlinkAccount(db: PoolClient, target: LinkTarget, erase: boolean): Promise<UnlinkOutcome> {
  const accountId = target.id;
  await db.query({
    name: 'sync-api.unlink.account',
    text: `UPDATE accounts SET status = 'disabled', credential_id = NULL, reauth_url = NULL, reauth_url_expires_at = NULL,
                  balance_minor = CASE WHEN $2 THEN NULL ELSE balance_minor END,
                  balance_as_of = CASE WHEN $2 THEN NULL ELSE balance_as_of END, fence = fence + 1, updated_at = now()
            WHERE id = $1`,
    values: [accountId, erase],
  });
  const credentialId = target.credentialId;
  let credentialErased = false;
  if (credentialId) {
    const del = await db.query({
      name: 'sync-api.unlink.credential',
      text: `DELETE FROM provider_credentials c WHERE c.id = $1 AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.credential_id = c.id)`,
      values: [credentialId],
    });
    credentialErased = (del.rowCount ?? 0) > 0;
  }
  let transactionsErased = 0;
  if (erase) {
    const del = await db.query({
      name: 'sync-api.unlink.transactions',
      text: `DELETE FROM transactions WHERE account_id = $1`,
      values: [accountId],
    });
    transactionsErased = del.rowCount ?? 0;
  }
  return { credentialErased, transactionsErased };
}

/**
 * The account was repaired outside a run (new credentials verified by the API): a `repaired` auth
 * event through the outbox, so the notifier ends the re-auth episode by its one rule (closeEpisode:
 * the open episode that began before this instant), exactly as after a worker's repairing run.
 */
export async function queueRepairedEvent(
  db: PoolClient,
  e: { subject: string; commandId: string; accountId: string; orgId: string; provider: ProviderId },
): Promise<void> {
  const runId = `repair:${e.commandId}`;
  await db.query({
    name: 'sync-api.repair.auth-event',
    text: `INSERT INTO outbox (event_id, subject, payload)
           SELECT $1, $2, jsonb_build_object('kind', 'repaired', 'runId', $3::text, 'accountId', $4::text, 'orgId', $5::text,
                                             'provider', $6::text, 'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))`,
    values: [authEventId(runId), e.subject, runId, e.accountId, e.orgId, e.provider],
  });
}
