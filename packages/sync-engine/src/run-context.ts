import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The fence of the run the current async context belongs to. Adapters send it to providers as a
 * diagnostic header (`X-Request-Fence`), which lets the sandbox's request log prove that no two
 * runs fetched one account at the same time. Carried out of band so the provider port stays as is.
 */
const storage = new AsyncLocalStorage<{ fence: bigint }>();

export function runWithFence<T>(fence: bigint, fn: () => Promise<T>): Promise<T> {
  return storage.run({ fence }, fn);
}

/** The current run's fence as a decimal string, or undefined outside a run. */
export function currentRunFence(): string | undefined {
  return storage.getStore()?.fence.toString();
}
