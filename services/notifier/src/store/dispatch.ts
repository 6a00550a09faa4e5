/**
 * The dispatcher's queue in Postgres: notifications due (pending) or to cancel (cancelling) are
 * claimed with FOR UPDATE SKIP LOCKED and a lease, so replicas share the work and a crashed
 * replica's claim lapses. Each request to OneSignal is stored as an attempt, in the same
 * transaction as the notification's new state. Pushes scheduled at OneSignal (quiet hours) are
 * claimed again once their send time has passed, to confirm them with a view.
 */
import { withTransaction, type Pool } from '@intellifin/persistence';
import { isValidTimeZone } from '../domain/quiet-hours';
import { notHeldSql } from './holds';

export type NotificationStatus =
  'pending' | 'scheduled' | 'cancelling' | 'delivered' | 'undeliverable' | 'failed' | 'suppressed' | 'canceled';

export interface ClaimedNotification {
  id: string;
  orgId: string;
  accountId: string;
  userId: string | null;
  kind: string;
  episode: string;
  /** pending: to send; cancelling: to cancel; scheduled: to confirm with OneSignal. */
  status: 'pending' | 'cancelling' | 'scheduled';
  provider: string;
  idempotencyKey: string;
  attempts: number;
  onesignalId: string | null;
  traceparent: string | null;
  deepLink: string;
  webUrl: string;
  scheduledFor: Date | null;
}

const RETURNING = `RETURNING n.id, n.org_id, n.account_id, n.user_id, n.kind, n.episode, n.status, n.provider, n.idempotency_key, n.attempts,
                n.onesignal_id, n.traceparent, n.deep_link, n.web_url, n.scheduled_for`;

/** Claims nothing while the OneSignal app `appId` is held (a 429's Retry-After, see holds.ts). */
export async function claimDue(
  pool: Pool,
  i: { me: string; now: Date; leaseMs: number; limit: number; appId: string },
): Promise<ClaimedNotification[]> {
  const { rows } = await pool.query<ClaimedRow>(
    `UPDATE notifications n SET claimed_by = $1, claimed_until = $2::timestamptz + make_interval(secs => $3::double precision / 1000)
      WHERE n.id IN (SELECT id FROM notifications
                      WHERE status IN ('pending', 'cancelling') AND next_attempt_at <= $2
                        AND (claimed_until IS NULL OR claimed_until < $2) AND ${notHeldSql(5, 2)}
                      ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
      ${RETURNING}`,
    [i.me, i.now, i.leaseMs, i.limit, i.appId],
  );
  return rows.map(toClaimed);
}

/**
 * Claims `scheduled` pushes whose send time has passed and whose check is due (`next_attempt_at`),
 * within `windowMs` after their send time; older ones are no longer checked (they stay `scheduled`
 * with the last check's reason). Nothing while the app is held, as claimDue.
 */
export async function claimScheduledToConfirm(
  pool: Pool,
  i: { me: string; now: Date; leaseMs: number; limit: number; windowMs: number; appId: string },
): Promise<ClaimedNotification[]> {
  const { rows } = await pool.query<ClaimedRow>(
    `UPDATE notifications n SET claimed_by = $1, claimed_until = $2::timestamptz + make_interval(secs => $3::double precision / 1000)
      WHERE n.id IN (SELECT id FROM notifications
                      WHERE status = 'scheduled' AND onesignal_id IS NOT NULL AND next_attempt_at <= $2
                        AND scheduled_for <= $2 AND scheduled_for > $2::timestamptz - make_interval(secs => $5::double precision / 1000)
                        AND (claimed_until IS NULL OR claimed_until < $2) AND ${notHeldSql(6, 2)}
                      ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
      ${RETURNING}`,
    [i.me, i.now, i.leaseMs, i.limit, i.windowMs, i.appId],
  );
  return rows.map(toClaimed);
}

interface ClaimedRow {
  id: string;
  org_id: string;
  account_id: string;
  user_id: string | null;
  kind: string;
  episode: string;
  status: ClaimedNotification['status'];
  provider: string;
  idempotency_key: string;
  attempts: number;
  onesignal_id: string | null;
  traceparent: string | null;
  deep_link: string;
  web_url: string;
  scheduled_for: Date | null;
}

function toClaimed(r: ClaimedRow): ClaimedNotification {
  return {
    id: r.id,
    orgId: r.org_id,
    accountId: r.account_id,
    userId: r.user_id,
    kind: r.kind,
    episode: r.episode,
    status: r.status,
    provider: r.provider,
    idempotencyKey: r.idempotency_key,
    attempts: r.attempts,
    onesignalId: r.onesignal_id,
    traceparent: r.traceparent,
    deepLink: r.deep_link,
    webUrl: r.web_url,
    scheduledFor: r.scheduled_for,
  };
}

export interface PushContext {
  displayName: string | null;
  accountStatus: string;
  reauthUrl: string | null;
  reauthUrlExpiresAt: Date | null;
  externalId: string | null;
  /** The user's IANA time zone when it is one Intl knows; null when absent or invalid. */
  timeZone: string | null;
  /** `users.time_zone` was set but is not a valid zone (the caller falls back to its default). */
  invalidTimeZone: boolean;
  optedOut: boolean;
  /** The notification's episode was closed (repaired). Only re-auth episodes close. */
  episodeClosed: boolean;
}

export async function loadPushContext(pool: Pool, n: ClaimedNotification): Promise<PushContext | undefined> {
  const { rows } = await pool.query(
    `SELECT a.display_name, a.status, a.reauth_url, a.reauth_url_expires_at, u.external_id, u.time_zone,
            coalesce(p.reauth_push = false, false) AS opted_out,
            EXISTS (SELECT 1 FROM notification_episodes e WHERE e.id::text = $2 AND e.closed_at IS NOT NULL) AS episode_closed
       FROM accounts a
       LEFT JOIN users u ON u.id = a.user_id
       LEFT JOIN notification_preferences p ON p.user_id = a.user_id AND p.provider = a.provider
      WHERE a.id = $1`,
    [n.accountId, n.episode],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    displayName: r.display_name,
    accountStatus: r.status,
    reauthUrl: r.reauth_url,
    reauthUrlExpiresAt: r.reauth_url_expires_at,
    externalId: r.external_id,
    // users.time_zone is free text written elsewhere: checked here, where it enters the notifier.
    timeZone: r.time_zone !== null && isValidTimeZone(r.time_zone) ? r.time_zone : null,
    invalidTimeZone: r.time_zone !== null && !isValidTimeZone(r.time_zone),
    optedOut: r.opted_out,
    episodeClosed: r.episode_closed,
  };
}

export interface AttemptRecord {
  action: 'create' | 'cancel';
  httpStatus: number | null;
  outcome: 'delivered' | 'scheduled' | 'undeliverable' | 'retry' | 'failed' | 'canceled' | 'already_delivered';
  onesignalId?: string | null;
  replayed?: boolean;
  retryAfterMs?: number | undefined;
  error?: string | null;
  startedAt: Date;
}

export interface FinishInput {
  me: string;
  now: Date;
  status: NotificationStatus;
  onesignalId?: string | null;
  scheduledFor?: Date | null;
  lastError?: string | null;
  nextAttemptAt?: Date;
  sentAt?: Date;
  canceledAt?: Date;
  /** The request made, if any (none when the push was settled without asking OneSignal). */
  attempt?: AttemptRecord;
}

/**
 * Stores the outcome (and the attempt) if this replica still holds the claim. A push that was just
 * created `scheduled` (the row was `pending`) for an episode repaired meanwhile turns `cancelling` at
 * once; a row going back to `scheduled` after a cancel or a check does not. Returns the
 * status stored, or undefined when the claim was lost.
 */
export async function finishNotification(pool: Pool, n: ClaimedNotification, f: FinishInput): Promise<NotificationStatus | undefined> {
  return withTransaction(pool, async (c) => {
    const { rows } = await c.query<{ status: NotificationStatus }>(
      `WITH closed AS (SELECT EXISTS (SELECT 1 FROM notification_episodes e WHERE e.id::text = $11 AND e.closed_at IS NOT NULL) AS yes)
       UPDATE notifications n SET
         status = CASE WHEN $3 = 'scheduled' AND n.status = 'pending' AND (SELECT yes FROM closed) THEN 'cancelling' ELSE $3 END,
         cancel_requested_at = CASE WHEN $3 = 'scheduled' AND n.status = 'pending' AND (SELECT yes FROM closed) THEN $12 ELSE n.cancel_requested_at END,
         next_attempt_at = CASE WHEN $3 = 'scheduled' AND n.status = 'pending' AND (SELECT yes FROM closed) THEN $12 ELSE coalesce($7, n.next_attempt_at) END,
         onesignal_id = coalesce($4, n.onesignal_id),
         scheduled_for = coalesce($5, n.scheduled_for),
         last_error = $6,
         sent_at = coalesce($8, n.sent_at),
         canceled_at = coalesce($9, n.canceled_at),
         attempts = n.attempts + $10,
         claimed_by = NULL, claimed_until = NULL, updated_at = now()
       WHERE n.id = $1 AND n.claimed_by = $2
       RETURNING n.status`,
      [
        n.id,
        f.me,
        f.status,
        f.onesignalId ?? null,
        f.scheduledFor ?? null,
        f.lastError ?? null,
        f.nextAttemptAt ?? null,
        f.sentAt ?? null,
        f.canceledAt ?? null,
        f.attempt ? 1 : 0,
        n.episode,
        f.now,
      ],
    );
    if (f.attempt) {
      const a = f.attempt;
      await c.query(
        `INSERT INTO notification_attempts (org_id, notification_id, attempt, action, idempotency_key, http_status, outcome, onesignal_id,
                                            replayed, retry_after_ms, error, started_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [
          n.orgId,
          n.id,
          n.attempts + 1,
          a.action,
          a.action === 'create' ? n.idempotencyKey : null,
          a.httpStatus,
          a.outcome,
          a.onesignalId ?? null,
          a.replayed ?? false,
          a.retryAfterMs ?? null,
          a.error ?? null,
          a.startedAt,
        ],
      );
    }
    return rows[0]?.status;
  });
}
