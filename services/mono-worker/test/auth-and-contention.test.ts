import { listRuns } from '@intellifin/persistence';
import { quiesce, startEnv, waitFor, type Env } from './helpers';

const eventCount = async (env: Env, subject: string): Promise<number> => {
  const info = await env.jsm.streams.info(env.topology.streams.events.name, { subjects_filter: subject });
  return (info.state.subjects as Record<string, number> | undefined)?.[subject] ?? 0;
};
const requestsFor = async (env: Env, pid: string): Promise<number> => (await env.control<{ count: number }>('GET', `/requests?account=${pid}&limit=10000`)).count;

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

  it('busy lease: a command the running run covers is coalesced; one asking for more waits for the run and then runs', async () => {
    const pid = [...env.accounts.keys()][1]!;
    const id = env.accounts.get(pid)!;
    const key = `${env.redis.prefix}lease:acct:${id}`;
    const runsBefore = (await listRuns(env.db.pool, id, { limit: 500 })).length;

    await env.redis.redis.set(key, 'elsewhere|transactions|cached:run-1', 'PX', 1_500);
    await env.publish(pid, { trigger: 'scheduled' });
    await quiesce(env);
    expect((await listRuns(env.db.pool, id, { limit: 500 })).length).toBe(runsBefore);

    await env.redis.redis.set(key, 'elsewhere|transactions|cached:run-2', 'PX', 1_500);
    await env.publish(pid, { trigger: 'manual', realtime: true });
    await waitFor(() => env.settled.some((e) => e.subject.endsWith(id) && e.outcome === 'nak' && e.reason === 'lease_busy'), 'deferred');
    await quiesce(env);
    const runs = await listRuns(env.db.pool, id, { limit: 500 });
    expect(runs.length).toBe(runsBefore + 1);
    expect(runs[0]).toMatchObject({ trigger: 'manual', outcome: 'succeeded' });
  });

  it('a cancel request stops the run at the next page boundary: cancelled, cursor unchanged', async () => {
    const pid = [...env.accounts.keys()][2]!;
    const id = env.accounts.get(pid)!;
    // A full-history run (cursor reset): twelve rows, four pages of three.
    await env.db.pool.query(`UPDATE accounts SET cursor = '{}'::jsonb WHERE id = $1`, [id]);
    await env.control('POST', '/faults', { route: 'GET /v2/accounts/:id/transactions', account: pid, kind: 'latency', latencyMs: 400 });
    await env.publish(pid, { trigger: 'manual' });
    await waitFor(async () => (await env.db.pool.query(`SELECT 1 FROM sync_runs WHERE account_id = $1 AND outcome = 'running'`, [id])).rowCount === 1, 'run started');
    await env.db.pool.query('UPDATE accounts SET cancel_requested_at = now() WHERE id = $1', [id]);
    await quiesce(env);
    const [run] = await listRuns(env.db.pool, id, { limit: 1 });
    expect(run).toMatchObject({ outcome: 'cancelled' });
    expect(run!.pages).toBeGreaterThanOrEqual(1);
    expect(run!.pages).toBeLessThan(4);
    const acct = (await env.db.pool.query('SELECT cursor, cancel_requested_at, status FROM accounts WHERE id = $1', [id])).rows[0];
    // The cursor never advanced: the next run fetches the whole window again.
    expect(acct).toEqual({ cursor: { v: 1, kind: 'mono', highWaterDate: null, lastWindow: null }, cancel_requested_at: null, status: 'active' });
  });
});
