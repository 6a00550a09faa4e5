import { z } from 'zod';
import { databaseEnv, loadConfig, loggingEnv, natsEnv, portVar, positiveIntVar, redisEnv, urlVar, type Env } from '@intellifin/core';
import { connectionLimitsEnv } from '@intellifin/service-kit';
import { walletWorkerEnv } from '@intellifin/wallet-sync';

/** momo-worker configuration from the environment (validated at start-up; secrets may come from `<NAME>_FILE`). */
export const momoWorkerEnv = z.object({
  ...databaseEnv,
  ...redisEnv,
  ...natsEnv,
  ...loggingEnv,
  ...connectionLimitsEnv,
  ...walletWorkerEnv,
  HEALTH_PORT: portVar(9103),
  NATS_NAMESPACE: z.string().optional(),
  MOMO_BASE_URL: urlVar(['http', 'https']).default('http://127.0.0.1:4020'),
  /** `sandbox` or `mtn<country>` (X-Target-Environment); a merchant's credential may override it. */
  MOMO_TARGET_ENVIRONMENT: z
    .string()
    .regex(/^(sandbox|mtn[a-z]+)$/, 'sandbox or mtn<country>')
    .default('mtnzambia'),
  MOMO_TIMEOUT_MS: positiveIntVar(10_000),
  /** References per page (one fenced commit each). */
  MOMO_PAGE_SIZE: positiveIntVar(50),
  /** Status lookups in flight per run. */
  MOMO_LOOKUP_CONCURRENCY: positiveIntVar(4),
  /** A reference MoMo still does not know this long after its creation becomes failed (not_found). */
  MOMO_NOT_FOUND_GRACE_MS: positiveIntVar(15 * 60_000),
  /** Refresh a token this long before it expires. */
  MOMO_TOKEN_REFRESH_BEFORE_MS: positiveIntVar(60_000),
  /** The app screen where the merchant regenerates the MoMo API key; `{accountId}` is replaced. */
  MOMO_REAUTH_URL: z.string().min(1).default('intellifin://wallets/momo/{accountId}/api-key'),
  /** Shared request budget for MoMo across every replica. */
  MOMO_RATE_PER_SECOND: positiveIntVar(200),
  MOMO_RATE_BURST: positiveIntVar(400),
});
export type MomoWorkerConfig = z.infer<typeof momoWorkerEnv>;

export function loadMomoWorkerConfig(env: Env = process.env): MomoWorkerConfig {
  return loadConfig(momoWorkerEnv, env);
}
