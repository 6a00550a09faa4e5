import { createTestRedis, type TestRedis } from '@intellifin/testing';
import { RedisLeases } from '../src';

describe('RedisLeases', () => {
  let t: TestRedis;
  let leases: RedisLeases;
  beforeAll(() => {
    t = createTestRedis();
    leases = new RedisLeases(t.redis, { ttlMs: 5_000, keyPrefix: t.prefix, owner: 'w1' });
  });
  afterAll(() => t.cleanup());

  it('excludes a second holder until the first releases', async () => {
    const first = await leases.acquire('acct-1');
    expect(first).not.toBeNull();
    expect(await leases.acquire('acct-1')).toBeNull();
    expect(await leases.holder('acct-1')).toBe(first!.token);
    expect(await first!.release()).toBe(true);
    const second = await leases.acquire('acct-1');
    expect(second).not.toBeNull();
    expect(second!.token).not.toBe(first!.token);
    await second!.release();
  });

  it('is extended and released only by its owner', async () => {
    const owner = await leases.acquire('acct-2');
    // A stale holder (its lease expired and was re-taken) must not delete or extend the new lease.
    await t.redis.set(leases.keyFor('acct-2'), 'someone-else', 'PX', 5_000);
    expect(await owner!.extend()).toBe(false);
    expect(await owner!.release()).toBe(false);
    expect(await leases.holder('acct-2')).toBe('someone-else');
  });

  it('extend pushes the expiry out; an expired lease can be taken by another', async () => {
    const short = new RedisLeases(t.redis, { ttlMs: 200, keyPrefix: t.prefix });
    const lease = await short.acquire('acct-3');
    await t.redis.pexpire(short.keyFor('acct-3'), 50);
    expect(await lease!.extend()).toBe(true);
    expect(await t.redis.pttl(short.keyFor('acct-3'))).toBeGreaterThan(50);
    await t.redis.del(short.keyFor('acct-3')); // expiry, without waiting for it
    expect(await lease!.extend()).toBe(false);
    expect(await short.acquire('acct-3')).not.toBeNull();
  });
});
