import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redisScript } from './redis-script';

/**
 * The per-account lease in Redis: `SET key token NX PX ttl`, extended and released only by the
 * holder of the token (Lua compare-and-pexpire / compare-and-delete). It saves work — two workers
 * don't fetch one account at once — but correctness comes from the Postgres fence: a lease can
 * expire under a paused holder, and the fence rejects that holder's late writes.
 */
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export interface Lease {
  readonly key: string;
  readonly token: string;
  /** Pushes the expiry out by the TTL; false if the lease was lost (expired or taken over). */
  extend(): Promise<boolean>;
  /** Deletes the lease if still ours; false if it was not (nothing is deleted then). */
  release(): Promise<boolean>;
}

export interface LeaseOptions {
  ttlMs: number;
  /** Prepended to every key (tests isolate with a unique prefix). */
  keyPrefix?: string;
  /** Identifies the holder in the token, for debugging (`<owner>:<uuid>`). */
  owner?: string;
}

export class RedisLeases {
  private readonly extendScript: (...keysAndArgs: string[]) => Promise<unknown>;
  private readonly releaseScript: (...keysAndArgs: string[]) => Promise<unknown>;

  constructor(
    private readonly redis: Redis,
    private readonly opts: LeaseOptions,
  ) {
    this.extendScript = redisScript(redis, 'intellifinLeaseExtend', EXTEND, 1);
    this.releaseScript = redisScript(redis, 'intellifinLeaseRelease', RELEASE, 1);
  }

  keyFor(accountId: string): string {
    return `${this.opts.keyPrefix ?? ''}lease:acct:${accountId}`;
  }

  /** Takes the account's lease, or returns null when another holder has it. */
  async acquire(accountId: string): Promise<Lease | null> {
    const key = this.keyFor(accountId);
    const token = `${this.opts.owner ?? 'worker'}:${randomUUID()}`;
    const ok = await this.redis.set(key, token, 'PX', this.opts.ttlMs, 'NX');
    if (ok !== 'OK') return null;
    const { extendScript, releaseScript } = this;
    const ttl = String(this.opts.ttlMs);
    return {
      key,
      token,
      extend: async () => (await extendScript(key, token, ttl)) === 1,
      release: async () => (await releaseScript(key, token)) === 1,
    };
  }

  /** The current holder's token (for diagnostics), or null. */
  holder(accountId: string): Promise<string | null> {
    return this.redis.get(this.keyFor(accountId));
  }
}
