import type { ProviderId } from '@intellifin/domain';
import type { PoolClient, ScheduleRow } from '@intellifin/persistence';

/** Settings reads and writes (org-scoped transaction: RLS shows provider defaults and this org's rows). */

export interface IntervalBounds {
  min: number;
  max: number;
}

/** Bounds of an organisation without an `org_sync_settings` row: users may slow syncs down, not speed them up. */
export const DEFAULT_INTERVAL_BOUNDS: IntervalBounds = { min: 60, max: 720 };

export async function readIntervalBounds(db: PoolClient, orgId: string): Promise<IntervalBounds> {
  const { rows } = await db.query<IntervalBounds>({
    name: 'sync-api.settings.bounds',
    text: `SELECT account_interval_min_min AS min, account_interval_max_min AS max FROM org_sync_settings WHERE org_id = $1`,
    values: [orgId],
  });
  return rows[0] ?? DEFAULT_INTERVAL_BOUNDS;
}

export async function writeIntervalBounds(db: PoolClient, orgId: string, b: IntervalBounds): Promise<void> {
  await db.query({
    name: 'sync-api.settings.bounds.write',
    text: `INSERT INTO org_sync_settings (org_id, account_interval_min_min, account_interval_max_min) VALUES ($1, $2, $3)
           ON CONFLICT (org_id) DO UPDATE SET account_interval_min_min = EXCLUDED.account_interval_min_min,
             account_interval_max_min = EXCLUDED.account_interval_max_min, updated_at = now()`,
    values: [orgId, b.min, b.max],
  });
}

/**
 * Provider defaults and this organisation's organisation-wide rows (RLS hides other organisations'),
 * plus the one account's rows when `accountId` is given; optionally of one provider and plan.
 */
export async function readScheduleRows(
  db: PoolClient,
  o: { accountId?: string; provider?: ProviderId; plan?: string } = {},
): Promise<ScheduleRow[]> {
  const { rows } = await db.query<ScheduleRow>({
    name: 'sync-api.settings.schedules',
    text: `SELECT id, provider, plan, org_id AS "orgId", account_id AS "accountId", cron, timezone, enabled, settings,
                  updated_at AS "updatedAt"
             FROM sync_schedules
            WHERE (account_id IS NULL OR account_id = $1::uuid)
              AND ($2::text IS NULL OR provider = $2) AND ($3::text IS NULL OR plan = $3)
            ORDER BY provider, plan, org_id NULLS FIRST, account_id NULLS FIRST`,
    values: [o.accountId ?? null, o.provider ?? null, o.plan ?? null],
  });
  return rows;
}

/** Replaces the organisation-wide rows (not the account rows) of the caller's organisation. */
export async function deleteOrgRows(db: PoolClient, orgId: string): Promise<void> {
  await db.query({
    name: 'sync-api.settings.org-rows.delete',
    text: `DELETE FROM sync_schedules WHERE org_id = $1 AND account_id IS NULL`,
    values: [orgId],
  });
}

export interface AccountOwner {
  id: string;
  orgId: string;
  provider: ProviderId;
  /** users.id of the account's user (null: an organisation account with no user). */
  userId: string | null;
}

/** The account (visible to this caller), locked against concurrent settings writes. */
export async function lockAccountForSettings(db: PoolClient, owner: string | null, accountId: string): Promise<AccountOwner | null> {
  const { rows } = await db.query<AccountOwner>({
    name: 'sync-api.settings.account',
    text: `SELECT a.id, a.org_id AS "orgId", a.provider, a.user_id AS "userId" FROM accounts a
            WHERE a.id = $2 AND ($1::text IS NULL OR a.user_id IN (SELECT u.id FROM users u WHERE u.external_id = $1))
            FOR NO KEY UPDATE OF a`,
    values: [owner, accountId],
  });
  return rows[0] ?? null;
}

export async function readReauthPush(db: PoolClient, userId: string, provider: ProviderId): Promise<boolean> {
  const { rows } = await db.query<{ reauthPush: boolean }>({
    name: 'sync-api.settings.reauth-push',
    text: `SELECT reauth_push AS "reauthPush" FROM notification_preferences WHERE user_id = $1 AND provider = $2`,
    values: [userId, provider],
  });
  return rows[0]?.reauthPush ?? true; // absent = opted in (migration 0015; the notifier reads it so)
}

export async function writeReauthPush(db: PoolClient, a: AccountOwner & { userId: string }, reauthPush: boolean): Promise<void> {
  await db.query({
    name: 'sync-api.settings.reauth-push.write',
    text: `INSERT INTO notification_preferences (org_id, user_id, provider, reauth_push) VALUES ($1, $2, $3, $4)
           ON CONFLICT (user_id, provider) DO UPDATE SET reauth_push = EXCLUDED.reauth_push, updated_at = now()`,
    values: [a.orgId, a.userId, a.provider, reauthPush],
  });
}
