import { z } from 'zod';
import { ACCOUNT_PLANS, ACCOUNT_SYNC_INTERVALS, ALL_PLANS, PROVIDERS, isValidTimezone, validatePlanSettings } from '@intellifin/domain';

/**
 * REST schemas of the settings routes. The `settings` document and time zones are checked with the
 * rules the scheduler plans with (@intellifin/domain), so the API never stores a row the
 * scheduler would skip for its settings or zone. Cron expressions are checked for shape here (five
 * fields of numbers in range, ranges, lists, steps and `*`); the scheduler evaluates them (croner).
 */
const CRON_FIELD = /^(\*|\d{1,2}(-\d{1,2})?)(\/\d{1,2})?(,(\*|\d{1,2}(-\d{1,2})?)(\/\d{1,2})?)*$/;
/** Value ranges of minute, hour, day of month, month, day of week (0 and 7 are Sunday). */
const CRON_RANGES: readonly [number, number][] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];

function cronShapeOk(expr: string): boolean {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) return false;
  return fields.every((f, i) => {
    if (!CRON_FIELD.test(f)) return false;
    const [lo, hi] = CRON_RANGES[i]!;
    // Every number before a step must lie in the field's range; a step must be at least 1.
    return f.split(',').every((part) => {
      const [range, step] = part.split('/');
      if (step !== undefined && Number(step) < 1) return false;
      return range === '*' || range!.split('-').every((n) => Number(n) >= lo && Number(n) <= hi);
    });
  });
}

const cron = z
  .string()
  .max(100)
  .refine(cronShapeOk, 'must be a five-field cron expression (minute hour day month weekday) with values in range');
export const timezone = z.string().max(64).refine(isValidTimezone, 'must be an IANA time zone, e.g. Africa/Lusaka');
const interval = z
  .number()
  .int()
  .refine((m) => (ACCOUNT_SYNC_INTERVALS as readonly number[]).includes(m), {
    message: `must be one of ${ACCOUNT_SYNC_INTERVALS.join(', ')} (minutes)`,
  });

const planSettings = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  const r = validatePlanSettings(value);
  if (!r.ok) for (const i of r.issues) ctx.addIssue({ code: 'custom', message: i.message, path: i.path ? i.path.split('.') : [] });
});

const scheduleJson = z
  .object({
    provider: z.enum(PROVIDERS),
    plan: z
      .enum([...ACCOUNT_PLANS, ALL_PLANS])
      .meta({ description: "An account plan, or '*' (with enabled false: the organisation's kill switch)" }),
    cron: cron.nullable().meta({ description: 'Null: inherit cron and time zone from the provider default' }),
    timezone: timezone.default('Africa/Lusaka'),
    enabled: z.boolean().default(true),
    settings: planSettings.default({}).meta({ description: 'window {start, end} (HH:MM), spreadMinutes, staleAfterMinutes' }),
  })
  .strict()
  .meta({ id: 'SyncSchedule' });

const bounds = z
  .object({ min: interval, max: interval })
  .strict()
  .refine((b) => b.min <= b.max, { message: 'must not be below min', path: ['max'] });

export const orgSettingsBody = z
  .object({
    accountIntervalMinutes: bounds.meta({ description: 'Bounds of the transactions-sync interval users may choose per account' }),
    overrides: z.array(scheduleJson).max(100),
  })
  .strict()
  .superRefine((b, ctx) => {
    const seen = new Set<string>();
    b.overrides.forEach((o, i) => {
      const key = `${o.provider}/${o.plan}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', message: `duplicate override of ${key}`, path: ['overrides', i] });
      seen.add(key);
    });
  });

/** A stored row as answered (loose: rows written by hand or by older versions are shown as they are). */
const scheduleOut = z
  .object({
    provider: z.enum(PROVIDERS),
    plan: z.string(),
    cron: z.string().nullable(),
    timezone: z.string(),
    enabled: z.boolean(),
    settings: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'StoredSyncSchedule' });

export const orgSettingsResponse = z
  .object({
    accountIntervalMinutes: z.object({ min: z.number().int(), max: z.number().int(), allowed: z.array(z.number().int()) }),
    defaults: z.array(scheduleOut),
    overrides: z.array(scheduleOut),
  })
  .meta({ id: 'OrgSyncSettings' });

export const accountSettingsBody = z
  .object({
    syncIntervalMinutes: interval.nullable().optional().meta({ description: "Null: back to the organisation's schedule" }),
    reauthPush: z.boolean().optional().meta({ description: "Re-auth push notifications for this account's provider" }),
  })
  .strict()
  .refine((b) => b.syncIntervalMinutes !== undefined || b.reauthPush !== undefined, { message: 'nothing to change' });

export const accountSettingsResponse = z
  .object({
    accountId: z.uuid(),
    provider: z.enum(PROVIDERS),
    syncIntervalMinutes: z.number().int().nullable(),
    bounds: z.object({ min: z.number().int(), max: z.number().int() }),
    reauthPush: z.boolean().nullable(),
  })
  .meta({ id: 'AccountSettings' });
