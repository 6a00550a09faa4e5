import type { ProviderId, SyncMode, SyncTrigger } from '@intellifin/domain';
import type { Queryable } from './db';

/**
 * Pending scheduled syncs (`sync_due`, migration 0005). The scheduler marks whole plan groups
 * with its own set-based SQL and dispatches what is due; this is the single-account entry point
 * for everything else that wants an account synced by the scheduler soon (e.g. the initial sync
 * of a newly linked account). An already pending sync keeps its slot and its earlier time.
 */
export interface DueSync {
  accountId: string;
  orgId: string;
  provider: ProviderId;
  dueAt: Date;
  plannedSlot: Date;
  mode: SyncMode;
  trigger: Extract<SyncTrigger, 'scheduled' | 'nightly' | 'balance' | 'stale'>;
}

/**
 * Gives the account a pending sync; returns false (and writes nothing) when the account is gone or
 * not `active` / `error`: `auth_required` and `disabled` accounts have no pending syncs (the status
 * trigger of migration 0012 deletes them when the status is set).
 */
export async function enqueueDueSync(db: Queryable, d: DueSync): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO sync_due AS d (account_id, provider, org_id, due_at, planned_slot, mode, trigger)
     SELECT $1::uuid, $2::text, $3::uuid, $4::timestamptz, $5::timestamptz, $6::text, $7::text
      WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.id = $1 AND a.status IN ('active', 'error'))
     ON CONFLICT (account_id) DO UPDATE SET due_at = LEAST(d.due_at, EXCLUDED.due_at)`,
    [d.accountId, d.provider, d.orgId, d.dueAt, d.plannedSlot, d.mode, d.trigger],
  );
  return (rowCount ?? 0) > 0;
}

/** When the account's pending scheduled sync is due, or null when none is pending. */
export async function nextDueAt(db: Queryable, accountId: string): Promise<Date | null> {
  const { rows } = await db.query<{ due_at: Date }>('SELECT due_at FROM sync_due WHERE account_id = $1', [accountId]);
  return rows[0]?.due_at ?? null;
}
