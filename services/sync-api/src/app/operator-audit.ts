import type { PoolClient } from '@intellifin/persistence';
import type { Caller } from './caller';

/**
 * `operator_audit` (migration 0020), inside the caller's org-scoped transaction: every operator or
 * admin action (dead-letter replay and discard, org-wide sync) with who, what, on what, when and how
 * it ended. A dead-letter action is keyed by `dedup_key` (the DLQ stream, sequence and stored time
 * of the message): the second attempt of one action finds the first one's row instead.
 */
export const AUDIT_ACTIONS = ['dead_letter.replay', 'dead_letter.discard', 'sync.org'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditRow {
  id: string;
  action: AuditAction;
  target: string;
  result: string;
  detail: Record<string, unknown>;
  at: Date;
  completedAt: Date | null;
  dbNow: Date;
}

const COLUMNS = `id::text, action, target, result, detail, at, completed_at AS "completedAt", now() AS "dbNow"`;

/** Inserts the row; with a `dedupKey` already used, nothing is inserted and null is returned. */
export async function insertAudit(
  db: PoolClient,
  caller: Caller,
  a: { action: AuditAction; target: string; result: string; detail?: Record<string, unknown>; dedupKey?: string; completed?: boolean },
): Promise<AuditRow | null> {
  const { rows } = await db.query<AuditRow>({
    name: 'sync-api.audit.insert',
    text: `INSERT INTO operator_audit (org_id, actor, actor_roles, action, target, result, detail, dedup_key, completed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9::boolean THEN now() END)
           ON CONFLICT (dedup_key) DO NOTHING
           RETURNING ${COLUMNS}`,
    values: [
      caller.orgId,
      caller.userId,
      caller.roles,
      a.action,
      a.target,
      a.result,
      JSON.stringify(a.detail ?? {}),
      a.dedupKey ?? null,
      a.completed === true,
    ],
  });
  return rows[0] ?? null;
}

/** The row of an earlier action on the same dead letter (visible only within the caller's organisation). */
export async function findAuditByDedupKey(db: PoolClient, dedupKey: string): Promise<AuditRow | null> {
  const { rows } = await db.query<AuditRow>({
    name: 'sync-api.audit.by-key',
    text: `SELECT ${COLUMNS} FROM operator_audit WHERE dedup_key = $1`,
    values: [dedupKey],
  });
  return rows[0] ?? null;
}

/** The latest dead-letter action on a DLQ sequence in the caller's organisation (after the message is gone). */
export async function findDeadLetterAudit(db: PoolClient, target: string): Promise<AuditRow | null> {
  const { rows } = await db.query<AuditRow>({
    name: 'sync-api.audit.dead-letter',
    text: `SELECT ${COLUMNS} FROM operator_audit WHERE target = $1 AND action IN ('dead_letter.replay', 'dead_letter.discard')
            ORDER BY at DESC LIMIT 1`,
    values: [target],
  });
  return rows[0] ?? null;
}

/** The organisation's latest org-wide sync of a scope (under the advisory lock the caller took). */
export async function latestOrgSync(db: PoolClient, target: string): Promise<AuditRow | null> {
  const { rows } = await db.query<AuditRow>({
    name: 'sync-api.audit.org-sync-latest',
    text: `SELECT ${COLUMNS} FROM operator_audit WHERE action = 'sync.org' AND target = $1 ORDER BY at DESC LIMIT 1`,
    values: [target],
  });
  return rows[0] ?? null;
}

/** Records how the action ended (result and detail; `completed` stamps completed_at). */
export async function completeAudit(
  db: PoolClient,
  id: string,
  result: string,
  detail: Record<string, unknown>,
  completed: boolean,
): Promise<void> {
  await db.query({
    name: 'sync-api.audit.complete',
    text: `UPDATE operator_audit SET result = $2, detail = detail || $3::jsonb, completed_at = CASE WHEN $4::boolean THEN now() ELSE completed_at END
            WHERE id = $1::bigint`,
    values: [id, result, JSON.stringify(detail), completed],
  });
}

/** Takes the transaction-scoped lock of a key within the caller's organisation (serialises the org-wide sync guard). */
export async function lockOrgKey(db: PoolClient, orgId: string, key: string): Promise<void> {
  await db.query({
    name: 'sync-api.audit.lock',
    text: `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
    values: [`${orgId}:${key}`],
  });
}
