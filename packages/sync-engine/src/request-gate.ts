import { RetryableError } from '@intellifin/core';
import type { RateBudget } from '@intellifin/persistence';

/**
 * The per-provider request budget as an adapter sees it: `acquire()` before every provider request,
 * `pause(ms)` when the provider answered 429 with `Retry-After`. The budget lives in Redis
 * (`RateBudget`), so it and its pauses are shared by every replica of every worker.
 *
 * A short wait (≤ `maxWaitMs`) is slept through in-process; a longer one (a long `Retry-After`)
 * throws a `RetryableError` carrying the remaining wait, so the command is nak-ed for at least that
 * long instead of holding a worker slot.
 */
export interface RequestGate {
  acquire(signal?: AbortSignal): Promise<void>;
  pause(ms: number): Promise<void>;
}

export interface BudgetGateOptions {
  /** Longest wait slept through in-process. Default 5 s. */
  maxWaitMs?: number;
  /** Keep this many tokens in the bucket (background work leaves room for user-triggered syncs). */
  reserve?: number;
}

export function budgetGate(budget: RateBudget, provider: string, opts: BudgetGateOptions = {}): RequestGate {
  const maxWaitMs = opts.maxWaitMs ?? 5_000;
  return {
    async acquire(signal) {
      let waited = 0;
      for (;;) {
        signal?.throwIfAborted();
        const r = await budget.take(provider, opts.reserve ? { reserve: opts.reserve } : {});
        if (r.granted) return;
        if (waited + r.waitMs > maxWaitMs) {
          throw new RetryableError('rate_budget_exhausted', `${provider} request budget closed for ${r.waitMs} ms`, {
            retryAfterMs: r.waitMs,
          });
        }
        waited += r.waitMs;
        await sleep(r.waitMs, signal);
      }
    },
    pause: (ms) => budget.pause(provider, ms),
  };
}

/** A gate that never waits (unit tests of adapters, benchmarks without a budget). */
export const openGate: RequestGate = { acquire: async () => undefined, pause: async () => undefined };

/** Sleeps `ms`, rejecting with the signal's reason if it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason as Error);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
