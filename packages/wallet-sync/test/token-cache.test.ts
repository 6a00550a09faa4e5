import { Redis } from 'ioredis';
import { AuthError, Registry } from '@intellifin/core';
import { RedisTokenCache, type FreshToken, type TokenKey } from '@intellifin/persistence';
import { createTestRedis, infrastructureUrls, type TestRedis } from '@intellifin/testing';

// The shared token cache against real Redis; two caches on two connections stand for two replicas.
let r: TestRedis;
let other: Redis;
beforeAll(() => {
  r = createTestRedis();
  other = new Redis(infrastructureUrls().redisUrl);
});
afterAll(async () => {
  other.disconnect();
  await r.cleanup();
});

const key = (credentialId: string): TokenKey => ({ provider: 'momo', credentialId, product: 'collection' });

/** A provider token endpoint that counts its calls and answers after a pause. */
function endpoint(opts: { ttlMs?: number; fail?: () => Error | undefined } = {}) {
  let calls = 0;
  const fetch = async (): Promise<FreshToken> => {
    calls++;
    await new Promise((res) => setTimeout(res, 30));
    const err = opts.fail?.();
    if (err) throw err;
    return { token: `tok-${calls}`, expiresInMs: opts.ttlMs ?? 3_600_000 };
  };
  return { fetch, calls: () => calls };
}

describe('RedisTokenCache', () => {
  it('60 concurrent callers on two replicas make one token request and all get its token', async () => {
    const registry = new Registry();
    const a = new RedisTokenCache(r.redis, { keyPrefix: r.prefix, registry });
    const b = new RedisTokenCache(other, { keyPrefix: r.prefix });
    const ep = endpoint();
    const got = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).get(key('c1'), ep.fetch)));
    expect(ep.calls()).toBe(1);
    expect(new Set(got.map((t) => t.token))).toEqual(new Set(['tok-1']));
    const m = await registry.getSingleMetric('intellifin_sync_token_refreshes_total')!.get();
    expect(m.values.reduce((s, v) => s + v.value, 0)).toBeLessThanOrEqual(1);
  });

  it('a rejected token is dropped once and refreshed once, however many callers saw the 401', async () => {
    const a = new RedisTokenCache(r.redis, { keyPrefix: r.prefix });
    const b = new RedisTokenCache(other, { keyPrefix: r.prefix });
    const ep = endpoint();
    const first = await a.get(key('c2'), ep.fetch);
    const again = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).refreshAfterRejection(key('c2'), first.token, ep.fetch)),
    );
    expect(ep.calls()).toBe(2);
    expect(new Set(again.map((t) => t.token))).toEqual(new Set(['tok-2']));
    // A late 401 for the old token does not throw away the new one.
    await b.refreshAfterRejection(key('c2'), first.token, ep.fetch);
    expect(ep.calls()).toBe(2);
  });

  it('a refresh the provider refuses fails every waiter with the same AuthError, asked once', async () => {
    const a = new RedisTokenCache(r.redis, { keyPrefix: r.prefix });
    const b = new RedisTokenCache(other, { keyPrefix: r.prefix });
    const ep = endpoint({ fail: () => new AuthError('momo_credentials_rejected', 'rejected') });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).get(key('c3'), ep.fetch)));
    expect(results.every((x) => x.status === 'rejected' && x.reason instanceof AuthError)).toBe(true);
    expect(ep.calls()).toBe(1);
  });

  it('refreshes before expiry: past the refresh point the next caller gets a new token', async () => {
    const a = new RedisTokenCache(r.redis, { keyPrefix: r.prefix, refreshBeforeMs: 60_000 });
    const ep = endpoint({ ttlMs: 200 });
    expect((await a.get(key('c4'), ep.fetch)).token).toBe('tok-1');
    expect((await a.get(key('c4'), ep.fetch)).token).toBe('tok-1');
    await new Promise((res) => setTimeout(res, 150)); // past half the life
    expect((await a.get(key('c4'), ep.fetch)).token).toBe('tok-2');
    const keys = await r.redis.keys(`${r.prefix}token:*`);
    expect(keys.every((k) => !k.includes('tok-'))).toBe(true);
  });
});
