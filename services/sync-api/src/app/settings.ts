import { counter, trace, withSpan, type Registry, type Tracer } from '@intellifin/core';
import {
  ACCOUNT_SYNC_INTERVALS,
  cronOfInterval,
  intervalOfCron,
  isAccountSyncInterval,
  type AccountSyncInterval,
  type ProviderId,
} from '@intellifin/domain';
import { deleteSchedule, upsertSchedule, withOrgScope, type Pool, type ScheduleRow } from '@intellifin/persistence';
import { ownerFilter, type Caller } from './caller';
import { ForbiddenError, InvalidInputError, NotFoundError } from './errors';
import {
  deleteOrgRows,
  lockAccountForSettings,
  readIntervalBounds,
  readReauthPush,
  readScheduleRows,
  writeIntervalBounds,
  writeReauthPush,
  type IntervalBounds,
} from './settings.query';

/** One `sync_schedules` row as the settings routes show and take it (settings already validated). */
export interface ScheduleView {
  provider: ProviderId;
  plan: string;
  /** Null: inherits cron and time zone from the provider default. */
  cron: string | null;
  timezone: string;
  enabled: boolean;
  settings: Record<string, unknown>;
}

export interface OrgSyncSettings {
  /** The bounds of the per-account interval users may choose, and the intervals that exist. */
  accountIntervalMinutes: IntervalBounds & { allowed: number[] };
  /** Provider-level defaults (read-only here). */
  defaults: ScheduleView[];
  /** This organisation's overrides. */
  overrides: ScheduleView[];
}

export interface OrgSyncSettingsInput {
  accountIntervalMinutes: IntervalBounds;
  overrides: ScheduleView[];
}

export interface AccountSettings {
  accountId: string;
  provider: ProviderId;
  /** The account's own transactions-sync interval; null: the organisation's / provider's schedule. */
  syncIntervalMinutes: number | null;
  bounds: IntervalBounds;
  /** Re-auth pushes for this provider to the account's user (null: the account has no user). */
  reauthPush: boolean | null;
}

export interface AccountSettingsInput {
  syncIntervalMinutes?: number | null | undefined;
  reauthPush?: boolean | undefined;
}

/** The plan a per-account interval overrides. */
const INTERVAL_PLAN = 'transactions';

const view = (r: ScheduleRow): ScheduleView => ({
  provider: r.provider,
  plan: r.plan,
  cron: r.cron,
  timezone: r.timezone,
  enabled: r.enabled,
  settings: r.settings,
});

export interface SyncSettingsOptions {
  /** A pool connected as `intellifin_api`. */
  pool: Pool;
  registry?: Registry;
  tracer?: Tracer;
}

/**
 * Sync settings: the admin's schedule overrides and interval bounds for the organisation, and a
 * user's interval and re-auth push opt-out for one account. The interval is an account row of
 * `sync_schedules` (plan `transactions`), which the scheduler plans with on its next pass.
 */
export class SyncSettings {
  private readonly tracer: Tracer;
  private readonly writes;

  constructor(private readonly o: SyncSettingsOptions) {
    this.tracer = o.tracer ?? trace.getTracer('@intellifin/sync-api');
    this.writes = o.registry
      ? counter(o.registry, 'intellifin_sync_api_settings_writes_total', 'Settings written, by scope and result', ['scope', 'result'])
      : undefined;
  }

  async orgSettings(caller: Caller): Promise<OrgSyncSettings> {
    requireAdmin(caller);
    return withSpan(this.tracer, 'sync-api.org_settings', {}, () =>
      withOrgScope(this.o.pool, caller.orgId, async (db) => {
        const [bounds, rows] = [await readIntervalBounds(db, caller.orgId), await readScheduleRows(db)];
        return {
          accountIntervalMinutes: { ...bounds, allowed: [...ACCOUNT_SYNC_INTERVALS] },
          defaults: rows.filter((r) => r.orgId === null && r.accountId === null).map(view),
          overrides: rows.filter((r) => r.orgId === caller.orgId && r.accountId === null).map(view),
        };
      }),
    );
  }

  /** Replaces the organisation's overrides and bounds (the input was validated by the transport). */
  async putOrgSettings(caller: Caller, input: OrgSyncSettingsInput): Promise<OrgSyncSettings> {
    requireAdmin(caller);
    await withSpan(this.tracer, 'sync-api.put_org_settings', { attributes: { 'settings.overrides': input.overrides.length } }, () =>
      withOrgScope(this.o.pool, caller.orgId, async (db) => {
        await writeIntervalBounds(db, caller.orgId, input.accountIntervalMinutes);
        await deleteOrgRows(db, caller.orgId);
        for (const r of input.overrides) await upsertSchedule(db, { ...r, orgId: caller.orgId, accountId: null });
      }),
    );
    this.writes?.inc({ scope: 'org', result: 'ok' });
    return this.orgSettings(caller);
  }

  async accountSettings(caller: Caller, accountId: string): Promise<AccountSettings> {
    return withSpan(this.tracer, 'sync-api.account_settings', {}, () =>
      withOrgScope(this.o.pool, caller.orgId, async (db) => {
        const a = await lockAccountForSettings(db, ownerFilter(caller), accountId);
        if (!a) throw new NotFoundError('account');
        const rows = await readScheduleRows(db, { accountId: a.id, provider: a.provider, plan: INTERVAL_PLAN });
        const own = rows.find((r) => r.accountId === a.id);
        return {
          accountId: a.id,
          provider: a.provider,
          syncIntervalMinutes: intervalOfCron(own?.cron ?? null),
          bounds: await readIntervalBounds(db, caller.orgId),
          reauthPush: a.userId === null ? null : await readReauthPush(db, a.userId, a.provider),
        };
      }),
    );
  }

  async putAccountSettings(caller: Caller, accountId: string, input: AccountSettingsInput): Promise<AccountSettings> {
    await withSpan(this.tracer, 'sync-api.put_account_settings', {}, () =>
      withOrgScope(this.o.pool, caller.orgId, async (db) => {
        const a = await lockAccountForSettings(db, ownerFilter(caller), accountId);
        if (!a) throw new NotFoundError('account');
        if (input.syncIntervalMinutes !== undefined) {
          const rows = await readScheduleRows(db, { accountId: a.id, provider: a.provider, plan: INTERVAL_PLAN });
          const own = rows.find((r) => r.accountId === a.id);
          if (input.syncIntervalMinutes === null) {
            // Back to the organisation's schedule; an admin's other settings for the account stay.
            if (own && Object.keys(own.settings).length > 0) await upsertSchedule(db, { ...own, cron: null });
            else if (own) await deleteSchedule(db, { provider: a.provider, plan: INTERVAL_PLAN, orgId: a.orgId, accountId: a.id });
          } else {
            const minutes = checkInterval(input.syncIntervalMinutes, await readIntervalBounds(db, caller.orgId));
            const broader = inherited(rows, a.provider, a.orgId);
            await upsertSchedule(db, {
              provider: a.provider,
              plan: INTERVAL_PLAN,
              orgId: a.orgId,
              accountId: a.id,
              cron: cronOfInterval(minutes),
              timezone: broader.timezone,
              enabled: own?.enabled ?? broader.enabled,
              settings: own?.settings ?? {},
            });
          }
        }
        if (input.reauthPush !== undefined) {
          if (a.userId === null) throw new InvalidInputError('body.reauthPush', 'the account has no user to notify');
          await writeReauthPush(db, { ...a, userId: a.userId }, input.reauthPush);
        }
      }),
    ).catch((err: unknown) => {
      if (err instanceof InvalidInputError) this.writes?.inc({ scope: 'account', result: 'refused' });
      throw err;
    });
    this.writes?.inc({ scope: 'account', result: 'ok' });
    return this.accountSettings(caller, accountId);
  }
}

function requireAdmin(caller: Caller): void {
  if (!caller.roles.includes('admin')) throw new ForbiddenError('admin');
}

/** The interval, if it is one that exists and lies within the organisation's bounds; else a 400 naming the bound. */
function checkInterval(minutes: number, bounds: IntervalBounds): AccountSyncInterval {
  const field = 'body.syncIntervalMinutes';
  if (!isAccountSyncInterval(minutes)) throw new InvalidInputError(field, `must be one of ${ACCOUNT_SYNC_INTERVALS.join(', ')} (minutes)`);
  if (minutes < bounds.min)
    throw new InvalidInputError(field, `must be at least ${bounds.min} minutes (accountIntervalMinutes.min, set by your organisation)`);
  if (minutes > bounds.max)
    throw new InvalidInputError(field, `must be at most ${bounds.max} minutes (accountIntervalMinutes.max, set by your organisation)`);
  return minutes;
}

/** Time zone and enabled flag of the account's broader scope for the interval plan (org row, then provider row). */
function inherited(rows: readonly ScheduleRow[], provider: ProviderId, orgId: string): { timezone: string; enabled: boolean } {
  const mine = rows.filter((r) => r.provider === provider && r.plan === INTERVAL_PLAN && r.accountId === null);
  const org = mine.find((r) => r.orgId === orgId);
  const def = mine.find((r) => r.orgId === null);
  const zoned = [org, def].find((r) => r?.cron !== null && r?.cron !== undefined);
  return { timezone: zoned?.timezone ?? def?.timezone ?? 'Africa/Lusaka', enabled: (org ?? def)?.enabled ?? true };
}
