import type { ProviderId, SyncMode, SyncTrigger } from '@intellifin/domain';
import type { Queryable } from '@intellifin/persistence';
import { jitterOffsetSql } from '../domain/jitter';
import type { PlanGroup } from '../domain/overrides';

/**
 * The scheduler's pending syncs, in the narrow queue table `sync_due` (migration 0005):
 * - `markGroup` (a slot of a plan fired): one set-based INSERT … ON CONFLICT giving every member
 *   of the group a pending sync — `due_at` = base + the account's jitter offset (later for
 *   `error` accounts, by their backoff), merged with any sync already pending (earliest time
 *   wins, modes merge, the first planned slot is kept so the Nats-Msg-Id stays stable);
 * - `listDue`: keyset pages over `sync_due_due` of what is due now, joined to `accounts` so that
 *   only accounts still `active` or `error` are returned;
 * - `clearDispatched`: one DELETE of the pending syncs that were published, only where each is
 *   still the one that was read (a re-mark meanwhile keeps its row).
 * `auth_required` and `disabled` accounts are never marked and never listed.
 */
export interface MarkInput {
  group: Pick<PlanGroup, 'provider' | 'scope' | 'excludeOrgIds' | 'excludeAccountIds'>;
  slot: Date;
  /** Start of the spread window: the slot, or now when the slot is executed late (catch-up). */
  base: Date;
  spreadMs: number;
  mode: SyncMode;
  trigger: SyncTrigger;
  /** `stale` plan: only accounts without a successful sync since this instant. */
  staleBefore?: Date;
  /** Backoff of `error` accounts: element k-1 = delay after k consecutive failures (last repeats). */
  errorBackoffMs: readonly number[];
}

export async function markGroup(db: Queryable, m: MarkInput): Promise<number> {
  const { rowCount } = await db.query(
    `INSERT INTO sync_due AS d (account_id, provider, org_id, due_at, planned_slot, mode, trigger)
     SELECT id, provider, org_id,
            GREATEST(
              $6::timestamptz + (${jitterOffsetSql('id', '$7')}) * interval '1 millisecond',
              CASE WHEN status = 'error' AND consecutive_failures > 0 THEN
                COALESCE(last_attempt_at, $6::timestamptz)
                  + ($12::bigint[])[LEAST(consecutive_failures, cardinality($12::bigint[]))] * interval '1 millisecond'
              END),
            $8::timestamptz, $9, $10
       FROM accounts
      WHERE provider = $1 AND status IN ('active', 'error')
        AND ($3::uuid IS NULL OR id = $3::uuid)
        AND ($2::uuid IS NULL OR $3::uuid IS NOT NULL OR org_id = $2::uuid)
        AND org_id <> ALL($4::uuid[]) AND id <> ALL($5::uuid[])
        AND ($11::timestamptz IS NULL OR last_success_at < $11::timestamptz OR (last_success_at IS NULL AND created_at < $11::timestamptz))
     ON CONFLICT (account_id) DO UPDATE SET
       due_at = LEAST(d.due_at, EXCLUDED.due_at),
       mode = CASE WHEN d.mode = EXCLUDED.mode THEN d.mode ELSE 'full' END,
       trigger = CASE WHEN EXCLUDED.mode = 'full' AND d.mode <> 'full' THEN EXCLUDED.trigger ELSE d.trigger END`,
    [
      m.group.provider,
      m.group.scope.orgId,
      m.group.scope.accountId,
      m.group.excludeOrgIds,
      m.group.excludeAccountIds,
      m.base,
      Math.max(0, Math.floor(m.spreadMs)),
      m.slot,
      m.mode,
      m.trigger,
      m.staleBefore ?? null,
      m.errorBackoffMs.length ? m.errorBackoffMs.map((n) => Math.round(n)) : [0],
    ],
  );
  return rowCount ?? 0;
}

export interface DueRow {
  id: string;
  orgId: string;
  provider: ProviderId;
  /** `due_at` exactly as stored (text keeps the microseconds a JS Date would drop). */
  dueText: string;
  /** `due_at` in epoch milliseconds (for the planning lag). */
  dueMs: number;
  plannedSlot: Date;
  mode: SyncMode;
  trigger: SyncTrigger;
}

export interface DueCursor {
  dueText: string;
  id: string;
}

export async function listDue(
  db: Queryable,
  opts: { provider: ProviderId; now: Date; limit: number; after?: DueCursor | undefined },
): Promise<DueRow[]> {
  // Instants travel as epoch milliseconds (float8): turning 100k timestamp texts into Dates was a
  // visible share of a dispatch pass's client CPU. Served by sync_due_provider_due.
  const { rows } = await db.query<Omit<DueRow, 'plannedSlot'> & { slotMs: number }>(
    `SELECT d.account_id AS id, d.org_id AS "orgId", d.provider, d.due_at::text AS "dueText",
            (extract(epoch FROM d.due_at) * 1000)::float8 AS "dueMs", (extract(epoch FROM d.planned_slot) * 1000)::float8 AS "slotMs",
            d.mode, d.trigger
       FROM sync_due d
       JOIN accounts a ON a.id = d.account_id AND a.status IN ('active', 'error')
      WHERE d.provider = $1 AND d.due_at <= $2
        AND ($3::timestamptz IS NULL OR (d.due_at, d.account_id) > ($3::timestamptz, $4::uuid))
      ORDER BY d.due_at, d.account_id
      LIMIT $5`,
    [opts.provider, opts.now, opts.after?.dueText ?? null, opts.after?.id ?? null, opts.limit],
  );
  return rows.map(({ slotMs, ...r }) => ({ ...r, plannedSlot: new Date(slotMs) }));
}

/**
 * Refreshes the planner statistics of `sync_due`. A slot that marks many accounts changes the
 * table wholesale moments before dispatch reads it; autovacuum's analyze comes later, and until then
 * the planner misjudges the keyset pages (a hash join over all accounts, or a parallel plan, per
 * page: 4× the database CPU of the index walk measured on 100k due accounts).
 * ANALYZE needs the table's owner: the scheduler's role calls the owner's function (migration 0010).
 */
export async function analyzeDue(db: Queryable): Promise<void> {
  await db.query('SELECT analyze_sync_due()');
}

/** Deletes the pending syncs of published accounts whose `due_at` is still what was read. */
export async function clearDispatched(db: Queryable, rows: readonly Pick<DueRow, 'id' | 'dueText'>[]): Promise<number> {
  if (rows.length === 0) return 0;
  const { rowCount } = await db.query(
    `DELETE FROM sync_due d
      USING unnest($1::uuid[], $2::timestamptz[]) AS x(id, due)
      WHERE d.account_id = x.id AND d.due_at = x.due`,
    [rows.map((r) => r.id), rows.map((r) => r.dueText)],
  );
  return rowCount ?? 0;
}

/** Pending syncs of accounts that no longer exist (maintenance; sync_due has no foreign key). */
export async function deleteOrphanedDue(db: Queryable): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM sync_due d WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = d.account_id)');
  return rowCount ?? 0;
}
