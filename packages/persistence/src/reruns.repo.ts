import type { SyncScope } from '@intellifin/domain';
import type { Queryable } from './db';

/**
 * A sync command that arrived while another run held the account is recorded on the account (the
 * widest scope, the latest issue instant, the trigger that decides its lane). The run that finishes
 * honours it in its finish statement (`finishRunFenced`): satisfied if that run succeeded, covered
 * the scope and started after the request; otherwise turned into a command through the outbox. The
 * finish locks the account row first, so a request is either seen by it or recorded after it; the
 * engine hands the command itself back in either case, so a request recorded after the last run
 * ended is still served when the command returns. A request the last successful run already
 * satisfies is not recorded at all (`recorded: false`): the holder's finish can commit between the
 * lease check and this statement, and the returning command is then skipped as satisfied, which
 * would leave the request behind (docs/reliability.md, finding 4).
 */
export async function recordRerun(
  db: Queryable,
  r: { accountId: string; scope: SyncScope; trigger: string; issuedAt: Date; priorityTriggers: readonly string[] },
): Promise<{ recorded: boolean }> {
  const upd = await db.query({
    name: 'sync-engine.record-rerun',
    text: `UPDATE accounts
              SET rerun_requested_at = greatest(rerun_requested_at, $2),
                  rerun_mode = sync_mode_merge(rerun_mode, $3),
                  rerun_realtime = rerun_realtime OR $4,
                  rerun_trigger = CASE WHEN rerun_trigger = ANY($6::text[]) THEN rerun_trigger ELSE $5 END,
                  updated_at = now()
            WHERE id = $1
              AND NOT (last_success_started_at IS NOT NULL AND last_success_started_at > $2
                       AND sync_scope_covers(last_success_mode, coalesce(last_success_realtime, false), $3, $4))`,
    values: [r.accountId, r.issuedAt, r.scope.mode, r.scope.realtime, r.trigger, r.priorityTriggers],
  });
  return { recorded: upd.rowCount === 1 };
}
