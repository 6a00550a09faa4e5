/**
 * Re-auth episodes in Postgres, the dedup that makes redelivery, restarts and several replicas
 * safe: at most one open episode per account (partial unique index), one notification row per
 * (account, kind, episode). An episode opens with its first push and its reminders queued; a
 * repair closes it, cancels what has not gone out and asks OneSignal to cancel what is scheduled.
 */
import { withTransaction, type Pool } from '@intellifin/persistence';

export interface OpenEpisodeInput {
  accountId: string;
  runId: string;
  at: Date;
  reason?: string | undefined;
  now: Date;
  reminderDelaysMs: readonly number[];
  traceparent?: string | undefined;
  /** Derives each push's idempotency key, deep link and web URL. */
  push: (a: { provider: string; accountId: string; episode: string; kind: string }) => {
    idempotencyKey: string;
    deepLink: string;
    webUrl: string;
  };
}

export type OpenEpisodeResult =
  | { opened: true; episodeId: string; provider: string; status: 'pending' | 'suppressed' | 'undeliverable' }
  | { opened: false; reason: 'no_account' | 'not_auth_required' | 'already_open' };

export function openEpisode(pool: Pool, i: OpenEpisodeInput): Promise<OpenEpisodeResult> {
  return withTransaction(pool, async (c) => {
    const { rows } = await c.query<{
      org_id: string;
      user_id: string | null;
      provider: string;
      status: string;
      reauth_push: boolean | null;
    }>(
      `SELECT a.org_id, a.user_id, a.provider, a.status, p.reauth_push
         FROM accounts a
         LEFT JOIN notification_preferences p ON p.user_id = a.user_id AND p.provider = a.provider
        WHERE a.id = $1`,
      [i.accountId],
    );
    const a = rows[0];
    if (!a) return { opened: false, reason: 'no_account' };
    // Postgres is the truth: an account no longer waiting for re-auth was repaired meanwhile (an old
    // or out-of-order event), so it opens nothing.
    if (a.status !== 'auth_required') return { opened: false, reason: 'not_auth_required' };
    const ep = await c.query<{ id: string }>(
      `INSERT INTO notification_episodes (org_id, account_id, provider, opened_run_id, opened_at, reason)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id`,
      [a.org_id, i.accountId, a.provider, i.runId, i.at, i.reason ?? null],
    );
    const episodeId = ep.rows[0]?.id;
    if (!episodeId) return { opened: false, reason: 'already_open' };

    const status = a.user_id === null ? 'undeliverable' : a.reauth_push === false ? 'suppressed' : 'pending';
    const kinds: { kind: string; due: Date }[] = [{ kind: 'reauth', due: i.now }];
    if (status === 'pending')
      i.reminderDelaysMs.forEach((d, n) => kinds.push({ kind: `reminder_${n + 1}`, due: new Date(i.at.getTime() + d) }));
    for (const k of kinds) {
      const p = i.push({ provider: a.provider, accountId: i.accountId, episode: episodeId, kind: k.kind });
      await c.query(
        `INSERT INTO notifications (org_id, account_id, user_id, kind, episode, status, provider, idempotency_key, deep_link, web_url,
                                    due_at, next_attempt_at, traceparent, last_error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13)
         ON CONFLICT (account_id, kind, episode) DO NOTHING`,
        [
          a.org_id,
          i.accountId,
          a.user_id,
          k.kind,
          episodeId,
          status,
          a.provider,
          p.idempotencyKey,
          p.deepLink,
          p.webUrl,
          k.due,
          i.traceparent ?? null,
          status === 'undeliverable'
            ? 'the account has no user to notify'
            : status === 'suppressed'
              ? 'the user opted out of re-auth pushes'
              : null,
        ],
      );
    }
    return { opened: true, episodeId, provider: a.provider, status };
  });
}

export interface CloseEpisodeResult {
  closed: number;
  /** Pushes that had not gone out: never will. */
  canceled: number;
  /** The kinds of those pushes, one entry per push (for the metrics). */
  canceledKinds: string[];
  /** Pushes scheduled at OneSignal (quiet hours): the dispatcher cancels them there. */
  cancelling: number;
}

/** A repair ends the account's open episode (if it opened before the repair). Idempotent. */
export function closeEpisode(pool: Pool, i: { accountId: string; runId: string; at: Date; now: Date }): Promise<CloseEpisodeResult> {
  return withTransaction(pool, async (c) => {
    const ep = await c.query<{ id: string }>(
      `UPDATE notification_episodes SET closed_at = $2, closed_run_id = $3
        WHERE account_id = $1 AND closed_at IS NULL AND opened_at <= $2 RETURNING id::text`,
      [i.accountId, i.at, i.runId],
    );
    const ids = ep.rows.map((r) => r.id);
    if (ids.length === 0) return { closed: 0, canceled: 0, canceledKinds: [], cancelling: 0 };
    const canceled = await c.query<{ kind: string }>(
      `UPDATE notifications SET status = 'canceled', canceled_at = $2, last_error = 'the account was repaired first', updated_at = now()
        WHERE episode = ANY($1::text[]) AND status = 'pending' RETURNING kind`,
      [ids, i.now],
    );
    const cancelling = await c.query(
      `UPDATE notifications SET status = 'cancelling', cancel_requested_at = $2, next_attempt_at = $2, updated_at = now()
        WHERE episode = ANY($1::text[]) AND status = 'scheduled' AND (scheduled_for IS NULL OR scheduled_for > $2)`,
      [ids, i.now],
    );
    const canceledKinds = canceled.rows.map((r) => r.kind);
    return { closed: ids.length, canceled: canceledKinds.length, canceledKinds, cancelling: cancelling.rowCount ?? 0 };
  });
}
