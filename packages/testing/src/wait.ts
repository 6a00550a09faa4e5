/**
 * Polls `fn` until it returns something truthy and returns that. The time limit only guards
 * against a hung test (it is never an assertion about speed): when it runs out, the test fails
 * naming what it was waiting for.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 45_000, pollMs = 25): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
