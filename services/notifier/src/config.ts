import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { boolVar, databaseEnv, loadConfig, loggingEnv, natsEnv, portVar, positiveIntVar, urlVar, type Env } from '@intellifin/core';
import { connectionLimitsEnv } from '@intellifin/service-kit';
import { z } from 'zod';
import { isValidTimeZone, parseQuietHours, type QuietHours } from './domain/quiet-hours';

const quietHoursVar = z
  .string()
  .default('21:00-07:00')
  .transform((v, ctx) => {
    try {
      return parseQuietHours(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

/**
 * Comma-separated hours, e.g. `24,72`: reminders after the episode opened. Unset: `24,72`; set but
 * empty (or only commas/spaces): none. loadConfig treats empty as unset, so loadNotifierConfig
 * reads an empty value itself.
 */
const hoursListVar = z
  .string()
  .default('24,72')
  .transform((v, ctx) => {
    const parts = v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const hours = parts.map(Number);
    if (hours.some((h) => !(h > 0)) || hours.some((h, i) => i > 0 && h <= hours[i - 1]!)) {
      ctx.addIssue({ code: 'custom', message: 'must be increasing positive hours separated by commas, e.g. 24,72' });
      return z.NEVER;
    }
    return hours;
  });

export const notifierEnvSchema = z.object({
  ...databaseEnv,
  ...natsEnv,
  ...loggingEnv,
  ...connectionLimitsEnv,
  HEALTH_PORT: portVar(9105),
  MIGRATE_ON_START: boolVar(false),
  NATS_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be a lower-case token (letters, digits, _ and -), at most 32 characters')
    .optional(),
  NOTIFIER_INSTANCE_ID: z.string().min(1).max(200).optional(),
  ONESIGNAL_BASE_URL: urlVar(['http', 'https']).default('https://api.onesignal.com'),
  ONESIGNAL_APP_ID: z.string().uuid('must be the OneSignal app id (a UUID)'),
  /** App API key, sent as `Authorization: Key …` (or ONESIGNAL_API_KEY_FILE). */
  ONESIGNAL_API_KEY: z.string().min(1),
  ONESIGNAL_TIMEOUT_MS: positiveIntVar(10_000),
  NOTIFIER_DEEP_LINK_SCHEME: z
    .string()
    .regex(/^[a-z][a-z0-9+.-]*$/, 'must be a URL scheme, e.g. intellifin')
    .default('intellifin'),
  NOTIFIER_WEB_BASE_URL: urlVar(['http', 'https']).default('https://app.intellifin.co'),
  NOTIFIER_REMINDER_HOURS: hoursListVar,
  NOTIFIER_QUIET_HOURS: quietHoursVar,
  NOTIFIER_DEFAULT_TIMEZONE: z
    .string()
    .default('Africa/Lusaka')
    .refine(isValidTimeZone, { message: 'must be an IANA time zone, e.g. Africa/Lusaka' }),
  NOTIFIER_EXPIRY_WARNING_DAYS: positiveIntVar(7),
  NOTIFIER_EXPIRY_SCAN_MS: positiveIntVar(15 * 60_000),
  NOTIFIER_MAX_ATTEMPTS: positiveIntVar(10),
  NOTIFIER_RETRY_BASE_MS: positiveIntVar(2_000),
  NOTIFIER_RETRY_CAP_MS: positiveIntVar(10 * 60_000),
  NOTIFIER_POLL_MS: positiveIntVar(1_000),
  NOTIFIER_CLAIM_LEASE_MS: positiveIntVar(60_000),
  /** Auth events handled at once (the consumer). */
  NOTIFIER_CONCURRENCY: positiveIntVar(8),
  /** Pushes the dispatcher handles at once (sends, cancels, checks); each uses one pool connection at a time. */
  NOTIFIER_SEND_CONCURRENCY: z.coerce.number().int().min(1).max(64, 'must be at most 64 (each one needs a Postgres connection)').default(8),
});

export type NotifierEnv = z.infer<typeof notifierEnvSchema>;

export interface NotifierConfig extends NotifierEnv {
  instanceId: string;
  quietHours: QuietHours;
  reminderHours: number[];
}

/**
 * The Postgres pool: a connection per auth event in flight, one per push in flight, one for the
 * dispatcher's claims and one for the expiry scanner, so the dispatcher never waits on the consumer.
 */
export function postgresPoolSize(c: Pick<NotifierEnv, 'NOTIFIER_CONCURRENCY' | 'NOTIFIER_SEND_CONCURRENCY'>): number {
  return c.NOTIFIER_CONCURRENCY + c.NOTIFIER_SEND_CONCURRENCY + 2;
}

/** Validates the environment (throws ConfigError naming every bad variable). */
export function loadNotifierConfig(env: Env = process.env): NotifierConfig {
  const c = loadConfig(notifierEnvSchema, env);
  return {
    ...c,
    quietHours: c.NOTIFIER_QUIET_HOURS,
    // Set but empty means no reminders (loadConfig would have applied the default).
    reminderHours: env.NOTIFIER_REMINDER_HOURS === '' && !env.NOTIFIER_REMINDER_HOURS_FILE ? [] : c.NOTIFIER_REMINDER_HOURS,
    instanceId: c.NOTIFIER_INSTANCE_ID ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
  };
}
