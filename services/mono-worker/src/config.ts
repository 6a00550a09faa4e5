import { z } from 'zod';
import {
  databaseEnv,
  loadConfig,
  loggingEnv,
  natsEnv,
  portVar,
  positiveIntVar,
  redisEnv,
  urlVar,
  boolVar,
  type Env,
} from '@intellifin/core';
import { connectionLimitsEnv } from '@intellifin/service-kit';
import { syncWorkerEnv } from '@intellifin/sync-engine';

/** mono-worker configuration from the environment (validated at start-up; secrets may come from `<NAME>_FILE`). */
export const monoWorkerEnv = z.object({
  ...databaseEnv,
  ...redisEnv,
  ...natsEnv,
  ...loggingEnv,
  ...connectionLimitsEnv,
  HEALTH_PORT: portVar(9102),
  NATS_NAMESPACE: z.string().optional(),
  MONO_BASE_URL: urlVar(['http', 'https']).default('http://127.0.0.1:4010'),
  MONO_SECRET_KEY: z.string().min(1),
  /** Where Mono's re-link widget returns the user (the app's deep link). */
  MONO_REAUTH_REDIRECT_URL: urlVar(['http', 'https', 'intellifin']).optional(),
  MONO_TIMEOUT_MS: positiveIntVar(15_000),
  MONO_PAGE_SIZE: positiveIntVar(100),
  MONO_OVERLAP_DAYS: z.coerce.number().int().min(0).default(3),
  MONO_HISTORY_DAYS: positiveIntVar(90),
  MONO_REALTIME: boolVar(true),
  /** Pending rows are re-read until they post or are released, at most this many days back. */
  MONO_PENDING_WATCH_DAYS: positiveIntVar(30),
  /** Lifetime assumed for a re-auth link Mono gives without an expiry; the engine reuses a link until then. */
  MONO_REAUTH_LINK_TTL_MS: positiveIntVar(600_000),
  /** Shared request budget for Mono across every replica. */
  MONO_RATE_PER_SECOND: positiveIntVar(200),
  MONO_RATE_BURST: positiveIntVar(400),
  ...syncWorkerEnv,
  MIGRATE_ON_START: boolVar(false),
});
export type MonoWorkerConfig = z.infer<typeof monoWorkerEnv>;

export function loadMonoWorkerConfig(env: Env = process.env): MonoWorkerConfig {
  return loadConfig(monoWorkerEnv, env);
}
