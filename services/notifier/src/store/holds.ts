/**
 * The OneSignal rate-limit hold in Postgres (migration 0021): after a 429 with Retry-After, no
 * replica sends anything to that app before `held_until`. Every replica reads it; any replica
 * that gets such a 429 moves it forward (never back).
 */
import type { Pool } from '@intellifin/persistence';

export interface HoldInput {
  appId: string;
  until: Date;
  retryAfterMs: number;
  action: 'create' | 'cancel';
  at: Date;
  by: string;
}

/** The SQL condition "no hold on app `$<appParam>` at `$<nowParam>`", for the claims. */
export const notHeldSql = (appParam: number, nowParam: number) =>
  `NOT EXISTS (SELECT 1 FROM onesignal_holds h WHERE h.app_id = $${appParam}::uuid AND h.held_until > $${nowParam})`;

/** The end of the app's hold as stored (it may be in the past), or undefined when there never was one. */
export async function readHold(pool: Pool, appId: string): Promise<Date | undefined> {
  const { rows } = await pool.query<{ held_until: Date }>('SELECT held_until FROM onesignal_holds WHERE app_id = $1::uuid', [appId]);
  return rows[0]?.held_until;
}

/** Extends the app's hold to at least `until`; returns the end now stored (a later one set by another replica wins). */
export async function extendHold(pool: Pool, h: HoldInput): Promise<Date> {
  const { rows } = await pool.query<{ held_until: Date }>(
    `INSERT INTO onesignal_holds AS o (app_id, held_until, retry_after_ms, action, set_at, set_by)
     VALUES ($1::uuid, $2, $3, $4, $5, $6)
     ON CONFLICT (app_id) DO UPDATE SET held_until = EXCLUDED.held_until, retry_after_ms = EXCLUDED.retry_after_ms,
       action = EXCLUDED.action, set_at = EXCLUDED.set_at, set_by = EXCLUDED.set_by
       WHERE o.held_until < EXCLUDED.held_until
     RETURNING held_until`,
    [h.appId, h.until, h.retryAfterMs, h.action, h.at, h.by],
  );
  return rows[0]?.held_until ?? (await readHold(pool, h.appId)) ?? h.until;
}
