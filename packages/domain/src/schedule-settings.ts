/**
 * The rules of `sync_schedules` rows, shared by the scheduler (which plans with them) and sync-api
 * (which writes them): the account plans, the `settings` document, time zones, and the sync
 * intervals a user may choose for one account. Pure: no I/O, no dependencies.
 */
export const ACCOUNT_PLANS = ['transactions', 'balance', 'nightly', 'stale'] as const;
export type AccountPlan = (typeof ACCOUNT_PLANS)[number];

export function isAccountPlan(value: unknown): value is AccountPlan {
  return typeof value === 'string' && (ACCOUNT_PLANS as readonly string[]).includes(value);
}

/** `sync_schedules.plan` value of the kill switch: `enabled = false` turns every plan off for the scope. */
export const ALL_PLANS = '*';

/**
 * `sync_schedules.settings`. Every key is optional in a row; missing keys come from the broader
 * scope and finally from the plan's built-in default.
 */
export interface PlanSettings {
  /**
   * Business-hours filter on the cron's slots, in the schedule's time zone: a slot runs only if
   * its local time of day is within [start, end], both ends included (20:00 runs, 20:30 does not).
   */
  window?: { start: string; end: string } | null;
  /** Commands of one slot are spread over this many minutes (a fixed per-account offset). */
  spreadMinutes?: number;
  /** `stale` only: an account is stale when it has had no successful sync for this long. */
  staleAfterMinutes?: number;
}

export interface SettingsIssue {
  /** Dotted path inside the settings document ('' for the document itself). */
  path: string;
  message: string;
}

export type PlanSettingsResult = { ok: true; settings: PlanSettings } | { ok: false; issues: SettingsIssue[] };

/** A local time of day `HH:MM`, 00:00–23:59. */
const TIME_OF_DAY = /^([01]\d|2[0-3]):[0-5]\d$/;
const SETTINGS_KEYS = new Set(['window', 'spreadMinutes', 'staleAfterMinutes']);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function intIn(v: unknown, path: string, min: number, max: number | undefined, issues: SettingsIssue[]): number | undefined {
  if (typeof v !== 'number' || !Number.isInteger(v)) issues.push({ path, message: 'must be an integer' });
  else if (v < min) issues.push({ path, message: `must be at least ${min}` });
  else if (max !== undefined && v > max) issues.push({ path, message: `must be at most ${max}` });
  else return v;
  return undefined;
}

/**
 * Validates a `settings` document (unknown keys are refused; a window's other keys are dropped).
 * The scheduler skips a plan group whose rows fail it; the API refuses to write one.
 */
export function validatePlanSettings(value: unknown): PlanSettingsResult {
  if (!isObject(value)) return { ok: false, issues: [{ path: '', message: 'must be an object' }] };
  const issues: SettingsIssue[] = [];
  const out: PlanSettings = {};
  for (const key of Object.keys(value)) if (!SETTINGS_KEYS.has(key)) issues.push({ path: key, message: 'unknown setting' });
  if (value.window !== undefined) {
    const w = value.window;
    if (w === null) out.window = null;
    else if (!isObject(w)) issues.push({ path: 'window', message: 'must be {start, end} or null' });
    else {
      const bad = (['start', 'end'] as const).filter((k) => typeof w[k] !== 'string' || !TIME_OF_DAY.test(w[k]));
      for (const k of bad) issues.push({ path: `window.${k}`, message: 'must be HH:MM (24 h)' });
      if (bad.length === 0) out.window = { start: w.start as string, end: w.end as string };
    }
  }
  if (value.spreadMinutes !== undefined) {
    const v = intIn(value.spreadMinutes, 'spreadMinutes', 0, 24 * 60, issues);
    if (v !== undefined) out.spreadMinutes = v;
  }
  if (value.staleAfterMinutes !== undefined) {
    const v = intIn(value.staleAfterMinutes, 'staleAfterMinutes', 1, undefined, issues);
    if (v !== undefined) out.staleAfterMinutes = v;
  }
  return issues.length ? { ok: false, issues } : { ok: true, settings: out };
}

/** Whether the runtime knows this IANA time zone (e.g. Africa/Lusaka). */
export function isValidTimezone(timezone: string): boolean {
  if (timezone.length === 0 || timezone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The transactions-sync intervals a user may choose for one account, in minutes: those a cron step
 * expresses exactly (every n minutes dividing the hour, every n hours dividing the day). The
 * plan's business-hours window and spread still apply to the slots.
 */
export const ACCOUNT_SYNC_INTERVALS = [15, 20, 30, 60, 120, 180, 240, 360, 480, 720] as const;
export type AccountSyncInterval = (typeof ACCOUNT_SYNC_INTERVALS)[number];

export function isAccountSyncInterval(value: unknown): value is AccountSyncInterval {
  return typeof value === 'number' && (ACCOUNT_SYNC_INTERVALS as readonly number[]).includes(value);
}

/** The cron expression of an interval: every n minutes from :00, or every n hours at :00. */
export function cronOfInterval(minutes: AccountSyncInterval): string {
  if (minutes < 60) return `*/${minutes} * * * *`;
  if (minutes === 60) return '0 * * * *';
  return `0 */${minutes / 60} * * *`;
}

/** The interval a cron expression written by {@link cronOfInterval} stands for, or null for any other cron. */
export function intervalOfCron(cron: string | null): AccountSyncInterval | null {
  if (cron === null) return null;
  return ACCOUNT_SYNC_INTERVALS.find((m) => cronOfInterval(m) === cron.trim()) ?? null;
}
