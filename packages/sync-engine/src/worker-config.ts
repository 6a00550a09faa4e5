import { positiveIntVar } from '@intellifin/core';
import type { SyncWorkerOptions } from './worker';

/**
 * The environment every provider worker shares (spread into its zod schema), so the lanes, the lease
 * and the bounds of a run are set the same way for mono-, momo- and airtel-worker.
 */
export const syncWorkerEnv = {
  /** Runs at once on the bulk (scheduled) lane. */
  WORKER_CONCURRENCY: positiveIntVar(8),
  /** Runs at once on the priority lane (manual "Sync now", provider webhooks). */
  PRIORITY_CONCURRENCY: positiveIntVar(2),
  /** Lease TTL; keep it ≤ the consumer's AckWait (60 s). */
  LEASE_TTL_MS: positiveIntVar(48_000),
  /** The longest one run may take before it is aborted and its command handed back. */
  MAX_RUN_MS: positiveIntVar(600_000),
  SHUTDOWN_DEADLINE_MS: positiveIntVar(10_000),
};

export interface SyncWorkerEnv {
  WORKER_CONCURRENCY: number;
  PRIORITY_CONCURRENCY: number;
  LEASE_TTL_MS: number;
  MAX_RUN_MS: number;
}

/** The worker options those variables set. */
export function syncWorkerSettings(
  c: SyncWorkerEnv,
): Pick<SyncWorkerOptions, 'concurrency' | 'priorityConcurrency' | 'leaseTtlMs' | 'maxRunMs'> {
  return {
    concurrency: c.WORKER_CONCURRENCY,
    priorityConcurrency: c.PRIORITY_CONCURRENCY,
    leaseTtlMs: c.LEASE_TTL_MS,
    maxRunMs: c.MAX_RUN_MS,
  };
}
