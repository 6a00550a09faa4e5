import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AuthError, counter, METRIC_PREFIX, RetryableError, type Registry } from '@intellifin/core';
import { redisScript } from './redis-script';

/**
 * Provider access tokens (MoMo per product, Airtel) cached in Redis per credential and product,
 * shared by every replica (ARCHITECTURE §4: "Redis lease + rate budget + token cache").
 *
 * - A cached token is used until its refresh point (`expiresIn − refreshBeforeMs`, never earlier
 *   than half its life); after that the next caller refreshes it while others keep using it until
 *   it really expires.
 * - Only one refresh per credential and product is in flight across all replicas: a Redis lock
 *   (SET NX PX, compare-and-delete). The others wait for its result by watching the cached value;
 *   a failed refresh leaves a short-lived failure marker, so waiters fail with the same error instead
 *   of each asking the provider again (no thundering herd). Within one process, callers share one
 *   promise.
 * - `refreshAfterRejection(key, rejected)`: a business call answered 401 with `rejected`. The cached
 *   token is dropped only if it is still that one (compare-and-delete), then refreshed once: 50
 *   runs seeing the same 401 cause one token request.
 *
 * Keys never contain secrets: `<prefix>token:<provider>:<credentialId>:<product>`. Values hold the
 * bearer token (short-lived) and its expiry. Metric `intellifin_sync_token_refreshes_total{provider,
 * product, outcome}` counts token requests made by this process.
 */
export interface TokenKey {
  provider: string;
  credentialId: string;
  /** MoMo product (`collection`, `disbursement`); Airtel: `default`. */
  product: string;
}

export interface FreshToken {
  token: string;
  /** Lifetime from now, as the provider stated it. */
  expiresInMs: number;
}

export interface CachedToken {
  token: string;
  /** Epoch ms after which the token must not be used. */
  expiresAt: number;
}

/** Fetches a token from the provider (counted against its rate budget by the caller). */
export type TokenFetcher = (signal?: AbortSignal) => Promise<FreshToken>;

export interface TokenCacheOptions {
  keyPrefix?: string;
  /** Refresh this long before expiry (capped at half the token's life). Default 60 s. */
  refreshBeforeMs?: number;
  /** The refresh lock's TTL (longer than a token request can take). Default 20 s. */
  lockTtlMs?: number;
  /** How long a waiter waits for another replica's refresh. Default 25 s. */
  waitTimeoutMs?: number;
  /** Poll interval while waiting. Default 20 ms. */
  pollMs?: number;
  /** How long a failed refresh is remembered for waiters. Default 3 s. */
  failureTtlMs?: number;
  registry?: Registry;
  clock?: () => number;
}

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const DROP_IF = `local v = redis.call('get', KEYS[1])
if v and cjson.decode(v)['t'] == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`;

interface Stored {
  t: string;
  exp: number;
  ref: number;
}
interface StoredFailure {
  code: string;
  message: string;
  kind: 'auth' | 'retryable';
  at: number;
}

export class RedisTokenCache {
  private readonly o: Required<Omit<TokenCacheOptions, 'registry' | 'clock'>>;
  private readonly now: () => number;
  private readonly release: (...a: string[]) => Promise<unknown>;
  private readonly dropIf: (...a: string[]) => Promise<unknown>;
  private readonly inFlight = new Map<string, Promise<CachedToken>>();
  private readonly refreshes;

  constructor(
    private readonly redis: Redis,
    opts: TokenCacheOptions = {},
  ) {
    this.o = {
      keyPrefix: opts.keyPrefix ?? '',
      refreshBeforeMs: opts.refreshBeforeMs ?? 60_000,
      lockTtlMs: opts.lockTtlMs ?? 20_000,
      waitTimeoutMs: opts.waitTimeoutMs ?? 25_000,
      pollMs: opts.pollMs ?? 20,
      failureTtlMs: opts.failureTtlMs ?? 3_000,
    };
    this.now = opts.clock ?? Date.now;
    this.release = redisScript(redis, 'intellifinTokenRelease', RELEASE, 1);
    this.dropIf = redisScript(redis, 'intellifinTokenDropIf', DROP_IF, 1);
    this.refreshes = opts.registry
      ? counter(
          opts.registry,
          `${METRIC_PREFIX}token_refreshes_total`,
          'Provider token requests made by this process, by provider, product and outcome (ok, auth_failed, failed)',
          ['provider', 'product', 'outcome'],
        )
      : undefined;
  }

  private key(k: TokenKey): string {
    return `${this.o.keyPrefix}token:${k.provider}:${k.credentialId}:${k.product}`;
  }

  /** A usable token: the cached one, or one refresh shared by every caller and replica. */
  get(k: TokenKey, fetch: TokenFetcher, signal?: AbortSignal): Promise<CachedToken> {
    const key = this.key(k);
    const running = this.inFlight.get(key);
    if (running) return running;
    const p = this.obtain(k, key, fetch, signal).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  /**
   * The provider rejected `rejected` (401 on a business call): drop it if it is still the cached
   * token, then get a token again (one refresh across every replica).
   */
  async refreshAfterRejection(k: TokenKey, rejected: string, fetch: TokenFetcher, signal?: AbortSignal): Promise<CachedToken> {
    await this.dropIf(this.key(k), rejected);
    return this.get(k, fetch, signal);
  }

  /** Forgets the cached token (credentials replaced). */
  async invalidate(k: TokenKey): Promise<void> {
    await this.redis.del(this.key(k));
  }

  private async read(key: string): Promise<Stored | undefined> {
    const v = await this.redis.get(key);
    if (!v) return undefined;
    try {
      const s = JSON.parse(v) as Stored;
      return typeof s.t === 'string' && typeof s.exp === 'number' ? s : undefined;
    } catch {
      return undefined;
    }
  }

  private async obtain(k: TokenKey, key: string, fetch: TokenFetcher, signal?: AbortSignal): Promise<CachedToken> {
    const started = this.now();
    const deadline = started + this.o.waitTimeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      const cached = await this.read(key);
      const now = this.now();
      if (cached && now < cached.ref) return { token: cached.t, expiresAt: cached.exp };
      // A refresh that failed while we were waiting is our answer too (no second request).
      const failure = await this.readFailure(key);
      if (failure && failure.at >= started) throw revive(failure);
      const owner = randomBytes(12).toString('hex');
      const locked = await this.redis.set(`${key}:lock`, owner, 'PX', this.o.lockTtlMs, 'NX');
      if (locked === 'OK') return this.refreshHoldingLock(k, key, owner, fetch, signal);
      // Someone else refreshes. A token that is past its refresh point but not expired still works.
      if (cached && now < cached.exp) return { token: cached.t, expiresAt: cached.exp };
      if (now > deadline) {
        throw new RetryableError('token_refresh_wait_timeout', `waited ${this.o.waitTimeoutMs} ms for another ${k.provider} token refresh`);
      }
      await sleep(this.o.pollMs, signal);
    }
  }

  private async refreshHoldingLock(
    k: TokenKey,
    key: string,
    owner: string,
    fetch: TokenFetcher,
    signal?: AbortSignal,
  ): Promise<CachedToken> {
    try {
      // Another replica may have finished a refresh between our read and our lock.
      const cached = await this.read(key);
      if (cached && this.now() < cached.ref) return { token: cached.t, expiresAt: cached.exp };
      let fresh: FreshToken;
      try {
        fresh = await fetch(signal);
      } catch (err) {
        const auth = err instanceof AuthError;
        this.refreshes?.inc({ provider: k.provider, product: k.product, outcome: auth ? 'auth_failed' : 'failed' });
        if (!signal?.aborted) {
          const f: StoredFailure = {
            code: (err as { code?: string }).code ?? 'token_refresh_failed',
            message: err instanceof Error ? err.message : 'token refresh failed',
            kind: auth ? 'auth' : 'retryable',
            at: this.now(),
          };
          await this.redis.set(`${key}:fail`, JSON.stringify(f), 'PX', this.o.failureTtlMs);
        }
        throw err;
      }
      this.refreshes?.inc({ provider: k.provider, product: k.product, outcome: 'ok' });
      const obtained = this.now();
      const life = Math.max(1, fresh.expiresInMs);
      const exp = obtained + life;
      const ref = obtained + Math.max(life - this.o.refreshBeforeMs, Math.floor(life / 2));
      await this.redis.set(key, JSON.stringify({ t: fresh.token, exp, ref } satisfies Stored), 'PX', life);
      await this.redis.del(`${key}:fail`);
      return { token: fresh.token, expiresAt: exp };
    } finally {
      await this.release(`${key}:lock`, owner).catch(() => undefined);
    }
  }

  private async readFailure(key: string): Promise<StoredFailure | undefined> {
    const v = await this.redis.get(`${key}:fail`);
    if (!v) return undefined;
    try {
      return JSON.parse(v) as StoredFailure;
    } catch {
      return undefined;
    }
  }
}

function revive(f: StoredFailure): Error {
  return f.kind === 'auth' ? new AuthError(f.code, f.message) : new RetryableError(f.code, f.message);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
