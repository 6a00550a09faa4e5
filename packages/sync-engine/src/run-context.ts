import { AsyncLocalStorage } from 'node:async_hooks';
import type { RunRequestLog } from './request-log';

/**
 * The run the current async context belongs to: its fence, and the log of the provider requests it
 * makes. Adapters send the fence to providers as a diagnostic header (`X-Request-Fence`), which lets
 * the sandbox's request log prove that no two runs fetched one account at the same time; the
 * request observer (`providerRequestObserver`) adds each request to the run's log. Carried out of
 * band so the provider port stays as is.
 */
const storage = new AsyncLocalStorage<{ fence: bigint; requests?: RunRequestLog }>();

export function runWithFence<T>(fence: bigint, fn: () => Promise<T>, requests?: RunRequestLog): Promise<T> {
  return storage.run(requests ? { fence, requests } : { fence }, fn);
}

/** The current run's fence as a decimal string, or undefined outside a run. */
export function currentRunFence(): string | undefined {
  return storage.getStore()?.fence.toString();
}

/** The current run's request log, or undefined outside a run. */
export function currentRunRequests(): RunRequestLog | undefined {
  return storage.getStore()?.requests;
}
