import type { PoolClient } from '@intellifin/persistence';

/** Organisation-wide reads (org-scoped transaction: RLS limits every table to the caller's org). */

export interface ProviderSummaryRow {
  provider: string;
  accountsByStatus: Record<string, number>;
  runs: number;
  succeeded: number;
  failed: number;
  p95DurationMs: number | null;
  oldestSuccessAt: Date | null;
  neverSucceeded: number;
}

/** Per provider: accounts by status, runs finished in the last 24 h (database clock), the stalest success. */
export async function readProviderSummary(db: PoolClient): Promise<ProviderSummaryRow[]> {
  const { rows } = await db.query<ProviderSummaryRow>({
    name: 'sync-api.summary',
    text: `WITH accts AS (
             SELECT provider, jsonb_object_agg(status, n) AS by_status FROM (
               SELECT provider, status, count(*)::int AS n FROM accounts GROUP BY provider, status) s
              GROUP BY provider
           ), stale AS (
             SELECT provider, min(last_success_at) AS oldest, count(*) FILTER (WHERE last_success_at IS NULL)::int AS never
               FROM accounts WHERE status <> 'disabled' GROUP BY provider
           ), runs AS (
             SELECT provider, count(*)::int AS runs,
                    count(*) FILTER (WHERE outcome = 'succeeded')::int AS succeeded,
                    count(*) FILTER (WHERE outcome = 'failed')::int AS failed,
                    percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95
               FROM sync_runs
              WHERE finished_at >= now() - interval '24 hours' AND outcome IN ('succeeded', 'failed')
              GROUP BY provider
           )
           SELECT p.provider, coalesce(a.by_status, '{}'::jsonb) AS "accountsByStatus", coalesce(r.runs, 0) AS runs,
                  coalesce(r.succeeded, 0) AS succeeded, coalesce(r.failed, 0) AS failed, r.p95 AS "p95DurationMs",
                  s.oldest AS "oldestSuccessAt", coalesce(s.never, 0) AS "neverSucceeded"
             FROM (SELECT provider FROM accts UNION SELECT provider FROM runs) p
             LEFT JOIN accts a USING (provider) LEFT JOIN runs r USING (provider) LEFT JOIN stale s USING (provider)
            ORDER BY p.provider`,
  });
  return rows;
}

export interface EpisodeRow {
  id: string;
  accountId: string;
  provider: string;
  openedAt: Date;
  openedAtText: string;
  reason: string | null;
  closedAt: Date | null;
}

/** Re-auth episodes, newest first, keyset-paginated on (opened_at, id). */
export async function listEpisodes(db: PoolClient, limit: number, before: { openedAt: string; id: string } | null): Promise<EpisodeRow[]> {
  const { rows } = await db.query<EpisodeRow>({
    name: 'sync-api.notifications.episodes',
    text: `SELECT id, account_id AS "accountId", provider, opened_at AS "openedAt", opened_at::text AS "openedAtText", reason,
                  closed_at AS "closedAt"
             FROM notification_episodes
            WHERE ($1::timestamptz IS NULL OR (opened_at, id) < ($1::timestamptz, $2::uuid))
            ORDER BY opened_at DESC, id DESC LIMIT $3`,
    values: [before?.openedAt ?? null, before?.id ?? null, limit],
  });
  return rows;
}

export interface NotificationRow {
  id: string;
  episode: string;
  kind: string;
  status: string;
  dueAt: Date;
  scheduledFor: Date | null;
  sentAt: Date | null;
  canceledAt: Date | null;
  attempts: number;
  lastError: string | null;
}

export interface AttemptRow {
  notificationId: string;
  attempt: number;
  action: string;
  httpStatus: number | null;
  outcome: string;
  replayed: boolean;
  retryAfterMs: number | null;
  error: string | null;
  startedAt: Date;
  finishedAt: Date;
}

/** The pushes of these episodes and their latest `attemptsPerPush` delivery attempts (no ids of OneSignal, keys or links). */
export async function listPushes(
  db: PoolClient,
  episodeIds: string[],
  attemptsPerPush: number,
): Promise<{ pushes: NotificationRow[]; attempts: AttemptRow[] }> {
  if (episodeIds.length === 0) return { pushes: [], attempts: [] };
  const pushes = await db.query<NotificationRow>({
    name: 'sync-api.notifications.pushes',
    text: `SELECT id, episode, kind, status, due_at AS "dueAt", scheduled_for AS "scheduledFor", sent_at AS "sentAt",
                  canceled_at AS "canceledAt", attempts, last_error AS "lastError"
             FROM notifications WHERE episode = ANY($1::text[]) ORDER BY due_at, id`,
    values: [episodeIds],
  });
  const ids = pushes.rows.map((p) => p.id);
  if (ids.length === 0) return { pushes: [], attempts: [] };
  const attempts = await db.query<AttemptRow>({
    name: 'sync-api.notifications.attempts',
    text: `SELECT notification_id AS "notificationId", attempt, action, http_status AS "httpStatus", outcome, replayed,
                  retry_after_ms AS "retryAfterMs", error, started_at AS "startedAt", finished_at AS "finishedAt"
             FROM (SELECT a.*, row_number() OVER (PARTITION BY notification_id ORDER BY id DESC) AS k
                     FROM notification_attempts a WHERE notification_id = ANY($1::uuid[])) x
            WHERE k <= $2 ORDER BY notification_id, id`,
    values: [ids, attemptsPerPush],
  });
  return { pushes: pushes.rows, attempts: attempts.rows };
}
