import type { Redis } from 'ioredis';

/**
 * Per-account limit of manual syncs, shared by every replica through Redis: one per interval.
 * `take` claims the slot atomically (SET NX PX) or tells when the next one opens; `release`
 * gives a claimed slot back when the request did not queue anything after all.
 */
export class ManualSyncLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly intervalMs: number,
    private readonly keyPrefix = '',
  ) {}

  private key(accountId: string): string {
    return `${this.keyPrefix}sync-api:manual:${accountId}`;
  }

  /** Claims the account's slot: `{ ok: true }`, or `{ ok: false, retryAfterMs }` until it opens again. */
  async take(accountId: string, token: string): Promise<{ ok: true } | { ok: false; retryAfterMs: number }> {
    const key = this.key(accountId);
    const set = await this.redis.set(key, token, 'PX', this.intervalMs, 'NX');
    if (set === 'OK') return { ok: true };
    const ttl = await this.redis.pttl(key);
    // A key that expired between the two commands: the slot is open, but report a short wait rather than race.
    return { ok: false, retryAfterMs: ttl > 0 ? ttl : 1 };
  }

  /** Gives the slot back if this token still holds it. */
  async release(accountId: string, token: string): Promise<void> {
    await this.redis.eval(
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
      1,
      this.key(accountId),
      token,
    );
  }

  /** Milliseconds until each account's next manual sync is allowed (0 = now). */
  async waits(accountIds: readonly string[]): Promise<number[]> {
    if (accountIds.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of accountIds) pipe.pttl(this.key(id));
    const res = (await pipe.exec()) ?? [];
    return accountIds.map((_, i) => {
      const [err, ttl] = res[i] ?? [null, -2];
      return err || typeof ttl !== 'number' || ttl < 0 ? 0 : ttl;
    });
  }
}
