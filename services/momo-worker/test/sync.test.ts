import { differences, DOCUMENTED_ROUTES, requestLog, startEnv, syncAll, type Env } from './helpers';

// Issue #11 acceptance against real NATS, Redis, Postgres and the MoMo simulator.
let env: Env;

beforeAll(async () => {
  env = await startEnv({ accounts: 300, referencesPerAccount: 3 });
  await env.startWorker();
  await env.startWorker({ workerId: 'test-b' });
});
afterAll(() => env.close());

const pendingCount = async () =>
  (await env.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM transactions WHERE status = 'pending'")).rows[0]!.n;

describe('momo-worker keeps 300 merchant wallets equal to the simulator', () => {
  it('registered references and balances end equal to the truth, through their lifecycles, with no undocumented route', async () => {
    let t = Date.now();
    const lap = (what: string) => {
      if (process.env.TEST_TIMINGS) console.log(what, Date.now() - t);
      t = Date.now();
    };
    const n = await env.registerAll();
    lap('register');
    expect(n).toBe(900);
    expect(await pendingCount()).toBe(900);
    await syncAll(env);
    lap('sync 1');
    expect(await differences(env)).toEqual([]);
    lap('compare');
    const before = await pendingCount();
    expect(before).toBeGreaterThan(0); // the minutes-old references are still in flight
    // Every in-flight reference reaches its final status within 2 hours (slow successes ≤ 60 min).
    await env.control('POST', '/clock/advance', { hours: 2 });
    await syncAll(env);
    lap('sync 2');
    expect(await differences(env)).toEqual([]);
    expect(await pendingCount()).toBe(0);
    const log = await requestLog(env);
    expect(log.filter((r) => !DOCUMENTED_ROUTES.has(`${r.method} ${r.route}`)).map((r) => `${r.method} ${r.path}`)).toEqual([]);
    // Tokens are cached in Redis across runs and both workers: one per credential and product, and
    // after the 2-hour jump (every token expired at MoMo) exactly one refresh each, on the first 401.
    const perKey = new Map<string, number>();
    for (const r of log)
      if (r.route.endsWith('/token/')) perKey.set(`${r.account}${r.route}`, (perKey.get(`${r.account}${r.route}`) ?? 0) + 1);
    expect(perKey.size).toBeGreaterThanOrEqual(300);
    expect([...perKey.values()].filter((n) => n > 2)).toEqual([]);
    expect(log.filter((r) => r.status === 401).length).toBeLessThanOrEqual(perKey.size);
  }, 150_000);
});
