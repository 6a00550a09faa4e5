import { z } from 'zod';
import { positiveIntVar } from '@intellifin/core';

/** Provider ingress and internal routes configuration (spread into `syncApiEnv`). */
export const ingressEnv = {
  /** Mono's `mono-webhook-secret` (the dashboard's webhook secret). Unset: every Mono webhook is refused (401). */
  MONO_WEBHOOK_SECRET: z.string().min(1).optional(),
  /** `token` query parameter of the callback URL given to MTN (X-Callback-Url). Unset: MoMo callbacks refused. */
  MOMO_CALLBACK_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** `token` query parameter of the callback URL configured in Airtel's portal. Unset: Airtel callbacks refused. */
  AIRTEL_CALLBACK_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** The webhook processor looks for due events this often (it is also woken by each stored webhook). */
  WEBHOOK_POLL_MS: positiveIntVar(1_000),
  /** Failed processing attempts before an event is `failed` (terminal, for an operator). */
  WEBHOOK_MAX_ATTEMPTS: positiveIntVar(8),
  /** Retry backoff: base × 2^(attempt−1), capped. Also paces retries of events for unknown accounts. */
  WEBHOOK_RETRY_BASE_MS: positiveIntVar(2_000),
  WEBHOOK_RETRY_MAX_MS: positiveIntVar(600_000),
  /** An event naming an account the database does not know is retried this long, then `unmatched`. */
  WEBHOOK_UNKNOWN_ACCOUNT_TTL_MS: positiveIntVar(7 * 24 * 3_600_000),
  /** A Mono event without an id, identical to one processed longer ago than this, is a new occurrence. */
  WEBHOOK_REARM_AFTER_MS: positiveIntVar(24 * 3_600_000),
  /** Most accounts one org-wide background request queues. */
  BACKGROUND_MAX_ACCOUNTS: positiveIntVar(1_000),
};
