import { z } from 'zod';
import {
  ConfigError,
  databaseEnv,
  loadConfig,
  loggingEnv,
  natsEnv,
  portVar,
  positiveIntVar,
  redisEnv,
  urlVar,
  type Env,
} from '@intellifin/core';
import { connectionLimitsEnv } from '@intellifin/service-kit';
import { ingressEnv } from './ingress.config';
import { linkingEnv } from './linking-config';

/** sync-api configuration from the environment (validated at start-up; secrets may come from `<NAME>_FILE`). */
export const syncApiEnv = z.object({
  ...databaseEnv,
  ...redisEnv,
  ...natsEnv,
  ...loggingEnv,
  ...connectionLimitsEnv,
  ...linkingEnv,
  HEALTH_PORT: portVar(9106),
  HTTP_PORT: portVar(8080),
  HTTP_HOST: z.string().min(1).default('0.0.0.0'),
  /** gRPC transport (intellifin.sync.v1.SyncService, health, reflection), on HTTP_HOST. */
  GRPC_PORT: portVar(50051),
  /** SSE (`GET /v1/events`) heartbeat comment interval. */
  SSE_HEARTBEAT_MS: positiveIntVar(15_000),
  /** Status events queued per live subscriber (SSE, gRPC watch) before it is dropped as too slow. */
  STATUS_FEED_BUFFER: positiveIntVar(256),
  NATS_NAMESPACE: z.string().optional(),
  PG_POOL_MAX: positiveIntVar(10),
  /** Tokens must carry this issuer (`iss`) and audience (`aud`). */
  JWT_ISSUER: z.string().min(1),
  JWT_AUDIENCE: z.string().min(1),
  /** HS256 shared secret (development). Exactly one of JWT_SECRET and JWT_JWKS_URL. */
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 key)').optional(),
  /** RS256 keys from a JWKS endpoint (production). */
  JWT_JWKS_URL: urlVar(['http', 'https']).optional(),
  /** Allowed clock skew when checking `exp`/`nbf`, seconds. */
  JWT_CLOCK_TOLERANCE_S: z.coerce.number().int().min(0).max(300).default(5),
  /** Bearer token of internal callers (/internal/v1, later). */
  SERVICE_TOKEN: z.string().min(32, 'must be at least 32 characters'),
  /** Largest request body accepted, bytes (larger: 413). */
  BODY_LIMIT_BYTES: positiveIntVar(16_384),
  /** A manual sync of one account is allowed once per this interval (else 429 + Retry-After). */
  MANUAL_SYNC_INTERVAL_MS: positiveIntVar(60_000),
  /** A queued manual request whose run never started counts as queued for at most this long. */
  QUEUED_TTL_MS: positiveIntVar(900_000),
  /** Connection health shows `expiring` this many days before consent expires. */
  CONSENT_EXPIRY_WARNING_DAYS: positiveIntVar(7),
  /** Data completeness: a successful run whose window spans this many days (or a full re-sync) completes the history. */
  HISTORY_DAYS: positiveIntVar(90),
  ...ingressEnv,
  /** One org-wide sync (POST /v1/sync) per organisation and scope per this interval (else 429 + Retry-After). */
  ORG_SYNC_INTERVAL_MS: positiveIntVar(900_000),
  /** Accounts queued per transaction by an org-wide sync. */
  ORG_SYNC_BATCH_SIZE: positiveIntVar(500),
});
export type SyncApiConfig = z.infer<typeof syncApiEnv>;

export function loadSyncApiConfig(env: Env = process.env): SyncApiConfig {
  const config = loadConfig(syncApiEnv, env);
  if ((config.JWT_SECRET === undefined) === (config.JWT_JWKS_URL === undefined))
    throw new ConfigError(['JWT_SECRET / JWT_JWKS_URL: set exactly one (HS256 secret for development, or the JWKS URL for RS256)']);
  return config;
}
