import type { ProviderId, SyncMode } from '@intellifin/domain';
import type { PoolClient } from '@intellifin/persistence';
import { pendingRequestSql, type LockedAccount } from './sync-commands';

/**
 * The reads of the org-wide sync (`POST /v1/sync`), inside the caller's org-scoped transaction:
 * one batch of the organisation's schedulable accounts (status active or error: `auth_required`
 * waits for its user, `disabled` is unlinked), keyset-paginated by id and locked like a single
 * trigger locks its account, each with whether a queued request already covers the sync asked for
 * (then it is coalesced, as "Sync now" coalesces).
 */
export interface OrgSyncCandidate extends LockedAccount {
  covered: boolean;
}

export async function orgSyncBatch(
  db: PoolClient,
  o: { provider: ProviderId | null; afterId: string | null; limit: number; mode: SyncMode; queuedTtlMs: number },
): Promise<OrgSyncCandidate[]> {
  const { rows } = await db.query<OrgSyncCandidate>({
    name: 'sync-api.org-sync.batch',
    text: `SELECT a.id, a.org_id AS "orgId", a.provider, a.status,
                  EXISTS (
                    SELECT 1 FROM sync_requests s
                     WHERE ${pendingRequestSql('a.id', '$4')}
                       AND sync_scope_covers(s.mode, s.realtime, $5, false)
                  ) AS covered
             FROM accounts a
            WHERE a.status IN ('active', 'error') AND ($1::text IS NULL OR a.provider = $1)
              AND ($2::uuid IS NULL OR a.id > $2::uuid)
            ORDER BY a.id
            LIMIT $3
              FOR NO KEY UPDATE OF a`,
    values: [o.provider, o.afterId, o.limit, o.queuedTtlMs, o.mode],
  });
  return rows;
}

/**
 * Puts a dead letter's original command back in the outbox, to its original subject, with a fresh
 * event id (= `Nats-Msg-Id`; the original's would be dropped as a duplicate within the window).
 * False when that event id is already queued (a repeated replay).
 */
export async function queueReplay(db: PoolClient, r: { eventId: string; subject: string; payload: unknown }): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'sync-api.dead-letter.replay',
    text: `INSERT INTO outbox (event_id, subject, payload, headers) VALUES ($1, $2, $3, '{"Content-Type":"application/json"}'::jsonb)
           ON CONFLICT (event_id) DO NOTHING`,
    values: [r.eventId, r.subject, JSON.stringify(r.payload)],
  });
  return rowCount === 1;
}
