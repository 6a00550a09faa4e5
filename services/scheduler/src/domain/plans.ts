import type { AccountPlan, PlanSettings, SyncMode, SyncTrigger } from '@intellifin/domain';

/**
 * The account plans. Each has a built-in default (below, also seeded as provider-level rows of
 * `sync_schedules` by migration 0003) that rows of `sync_schedules` override per provider,
 * organisation and account. Maintenance is not per provider and is configured by environment.
 */
// The plan names, the kill switch and the `settings` rule are shared with sync-api (which writes
// the rows): one rule, in @intellifin/domain.
export { ACCOUNT_PLANS, ALL_PLANS, isAccountPlan, type AccountPlan, type PlanSettings } from '@intellifin/domain';

export interface ResolvedSettings {
  window: { start: string; end: string } | null;
  spreadMinutes: number;
  staleAfterMinutes: number;
}

export interface PlanDefinition {
  plan: AccountPlan;
  /** The trigger recorded on the command and the run. */
  trigger: Extract<SyncTrigger, 'scheduled' | 'nightly' | 'balance' | 'stale'>;
  /** What a run of this plan fetches. */
  mode: SyncMode;
  cron: string;
  timezone: string;
  settings: ResolvedSettings;
}

export const DEFAULT_TIMEZONE = 'Africa/Lusaka';
const BUSINESS_HOURS = { start: '08:00', end: '20:00' };

export const PLAN_DEFAULTS: Readonly<Record<AccountPlan, PlanDefinition>> = Object.freeze({
  transactions: {
    plan: 'transactions',
    trigger: 'scheduled',
    mode: 'transactions',
    cron: '0 * * * *',
    timezone: DEFAULT_TIMEZONE,
    settings: { window: BUSINESS_HOURS, spreadMinutes: 20, staleAfterMinutes: 360 },
  },
  balance: {
    plan: 'balance',
    trigger: 'balance',
    mode: 'balance',
    cron: '*/30 * * * *',
    timezone: DEFAULT_TIMEZONE,
    settings: { window: BUSINESS_HOURS, spreadMinutes: 10, staleAfterMinutes: 360 },
  },
  nightly: {
    plan: 'nightly',
    trigger: 'nightly',
    mode: 'full',
    cron: '0 2 * * *',
    timezone: DEFAULT_TIMEZONE,
    settings: { window: null, spreadMinutes: 120, staleAfterMinutes: 360 },
  },
  stale: {
    plan: 'stale',
    trigger: 'stale',
    mode: 'full',
    cron: '0 */4 * * *',
    timezone: DEFAULT_TIMEZONE,
    settings: { window: null, spreadMinutes: 30, staleAfterMinutes: 360 },
  },
});

/** Applies a row's settings over broader ones; keys the row leaves out are inherited. */
export function mergeSettings(base: ResolvedSettings, over: PlanSettings): ResolvedSettings {
  return {
    window: over.window !== undefined ? over.window : base.window,
    spreadMinutes: over.spreadMinutes ?? base.spreadMinutes,
    staleAfterMinutes: over.staleAfterMinutes ?? base.staleAfterMinutes,
  };
}
