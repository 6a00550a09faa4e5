import type { Queryable } from '@intellifin/persistence';
import { groupKey, type GroupScope } from '../domain/overrides';

/** `scheduler_slots`: the last executed slot of each plan group. */
export interface SlotStateRow {
  plan: string;
  provider: string;
  scope: GroupScope;
  lastSlot: Date;
}

/** All slot states by group key (see `groupKey`). */
export async function loadSlotStates(db: Queryable): Promise<Map<string, Date>> {
  const { rows } = await db.query<{ plan: string; provider: string; orgId: string | null; accountId: string | null; lastSlot: Date }>(
    `SELECT plan, provider, org_id AS "orgId", account_id AS "accountId", last_slot AS "lastSlot" FROM scheduler_slots`,
  );
  return new Map(
    rows.map((r) => [groupKey({ plan: r.plan, provider: r.provider, scope: { orgId: r.orgId, accountId: r.accountId } }), r.lastSlot]),
  );
}

/**
 * Records `slot` as executed for the group. Only moves forward, so a stale writer cannot rewind
 * it; call inside `withLeaderFence`. Returns false when the stored slot is already at or past it.
 */
export async function saveSlotState(db: Queryable, s: SlotStateRow & { executedAt: Date; epoch: bigint }): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO scheduler_slots AS s (plan, provider, org_id, account_id, last_slot, executed_at, epoch)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (plan, provider, org_id, account_id) DO UPDATE
        SET last_slot = EXCLUDED.last_slot, executed_at = EXCLUDED.executed_at, epoch = EXCLUDED.epoch
      WHERE s.last_slot < EXCLUDED.last_slot`,
    [s.plan, s.provider, s.scope.orgId, s.scope.accountId, s.lastSlot, s.executedAt, s.epoch.toString()],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * `saveSlotState` for many groups in one statement (a pass with thousands of overrides); each row
 * only moves forward. Call inside `withLeaderFence`. Returns how many rows moved.
 */
export async function saveSlotStates(
  db: Queryable,
  rows: readonly SlotStateRow[],
  s: { executedAt: Date; epoch: bigint },
): Promise<number> {
  if (rows.length === 0) return 0;
  const { rowCount } = await db.query(
    `INSERT INTO scheduler_slots AS s (plan, provider, org_id, account_id, last_slot, executed_at, epoch)
     SELECT x.plan, x.provider, x.org_id, x.account_id, x.last_slot, $6, $7
       FROM unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[], $5::timestamptz[]) AS x(plan, provider, org_id, account_id, last_slot)
     ON CONFLICT (plan, provider, org_id, account_id) DO UPDATE
        SET last_slot = EXCLUDED.last_slot, executed_at = EXCLUDED.executed_at, epoch = EXCLUDED.epoch
      WHERE s.last_slot < EXCLUDED.last_slot`,
    [
      rows.map((r) => r.plan),
      rows.map((r) => r.provider),
      rows.map((r) => r.scope.orgId),
      rows.map((r) => r.scope.accountId),
      rows.map((r) => r.lastSlot),
      s.executedAt,
      s.epoch.toString(),
    ],
  );
  return rowCount ?? 0;
}
