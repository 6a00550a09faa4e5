import type { SyncScope } from '@intellifin/domain';
import type { Queryable } from './db';

/**
 * A sync command that arrived while another run held the account is recorded on the account (the
 * widest scope, the latest issue instant, the trigger that decides its lane) and is then honoured
 * by the run that finishes: satisfied if that run succeeded, covered the scope and started after
 * the request; otherwise turned into a command by the finish statement (`finishRunFenced`).
 *
 * Two statements, on purpose: the first records the request; the second (a fresh snapshot, after
 * the first committed) tells whether a run is still `running` to honour it. A run's finish locks
 * the account row first, so either it sees the request, or the request is recorded after the run
 * ended and the caller must keep its command (nak) rather than ack it.
 */
export async function recordRerun(
  db: Queryable,
  r: { accountId: string; scope: SyncScope; trigger: string; issuedAt: Date; priorityTriggers: readonly string[] },
): Promise<{ recorded: boolean; runInFlight: boolean }> {
  const upd = await db.query({
    name: 'sync-engine.record-rerun',
    text: `UPDATE accounts
              SET rerun_requested_at = greatest(rerun_requested_at, $2),
                  rerun_mode = sync_mode_merge(rerun_mode, $3),
                  rerun_realtime = rerun_realtime OR $4,
                  rerun_trigger = CASE WHEN rerun_trigger = ANY($6::text[]) THEN rerun_trigger ELSE $5 END,
                  updated_at = now()
            WHERE id = $1`,
    values: [r.accountId, r.issuedAt, r.scope.mode, r.scope.realtime, r.trigger, r.priorityTriggers],
  });
  if (upd.rowCount !== 1) return { recorded: false, runInFlight: false };
  const { rows } = await db.query<{ running: boolean }>({
    name: 'sync-engine.run-in-flight',
    text: `SELECT EXISTS (SELECT 1 FROM sync_runs WHERE account_id = $1 AND outcome = 'running') AS running`,
    values: [r.accountId],
  });
  return { recorded: true, runInFlight: rows[0]?.running === true };
}
