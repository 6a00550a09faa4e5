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
