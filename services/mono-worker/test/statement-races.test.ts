import { listRuns } from '@intellifin/persistence';
import { quiesce, requestLog, startEnv, stored, waitFor, type Env } from './helpers';
import { finalDifferences } from './truth';

/**
 * Issue #10, a run's pages and Mono's state racing each other (found by the mixed acceptance run):
 * - a pending row written by a page of a run that then failed must stay under watch, so that a
 *   release before the next complete read still turns it `removed`;
 * - an empty first page read while the data was PROCESSING must not be believed because Mono says
 *   AVAILABLE by the time it is asked: the history would be skipped for good.
 */
describe('Mono statement races', () => {
  let env: Env;
  let pids: string[];
  beforeAll(async () => {
    env = await startEnv({ accounts: 3, transactionsPerAccount: 120 });
    // No seeded holds: the only pending row is the test's own.
    await env.control('POST', '/reset', { pendingPercent: 0 });
    pids = [...env.accounts.keys()];
    await env.startWorker({ mono: { baseUrl: env.mono.url, secretKey: 'test_sk_sandbox_mono', timeoutMs: 5_000, pageSize: 3 } });
  });
  afterAll(async () => env?.close());

  const runsOf = async (pid: string) => (await listRuns(env.db.pool, env.accounts.get(pid)!, { limit: 100 })).reverse();

  it('a hold written by a run that failed on a later page is watched: released before the next read, it becomes removed', async () => {
    const pid = pids[0]!;
    await env.publish(pid);
    await quiesce(env);
    const now = Date.parse((await env.control<{ now: string }>('GET', '/clock')).now);
    const hold = (
      await env.control<any>('POST', `/accounts/${pid}/transactions`, {
        amount: 7_300_00,
        type: 'debit',
        narration: 'POS PURCHASE GAME ADENIRAN',
        pendingNarration: 'POS AUTH GAME ADENIRAN',
        date: new Date(now - 3_600_000).toISOString(),
        pendingUntil: new Date(now + 10 * 86_400_000).toISOString(),
        sync: true,
      })
    ).transaction.id as string;
    // Page 1 brings the hold (pending); before page 2 is answered the hold is released, and page 2 is null.
    await env.control('POST', `/accounts/${pid}/page-faults`, { page: 2, kind: ['remove', 'null'] });
    await env.publish(pid);
    await quiesce(env);
    const runs = await runsOf(pid);
    expect(runs.slice(1).map((r) => r.errorCode ?? r.outcome)).toEqual(['mono_page_missing', 'succeeded']);
    // The retry's complete read no longer sees the hold; its date is on the window's edge day, so a
    // later run (a day on) decides: the hold must still be watched then.
    await env.control('POST', '/clock/advance', { days: 1 });
    await env.publish(pid);
    await quiesce(env);
    expect((await stored(env)).get(pid)!.get(hold)).toMatchObject({ status: 'removed' });
    expect(await finalDifferences(env, new Set([pid]))).toEqual([]);
  });

  it('an empty page read while PROCESSING is not believed when Mono says AVAILABLE right after: the history is read', async () => {
    const pid = pids[1]!;
    await env.control('POST', `/accounts/${pid}/data-status`, { data_status: 'PROCESSING', notify: false });
    // The data-status question waits 1.5 s at Mono; meanwhile the statement becomes AVAILABLE.
    await env.control('POST', '/faults', { route: 'GET /v2/accounts/:id', account: pid, kind: 'latency', latencyMs: 1_500 });
    await env.publish(pid, { trigger: 'webhook', mode: 'full' });
    await waitFor(
      async () => (await requestLog(env, pid)).some((r) => r.route === '/v2/accounts/:id/transactions'),
      'the first read',
      10_000,
      10,
    );
    await env.control('POST', `/accounts/${pid}/data-status`, { data_status: 'AVAILABLE', notify: false });
    await quiesce(env);
    const log = (await requestLog(env, pid)).filter((r) => r.fence === '1').map((r) => r.route);
    // The race happened: one run read an empty statement, then asked for the data status.
    expect(log.slice(0, 2)).toEqual(['/v2/accounts/:id/transactions', '/v2/accounts/:id']);
    const runs = await runsOf(pid);
    expect(runs[0]).toMatchObject({ outcome: 'succeeded' });
    expect(runs[0]!.added).toBeGreaterThan(50);
    expect(await finalDifferences(env, new Set([pid]))).toEqual([]);
  });
});
