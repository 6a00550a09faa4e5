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

export async function enqueueDueSync(db: Queryable, d: DueSync): Promise<void> {
  await db.query(
    `INSERT INTO sync_due AS d (account_id, provider, org_id, due_at, planned_slot, mode, trigger)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (account_id) DO UPDATE SET due_at = LEAST(d.due_at, EXCLUDED.due_at)`,
    [d.accountId, d.provider, d.orgId, d.dueAt, d.plannedSlot, d.mode, d.trigger],
  );
}

/** When the account's pending scheduled sync is due, or null when none is pending. */
export async function nextDueAt(db: Queryable, accountId: string): Promise<Date | null> {
  const { rows } = await db.query<{ due_at: Date }>('SELECT due_at FROM sync_due WHERE account_id = $1', [accountId]);
  return rows[0]?.due_at ?? null;
}
