/**
 * "Reconnect soon": accounts whose Mono consent or provider credential (e.g. an MoMo API key)
 * expires within the warning window get one `expiry_warning` push per expiry instant (the episode
 * is `consent:<iso>` / `credential:<iso>`, so a renewed consent with a new expiry warns again).
 */
import type { Pool } from 'pg';

export interface ExpiringAccount {
  accountId: string;
  orgId: string;
  userId: string;
  provider: string;
  what: 'consent' | 'credential';
  expiresAt: Date;
}

export async function findExpiring(pool: Pool, i: { now: Date; warnDays: number; limit: number }): Promise<ExpiringAccount[]> {
  const { rows } = await pool.query(
    `WITH due AS (
       SELECT a.id, a.org_id, a.user_id, a.provider, 'consent' AS what, a.consent_expires_at AS expires_at
         FROM accounts a
        WHERE a.status IN ('active', 'error') AND a.user_id IS NOT NULL
          AND a.consent_expires_at > $1 AND a.consent_expires_at <= $1 + make_interval(days => $2)
       UNION ALL
       SELECT a.id, a.org_id, a.user_id, a.provider, 'credential', c.expires_at
         FROM accounts a JOIN provider_credentials c ON c.id = a.credential_id
        WHERE a.status IN ('active', 'error') AND a.user_id IS NOT NULL
          AND c.expires_at > $1 AND c.expires_at <= $1 + make_interval(days => $2))
     SELECT d.* FROM due d
      WHERE NOT EXISTS (SELECT 1 FROM notifications n
                         WHERE n.account_id = d.id AND n.kind = 'expiry_warning'
                           AND n.episode = d.what || ':' || to_char(d.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      LIMIT $3`,
    [i.now, i.warnDays, i.limit],
  );
  return rows.map((r) => ({
    accountId: r.id,
    orgId: r.org_id,
    userId: r.user_id,
    provider: r.provider,
    what: r.what,
    expiresAt: r.expires_at,
  }));
}

export const expiryEpisode = (what: string, expiresAt: Date): string => `${what}:${expiresAt.toISOString()}`;

/** Parses an expiry warning's episode back into its expiry instant. */
export function expiryOf(episode: string): Date | undefined {
  const at = Date.parse(episode.slice(episode.indexOf(':') + 1));
  return Number.isFinite(at) ? new Date(at) : undefined;
}

/** Queues the warning unless it exists (any replica, any scan). Returns whether this call queued it. */
export async function queueExpiryWarning(
  pool: Pool,
  e: ExpiringAccount,
  p: { idempotencyKey: string; deepLink: string; webUrl: string; now: Date },
): Promise<boolean> {
  const r = await pool.query(
    `INSERT INTO notifications (org_id, account_id, user_id, kind, episode, status, provider, idempotency_key, deep_link, web_url, due_at, next_attempt_at)
     VALUES ($1, $2, $3, 'expiry_warning', $4, 'pending', $5, $6, $7, $8, $9, $9)
     ON CONFLICT (account_id, kind, episode) DO NOTHING`,
    [e.orgId, e.accountId, e.userId, expiryEpisode(e.what, e.expiresAt), e.provider, p.idempotencyKey, p.deepLink, p.webUrl, p.now],
  );
  return (r.rowCount ?? 0) > 0;
}
