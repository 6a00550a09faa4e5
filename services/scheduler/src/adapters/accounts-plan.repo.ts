import type { ProviderId, SyncMode, SyncTrigger } from '@intellifin/domain';
import type { Queryable } from '@intellifin/persistence';
import { jitterOffsetSql } from '../domain/jitter';
import type { PlanGroup } from '../domain/overrides';

/**
 * The scheduler's reads and writes of `accounts`:
 * - `markGroup` (a slot of a plan fired): set-based UPDATE giving every member of the group a
 *   pending sync — `next_sync_at` = base + the account's jitter offset (later for `error`
 *   accounts, by their backoff), merged with any sync already pending (earliest time wins, modes
 *   merge, the first planned slot is kept so the Nats-Msg-Id stays stable);
 * - `listDue`: keyset pages over the partial index `accounts_due` of what is due now;
 * - `clearDispatched`: set-based UPDATE clearing the pending sync of what was published, only
 *   where it is still the one that was read.
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
    `WITH cand AS (
       SELECT id,
              GREATEST(
                $6::timestamptz + (${jitterOffsetSql('id', '$7')}) * interval '1 millisecond',
                CASE WHEN status = 'error' AND consecutive_failures > 0 THEN
                  COALESCE(last_attempt_at, $6::timestamptz)
                    + ($12::bigint[])[LEAST(consecutive_failures, cardinality($12::bigint[]))] * interval '1 millisecond'
                END) AS due
         FROM accounts
        WHERE provider = $1 AND status IN ('active', 'error')
          AND ($3::uuid IS NULL OR id = $3::uuid)
          AND ($2::uuid IS NULL OR $3::uuid IS NOT NULL OR org_id = $2::uuid)
          AND org_id <> ALL($4::uuid[]) AND id <> ALL($5::uuid[])
          AND ($11::timestamptz IS NULL OR last_success_at < $11::timestamptz OR (last_success_at IS NULL AND created_at < $11::timestamptz))
     )
     UPDATE accounts a
        SET next_sync_at = LEAST(a.next_sync_at, cand.due),
            planned_slot = CASE WHEN a.next_sync_at IS NULL THEN $8::timestamptz ELSE COALESCE(a.planned_slot, $8::timestamptz) END,
            planned_mode = CASE WHEN a.planned_mode IS NULL OR a.planned_mode = $9 THEN $9 ELSE 'full' END,
            planned_trigger = CASE WHEN a.planned_trigger IS NULL THEN $10
                                   WHEN $9 = 'full' AND a.planned_mode <> 'full' THEN $10
                                   ELSE a.planned_trigger END
       FROM cand
      WHERE a.id = cand.id`,
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
  /** `next_sync_at` exactly as stored (text keeps the microseconds a JS Date would drop). */
  dueText: string;
  dueAt: Date;
  plannedSlot: Date | null;
  mode: SyncMode | null;
  trigger: SyncTrigger | null;
}

export interface DueCursor {
  dueText: string;
  id: string;
}

export async function listDue(
  db: Queryable,
  opts: { now: Date; limit: number; after?: DueCursor | undefined; skipProviders?: readonly string[] },
): Promise<DueRow[]> {
  const { rows } = await db.query<DueRow>(
    `SELECT id, org_id AS "orgId", provider, next_sync_at::text AS "dueText", next_sync_at AS "dueAt",
            planned_slot AS "plannedSlot", planned_mode AS "mode", planned_trigger AS "trigger"
       FROM accounts
      WHERE status IN ('active', 'error') AND next_sync_at <= $1
        AND ($2::timestamptz IS NULL OR (next_sync_at, id) > ($2::timestamptz, $3::uuid))
        AND provider <> ALL($4::text[])
      ORDER BY next_sync_at, id
      LIMIT $5`,
    [opts.now, opts.after?.dueText ?? null, opts.after?.id ?? null, opts.skipProviders ?? [], opts.limit],
  );
  return rows;
}

/** Clears the pending sync of published accounts whose `next_sync_at` is still what was read. */
export async function clearDispatched(db: Queryable, rows: readonly Pick<DueRow, 'id' | 'dueText'>[]): Promise<number> {
  if (rows.length === 0) return 0;
  const { rowCount } = await db.query(
    `UPDATE accounts a
        SET next_sync_at = NULL, planned_slot = NULL, planned_mode = NULL, planned_trigger = NULL
       FROM unnest($1::uuid[], $2::timestamptz[]) AS d(id, due)
      WHERE a.id = d.id AND a.next_sync_at = d.due`,
    [rows.map((r) => r.id), rows.map((r) => r.dueText)],
  );
  return rowCount ?? 0;
}
