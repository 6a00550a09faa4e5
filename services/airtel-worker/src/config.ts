import { z } from 'zod';
import { databaseEnv, loadConfig, loggingEnv, natsEnv, portVar, positiveIntVar, redisEnv, urlVar, type Env } from '@intellifin/core';
import { connectionLimitsEnv } from '@intellifin/service-kit';
import { walletWorkerEnv } from '@intellifin/wallet-sync';

/** airtel-worker configuration from the environment (validated at start-up; secrets may come from `<NAME>_FILE`). */
export const airtelWorkerEnv = z.object({
  ...databaseEnv,
  ...redisEnv,
  ...natsEnv,
  ...loggingEnv,
  ...connectionLimitsEnv,
  ...walletWorkerEnv,
  HEALTH_PORT: portVar(9104),
  NATS_NAMESPACE: z.string().optional(),
  AIRTEL_BASE_URL: urlVar(['http', 'https']).default('http://127.0.0.1:4030'),
  AIRTEL_TIMEOUT_MS: positiveIntVar(10_000),
  /** References per page (one fenced commit each). */
  AIRTEL_PAGE_SIZE: positiveIntVar(50),
  /** Enquiries in flight per run. */
  AIRTEL_LOOKUP_CONCURRENCY: positiveIntVar(4),
  /** A reference Airtel still does not know this long after its creation becomes failed (not_found). */
  AIRTEL_NOT_FOUND_GRACE_MS: positiveIntVar(15 * 60_000),
  /** Refresh a token this long before it expires (UAT tokens live 180 s; capped at half a token's life). */
  AIRTEL_TOKEN_REFRESH_BEFORE_MS: positiveIntVar(30_000),
  /** The app screen where the merchant re-links Airtel Money; `{accountId}` is replaced. */
  AIRTEL_REAUTH_URL: z.string().min(1).default('intellifin://wallets/airtel/{accountId}/relink'),
  /** Shared request budget for Airtel across every replica (Airtel publishes no limit). */
  AIRTEL_RATE_PER_SECOND: positiveIntVar(100),
  AIRTEL_RATE_BURST: positiveIntVar(200),
});
export type AirtelWorkerConfig = z.infer<typeof airtelWorkerEnv>;

export function loadAirtelWorkerConfig(env: Env = process.env): AirtelWorkerConfig {
  return loadConfig(airtelWorkerEnv, env);
}
