import type { SyncMode, SyncTrigger } from '@intellifin/domain';
import { z } from 'zod';

/**
 * The account plans. Each has a built-in default (below, also seeded as provider-level rows of
 * `sync_schedules` by migration 0003) that rows of `sync_schedules` override per provider,
 * organisation and account. Maintenance is not per provider and is configured by environment.
 */
export const ACCOUNT_PLANS = ['transactions', 'balance', 'nightly', 'stale'] as const;
export type AccountPlan = (typeof ACCOUNT_PLANS)[number];

export function isAccountPlan(value: unknown): value is AccountPlan {
  return typeof value === 'string' && (ACCOUNT_PLANS as readonly string[]).includes(value);
}

/** `sync_schedules.plan` value of the kill switch: `enabled = false` turns every plan off for the scope. */
export const ALL_PLANS = '*';

/** A local time of day `HH:MM`, 00:00–23:59. */
const timeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h)');

/**
 * `sync_schedules.settings`. Every key is optional in a row; missing keys come from the broader
 * scope and finally from the plan's built-in default.
 */
export const planSettingsSchema = z
  .object({
    /**
     * Business-hours filter on the cron's slots, in the schedule's time zone: a slot runs only if
     * its local time of day is within [start, end], both ends included (20:00 runs, 20:30 does not).
     */
    window: z.object({ start: timeOfDay, end: timeOfDay }).nullable().optional(),
    /** Commands of one slot are spread over this many minutes (a fixed per-account offset). */
    spreadMinutes: z
      .number()
      .int()
      .min(0)
      .max(24 * 60)
      .optional(),
    /** `stale` only: an account is stale when it has had no successful sync for this long. */
    staleAfterMinutes: z.number().int().min(1).optional(),
  })
  .strict();
export type PlanSettings = z.infer<typeof planSettingsSchema>;

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
