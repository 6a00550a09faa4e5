import type { ProviderId } from '@intellifin/domain';
import type { Queryable } from './db';

/**
 * `sync_schedules`: plan settings per provider (org_id and account_id null), with per-org and
 * per-account overrides. The scheduler reads them every planning pass; the sync-api manages the
 * overrides. Plan `*` is the kill switch of a scope: a row with `enabled = false` turns every plan
 * off for the provider, organisation or account it names.
 *
 * A row's `cron` may be null: the row then inherits the cron *and* time zone of the broader scope
 * (a cron expression means nothing without its zone) and overrides only `enabled` / `settings`.
 */
export interface ScheduleRow {
  id: string;
  provider: ProviderId;
  plan: string;
  orgId: string | null;
  accountId: string | null;
  cron: string | null;
  timezone: string;
  enabled: boolean;
  settings: Record<string, unknown>;
  updatedAt: Date;
}

const SELECT = `SELECT id, provider, plan, org_id AS "orgId", account_id AS "accountId", cron, timezone, enabled, settings,
                       updated_at AS "updatedAt" FROM sync_schedules`;

/** Every row (defaults and overrides). The table is small: admins write overrides by hand. */
export async function listSchedules(db: Queryable, opts: { provider?: ProviderId } = {}): Promise<ScheduleRow[]> {
  const { rows } = await db.query<ScheduleRow>(
    `${SELECT} WHERE ($1::text IS NULL OR provider = $1) ORDER BY provider, plan, org_id NULLS FIRST, account_id NULLS FIRST`,
    [opts.provider ?? null],
  );
  return rows;
}

export interface ScheduleInput {
  provider: ProviderId;
  plan: string;
  /** Null/absent: provider-wide. */
  orgId?: string | null;
  /** Null/absent: organisation-wide (or provider-wide). An account override should also name its org. */
  accountId?: string | null;
  /** Null: inherit cron and time zone from the broader scope. */
  cron?: string | null;
  timezone?: string;
  enabled?: boolean;
  settings?: Record<string, unknown>;
}

/**
 * Creates or replaces the row of one (provider, plan, org, account) scope. Fields left out take
 * the column defaults (cron null, Africa/Lusaka, enabled, no settings): the row states the whole
 * override, it is not a patch.
 */
export async function upsertSchedule(db: Queryable, s: ScheduleInput): Promise<ScheduleRow> {
  const { rows } = await db.query<ScheduleRow>(
    `INSERT INTO sync_schedules (provider, plan, org_id, account_id, cron, timezone, enabled, settings)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (provider, plan, org_id, account_id) DO UPDATE
       SET cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, enabled = EXCLUDED.enabled,
           settings = EXCLUDED.settings, updated_at = now()
     RETURNING id, provider, plan, org_id AS "orgId", account_id AS "accountId", cron, timezone, enabled, settings, updated_at AS "updatedAt"`,
    [
      s.provider,
      s.plan,
      s.orgId ?? null,
      s.accountId ?? null,
      s.cron ?? null,
      s.timezone ?? 'Africa/Lusaka',
      s.enabled ?? true,
      JSON.stringify(s.settings ?? {}),
    ],
  );
  return rows[0]!;
}

/** Deletes the row of one scope; returns whether it existed. The scope then inherits again. */
export async function deleteSchedule(
  db: Queryable,
  s: { provider: ProviderId; plan: string; orgId?: string | null; accountId?: string | null },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `DELETE FROM sync_schedules
      WHERE provider = $1 AND plan = $2 AND org_id IS NOT DISTINCT FROM $3 AND account_id IS NOT DISTINCT FROM $4`,
    [s.provider, s.plan, s.orgId ?? null, s.accountId ?? null],
  );
  return (rowCount ?? 0) > 0;
}

/** Turns every plan of a provider on or off (the provider-wide `*` row). */
export async function setProviderEnabled(db: Queryable, provider: ProviderId, enabled: boolean): Promise<void> {
  if (enabled) await deleteSchedule(db, { provider, plan: '*' });
  else await upsertSchedule(db, { provider, plan: '*', enabled: false });
}
