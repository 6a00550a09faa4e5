import { createPayout, differences, requestLog, startEnv, syncAll, WORKER_ROUTES, type Env } from './helpers';

// Issue #11 acceptance against real NATS, Redis, Postgres and the Airtel simulator: 300 merchant
// wallets (collections TIP/TA → TS/TF/TE, and payouts) end equal to the simulator's truth.
let env: Env;

beforeAll(async () => {
  env = await startEnv({ accounts: Number(process.env.AIRTEL_TEST_ACCOUNTS ?? 300), referencesPerAccount: 3 });
  await env.startWorker();
  await env.startWorker({ workerId: 'test-b' });
});
afterAll(() => env.close());

const pendingCount = async () =>
  (await env.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM transactions WHERE status = 'pending'")).rows[0]!.n;

describe('airtel-worker keeps 300 merchant wallets equal to the simulator', () => {
  it('references (status, amount, airtel_money_id, reason) and balances end equal to the truth, with no undocumented route', async () => {
    const started = Date.now();
    let t = Date.now();
    const lap = (what: string) => {
      if (process.env.TEST_TIMINGS) console.log(what, Date.now() - t);
      t = Date.now();
    };
    // Payouts on 20 accounts (the simulator settles them at once, TS or TF DP00900001007 when funds are short).
    for (const [k, a] of env.sim.slice(0, 20).entries()) await createPayout(env, a, `PAYOUT${k}X`, k === 0 ? 10_000_000 : 25);
    await env.control('DELETE', '/requests');
    const n = await env.registerAll();
    expect(n).toBe(env.sim.length * 3 + 20);
    expect(await pendingCount()).toBe(n);
    lap('register');
    await syncAll(env);
    lap('sync 1');
    expect(await differences(env)).toEqual([]);
    const before = await pendingCount();
    expect(before).toBeGreaterThan(0); // the minutes-old collections are still TIP/TA
    // Every in-flight reference reaches its final status within 2 hours (ambiguous ones ≤ 32 min, slow ≤ 60 min).
    await env.control('POST', '/clock/advance', { hours: 2 });
    await syncAll(env);
    lap('sync 2');
    expect(await differences(env)).toEqual([]);
    expect(await pendingCount()).toBe(0);
    const { rows } = await env.db.pool.query<{ status: string; reason: string | null; n: number }>(
      `SELECT status, raw->>'reason' AS reason, count(*)::int AS n FROM transactions GROUP BY 1, 2`,
    );
    expect(rows.some((r) => r.status === 'failed' && r.reason === 'DP00800001029')).toBe(true); // TE
    expect(rows.some((r) => r.status === 'failed' && r.reason === 'DP00900001007')).toBe(true); // payout short of funds
    const log = await requestLog(env);
    expect(log.filter((r) => !WORKER_ROUTES.has(`${r.method} ${r.route}`)).map((r) => `${r.method} ${r.path}`)).toEqual([]);
    expect(log.some((r) => r.route === '/standard/v1/disbursements/:id')).toBe(true);
    // A cached token is refreshed 120 s into its 180 s life (real clock) and once after the 2 h jump:
    // at most two per credential, plus one per 120 s the test itself took (a loaded machine is slow).
    const refreshes = 2 + Math.floor((Date.now() - started) / 120_000);
    expect(log.filter((r) => r.route === '/auth/oauth2/token').length).toBeLessThanOrEqual(env.sim.length * refreshes);
  }, 120_000);
});
