import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  boolVar,
  ConfigError,
  databaseEnv,
  loadConfig,
  loggingEnv,
  natsEnv,
  portVar,
  positiveIntVar,
  redisEnv,
  type Env,
} from '@intellifin/core';
import { connectionLimitsEnv } from '@intellifin/service-kit';
import { z } from 'zod';
import { isValidTimezone, validateSlotSpec } from './domain/slots';

/**
 * `<rate>/<burst>/<reserve>`: scheduled commands per second a provider may receive, how many may go
 * at once after a quiet spell, and how many tokens the scheduler leaves for user-triggered syncs.
 */
const providerBudget = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const m = /^(\d+(?:\.\d+)?)\/(\d+)\/(\d+)$/.exec(v.trim());
      const rate = m ? Number(m[1]) : NaN;
      const burst = m ? Number(m[2]) : NaN;
      const reserve = m ? Number(m[3]) : NaN;
      if (!m || !(rate > 0) || !(burst >= 1) || reserve >= burst) {
        ctx.addIssue({
          code: 'custom',
          message: 'must be <rate>/<burst>/<reserve> with rate > 0, burst ≥ 1 and reserve < burst, e.g. 50/500/100',
        });
        return z.NEVER;
      }
      return { ratePerSecond: rate, burst, reserve };
    });

const cronVar = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine(
      (v) => {
        try {
          validateSlotSpec({ cron: v, timezone: 'UTC', window: null });
          return true;
        } catch {
          return false;
        }
      },
      { message: 'must be a cron expression (5 or 6 fields), e.g. "0 3 * * *"' },
    );

const timezoneVar = (fallback: string) =>
  z.string().default(fallback).refine(isValidTimezone, { message: 'must be an IANA time zone, e.g. Africa/Lusaka' });

export const schedulerEnvSchema = z.object({
  ...databaseEnv,
  ...natsEnv,
  ...redisEnv,
  ...loggingEnv,
  ...connectionLimitsEnv,
  HEALTH_PORT: portVar(9101),
  MIGRATE_ON_START: boolVar(true),
  /** Test isolation only: stream suffix / subject prefix of the JetStream topology. */
  NATS_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be a lower-case token (letters, digits, _ and -), at most 32 characters')
    .optional(),
  SCHEDULER_INSTANCE_ID: z.string().min(1).max(200).optional(),
  SCHEDULER_TICK_MS: positiveIntVar(5_000),
  LEADER_LEASE_TTL_MS: positiveIntVar(15_000),
  LEADER_POLL_MS: positiveIntVar(5_000),
  DISPATCH_PAGE_SIZE: z.coerce.number().int().min(1).max(20_000).default(2_000),
  PUBLISH_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(10_000).default(1_000),
  DISPATCH_MAX_PER_PASS: positiveIntVar(250_000),
  ERROR_BACKOFF_BASE_MINUTES: positiveIntVar(30),
  ERROR_BACKOFF_CAP_MINUTES: positiveIntVar(24 * 60),
  MAINTENANCE_CRON: cronVar('0 3 * * *'),
  MAINTENANCE_TIMEZONE: timezoneVar('Africa/Lusaka'),
  SYNC_RUNS_RETENTION_DAYS: positiveIntVar(90),
  WEBHOOK_EVENTS_RETENTION_DAYS: positiveIntVar(30),
  SCHEDULER_BUDGET_MONO: providerBudget('50/1000/200'),
  SCHEDULER_BUDGET_MOMO: providerBudget('50/1000/200'),
  SCHEDULER_BUDGET_AIRTEL: providerBudget('50/1000/200'),
});

export type SchedulerEnv = z.infer<typeof schedulerEnvSchema>;

export interface SchedulerConfig extends SchedulerEnv {
  instanceId: string;
}

/** Validates the environment (throws ConfigError naming every bad variable) and fills derived values. */
export function loadSchedulerConfig(env: Env = process.env): SchedulerConfig {
  const c = loadConfig(schedulerEnvSchema, env);
  const problems: string[] = [];
  if (c.LEADER_LEASE_TTL_MS < 2 * c.LEADER_POLL_MS) problems.push('LEADER_LEASE_TTL_MS: must be at least twice LEADER_POLL_MS');
  if (c.ERROR_BACKOFF_CAP_MINUTES < c.ERROR_BACKOFF_BASE_MINUTES)
    problems.push('ERROR_BACKOFF_CAP_MINUTES: must be ≥ ERROR_BACKOFF_BASE_MINUTES');
  if (problems.length) throw new ConfigError(problems);
  return { ...c, instanceId: c.SCHEDULER_INSTANCE_ID ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}` };
}
