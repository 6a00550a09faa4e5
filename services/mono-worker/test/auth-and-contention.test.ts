import { listRuns } from '@intellifin/persistence';
import { quiesce, requestLog, startEnv, waitFor, type Env } from './helpers';

const eventCount = async (env: Env, subject: string): Promise<number> => {
  const info = await env.jsm.streams.info(env.topology.streams.events.name, { subjects_filter: subject });
  return (info.state.subjects as Record<string, number> | undefined)?.[subject] ?? 0;
};
const requestsFor = async (env: Env, pid: string): Promise<number> =>
  (await env.control<{ count: number }>('GET', `/requests?account=${pid}&limit=10000`)).count;

describe('revoked consent, busy leases and cancellation', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv({ accounts: 6, transactionsPerAccount: 12 });
    await env.startWorker({ mono: { baseUrl: env.mono.url, secretKey: 'test_sk_sandbox_mono', timeoutMs: 1_500, pageSize: 3 } });
    for (const pid of env.accounts.keys()) await env.publish(pid);
    await quiesce(env);
  });
  afterAll(async () => env?.close());

  it('revoked consent → auth_required with the re-link URL, one auth event, no provider calls on schedule; repair + trigger → active', async () => {
    const pid = [...env.accounts.keys()][0]!;
    const id = env.accounts.get(pid)!;
    await env.control('POST', `/accounts/${pid}/revoke`, { mode: 'reauth' });
    await env.publish(pid, { trigger: 'manual', realtime: true });
    await quiesce(env);
    const acct = (await env.db.pool.query('SELECT status, reauth_url, last_error_code FROM accounts WHERE id = $1', [id])).rows[0];
    expect(acct).toMatchObject({ status: 'auth_required', last_error_code: 'REAUTHORISATION_REQUIRED' });
    expect(acct.reauth_url).toMatch(new RegExp(`^${env.mono.url}/__sandbox/link/`));
    const authSubject = env.topology.eventSubject('auth', 'mono', id);
    expect(await eventCount(env, authSubject)).toBe(1);
    expect(env.settled.filter((e) => e.subject.endsWith(id)).at(-1)).toMatchObject({ outcome: 'ack' });

    // Timers leave it alone: no provider call, no second event.
    const calls = await requestsFor(env, pid);
    await env.publish(pid, { trigger: 'scheduled' });
    await env.publish(pid, { trigger: 'stale' });
    await quiesce(env);
    expect(await requestsFor(env, pid)).toBe(calls);
    expect(await eventCount(env, authSubject)).toBe(1);

    // The user re-links; a manual sync (a new real-time session, > 5 min later) makes it active again.
    await env.control('POST', `/accounts/${pid}/repair`);
    await env.control('POST', '/clock/advance', { minutes: 6 });
    await env.publish(pid, { trigger: 'manual', realtime: true });
    await quiesce(env);
    const again = (await env.db.pool.query('SELECT status, reauth_url FROM accounts WHERE id = $1', [id])).rows[0];
    expect(again).toEqual({ status: 'active', reauth_url: null });
    expect(await eventCount(env, authSubject)).toBe(2); // reauth_required, then repaired
  });

  it("a revoked account is not repaired by reading Mono's frozen snapshot: only working consent makes it active", async () => {
    const pid = [...env.accounts.keys()][3]!;
    const id = env.accounts.get(pid)!;
    const authSubject = env.topology.eventSubject('auth', 'mono', id);
    const account = async () =>
      (await env.db.pool.query('SELECT status, reauth_url, last_error_code, last_success_at FROM accounts WHERE id = $1', [id])).rows[0];
    const txCalls = async () => (await requestLog(env, pid)).filter((r) => r.route === '/v2/accounts/:id/transactions').length;
    await env.control('POST', `/accounts/${pid}/revoke`, { mode: 'reauth' });
    await env.publish(pid, { trigger: 'manual', realtime: true });
    await quiesce(env);
    const revoked = await account();
    expect(revoked).toMatchObject({ status: 'auth_required', last_error_code: 'REAUTHORISATION_REQUIRED' });
    expect(await eventCount(env, authSubject)).toBe(1);

    // A manual sync without real-time, right away: Mono still serves the statement frozen at the
    // revocation, and the legacy sync (its limit: one per 2 minutes) cannot confirm consent. The
    // run reads the cached rows and succeeds, but the account still needs re-linking.
    await env.publish(pid, { trigger: 'manual' });
    await quiesce(env);
    const [cached] = await listRuns(env.db.pool, id, { limit: 1 });
    expect(cached).toMatchObject({ trigger: 'manual', outcome: 'succeeded' });
    expect(await account()).toEqual(revoked);
    expect(await eventCount(env, authSubject)).toBe(1);
    // The legacy route's per-account 429 did not close the Mono budget for everyone.
    expect(await env.redis.redis.pttl(`${env.redis.prefix}ratebudget:mono:paused`)).toBeLessThan(0);

    // A webhook trigger later: the legacy sync answers REAUTHORISATION_REQUIRED, so nothing is read.
    await env.control('POST', '/clock/advance', { minutes: 3 });
    const before = await txCalls();
    await env.publish(pid, { trigger: 'webhook' });
    await quiesce(env);
    const [probed] = await listRuns(env.db.pool, id, { limit: 1 });
    expect(probed).toMatchObject({ trigger: 'webhook', outcome: 'failed', errorKind: 'auth', errorCode: 'REAUTHORISATION_REQUIRED' });
    expect(await txCalls()).toBe(before);
    expect((await account()).status).toBe('auth_required');
    expect(await eventCount(env, authSubject)).toBe(1);

    // The user re-links (Mono sends account_reauthorized): the webhook trigger's consent check
    // succeeds and the account is active again, with one `repaired` event.
    await env.control('POST', `/accounts/${pid}/repair`);
    await env.control('POST', '/clock/advance', { minutes: 3 });
    await env.publish(pid, { trigger: 'webhook' });
    await quiesce(env);
    expect(await account()).toMatchObject({ status: 'active', reauth_url: null, last_error_code: null });
    expect(await eventCount(env, authSubject)).toBe(2);
  });

  it('busy lease with no run left to honour a re-run (a holder that is gone): the command waits with naks, then runs', async () => {
    // (A busy lease whose run is in flight records a re-run that run honours: engine-hardening.test.ts.)
    const pid = [...env.accounts.keys()][1]!;
    const id = env.accounts.get(pid)!;
    const key = `${env.redis.prefix}lease:acct:${id}`;
    const runsBefore = (await listRuns(env.db.pool, id, { limit: 500 })).length;

    await env.redis.redis.set(key, 'elsewhere:run-2', 'PX', 1_500);
    await env.publish(pid, { trigger: 'manual' });
    await waitFor(() => env.settled.some((e) => e.subject.endsWith(id) && e.outcome === 'nak' && e.reason === 'lease_busy'), 'deferred');
    await quiesce(env);
    const runs = await listRuns(env.db.pool, id, { limit: 500 });
    expect(runs.length).toBe(runsBefore + 1);
    expect(runs[0]).toMatchObject({ trigger: 'manual', outcome: 'succeeded' });
    // The re-run request the busy path recorded was satisfied by that run, not left behind.
    expect((await env.db.pool.query('SELECT rerun_requested_at FROM accounts WHERE id = $1', [id])).rows[0].rerun_requested_at).toBeNull();
  });

  it('a cancel request stops the run at the next page boundary: cancelled, cursor unchanged', async () => {
    const pid = [...env.accounts.keys()][2]!;
    const id = env.accounts.get(pid)!;
    // A full-history run (cursor reset): twelve rows, four pages of three.
    await env.db.pool.query(`UPDATE accounts SET cursor = '{}'::jsonb WHERE id = $1`, [id]);
    await env.control('POST', '/faults', { route: 'GET /v2/accounts/:id/transactions', account: pid, kind: 'latency', latencyMs: 400 });
    await env.publish(pid, { trigger: 'manual' });
    await waitFor(
      async () => (await env.db.pool.query(`SELECT 1 FROM sync_runs WHERE account_id = $1 AND outcome = 'running'`, [id])).rowCount === 1,
      'run started',
    );
    await env.db.pool.query('UPDATE accounts SET cancel_requested_at = now() WHERE id = $1', [id]);
    await quiesce(env);
    const [run] = await listRuns(env.db.pool, id, { limit: 1 });
    expect(run).toMatchObject({ outcome: 'cancelled' });
    expect(run!.pages).toBeGreaterThanOrEqual(1);
    expect(run!.pages).toBeLessThan(4);
    const acct = (await env.db.pool.query('SELECT cursor, cancel_requested_at, status FROM accounts WHERE id = $1', [id])).rows[0];
    // The cursor never advanced: the next run fetches the whole window again.
    expect(acct).toEqual({
      cursor: { v: 1, kind: 'mono', highWaterDate: null, lastWindow: null },
      cancel_requested_at: null,
      status: 'active',
    });
  });
});
