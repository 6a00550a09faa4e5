import type { Queryable } from '@intellifin/persistence';

/**
 * Retention deletes, in batches so that no statement holds many row locks or a long transaction:
 * finished `sync_runs` started before the cutoff, and `webhook_events` processed before theirs
 * (unprocessed events are never pruned).
 */
export async function pruneSyncRuns(db: Queryable, before: Date, batch = 5_000): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await db.query(
      `DELETE FROM sync_runs WHERE id IN (
         SELECT id FROM sync_runs WHERE started_at < $1 AND outcome <> 'running' LIMIT $2)`,
      [before, batch],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return total;
  }
}

export async function pruneWebhookEvents(db: Queryable, before: Date, batch = 5_000): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await db.query(
      `DELETE FROM webhook_events WHERE id IN (
         SELECT id FROM webhook_events WHERE processed_at IS NOT NULL AND processed_at < $1 LIMIT $2)`,
      [before, batch],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return total;
  }
}
