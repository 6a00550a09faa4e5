import { Redis } from 'ioredis';
import { createTestRedis, infrastructureUrls, type TestRedis } from '@intellifin/testing';
import { RateBudget } from '../src';

describe('RateBudget', () => {
  let t: TestRedis;
  let other: Redis;
  beforeAll(() => {
    t = createTestRedis();
    other = new Redis(infrastructureUrls().redisUrl);
  });
  afterAll(async () => {
    other.disconnect();
    await t.cleanup();
  });

  it('grants the burst, then refuses with a wait derived from the rate, across replicas', async () => {
    const limits = { mono: { ratePerSecond: 0.5, burst: 3 } };
    const replicaA = new RateBudget(t.redis, limits, t.prefix);
    const replicaB = new RateBudget(other, limits, t.prefix);
    expect(await replicaA.take('mono')).toEqual({ granted: true });
    expect(await replicaB.take('mono')).toEqual({ granted: true });
    expect(await replicaA.take('mono')).toEqual({ granted: true });
    const denied = await replicaB.take('mono');
    expect(denied.granted).toBe(false);
    // One token refills in 2 s at 0.5/s; the wait must be positive and at most that.
    if (!denied.granted) expect(denied.waitMs).toBeGreaterThan(0);
    if (!denied.granted) expect(denied.waitMs).toBeLessThanOrEqual(2000);
  });

  it('keeps a reserve for user-triggered work', async () => {
    const budget = new RateBudget(t.redis, { momo: { ratePerSecond: 0.1, burst: 4 } }, t.prefix);
    expect((await budget.take('momo', { reserve: 2 })).granted).toBe(true);
    expect((await budget.take('momo', { reserve: 2 })).granted).toBe(true);
    expect((await budget.take('momo', { reserve: 2 })).granted).toBe(false); // scheduled work stops at the reserve
    expect((await budget.take('momo')).granted).toBe(true); // a manual sync still gets through
  });

  it('a pause (429 Retry-After) closes the budget for every replica and is never shortened', async () => {
    const limits = { airtel: { ratePerSecond: 100, burst: 100 } };
    const a = new RateBudget(t.redis, limits, t.prefix);
    const b = new RateBudget(other, limits, t.prefix);
    await a.pause('airtel', 30_000);
    await b.pause('airtel', 1_000);
    const res = await b.take('airtel');
    expect(res.granted).toBe(false);
    if (!res.granted) expect(res.waitMs).toBeGreaterThan(1_000);
    expect(await a.pausedFor('airtel')).toBeGreaterThan(1_000);
  });

  it('rejects a provider with no configured budget and invalid limits', async () => {
    const budget = new RateBudget(t.redis, {}, t.prefix);
    await expect(budget.take('nope')).rejects.toThrow(/no rate budget configured for provider nope/);
    expect(() => new RateBudget(t.redis, { mono: { ratePerSecond: 0, burst: 1 } })).toThrow(/ratePerSecond must be > 0/);
    const small = new RateBudget(t.redis, { mono: { ratePerSecond: 1, burst: 10 } }, t.prefix);
    await expect(small.take('mono', { cost: 8, reserve: 4 })).rejects.toThrow(/cost 8 \+ reserve 4 exceeds the burst of 10/);
  });
});
