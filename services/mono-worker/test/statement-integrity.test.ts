import { listRuns } from '@intellifin/persistence';
import { quiesce, startEnv, stored, waitFor, SECRET, type Env } from './helpers';
import { finalDifferences } from './truth';

/**
 * Issue #10: no Mono row is ever lost, whatever the statement does during and between runs. Real
 * NATS, Redis and Postgres; the Mono simulator's opt-in behaviours armed per account.
 */
describe('Mono statement integrity', () => {
  let env: Env;
  let pids: string[];
  beforeAll(async () => {
    env = await startEnv({ accounts: 10, transactionsPerAccount: 160 });
    pids = [...env.accounts.keys()];
    await env.startWorker();
  });
  afterAll(async () => env?.close());

  const cursorOf = async (pid: string) =>
    (await env.db.pool.query('SELECT cursor FROM accounts WHERE id = $1', [env.accounts.get(pid)])).rows[0].cursor;
  const runsOf = async (pid: string) => listRuns(env.db.pool, env.accounts.get(pid)!, { limit: 100 });
  const equalsTruth = async (pid: string) => expect(await finalDifferences(env, new Set([pid]))).toEqual([]);

  it('data not ready (PROCESSING, then PARTIAL): no run succeeds and the cursor stays null; AVAILABLE + webhook trigger brings the whole history', async () => {
    const pid = pids[0]!;
    await env.control('POST', `/accounts/${pid}/data-status`, { data_status: 'PROCESSING', notify: false });
    await env.publish(pid, { trigger: 'scheduled', mode: 'full' });
    await waitFor(async () => (await runsOf(pid)).some((r) => r.errorCode === 'not_ready'), 'a not-ready run');
    await env.control('POST', `/accounts/${pid}/data-status`, { data_status: 'PARTIAL', notify: false });
    await waitFor(async () => (await runsOf(pid)).filter((r) => r.errorCode === 'not_ready').length >= 2, 'a second not-ready run');
    expect((await runsOf(pid)).some((r) => r.outcome === 'succeeded')).toBe(false);
    expect((await cursorOf(pid))?.highWaterDate ?? null).toBeNull();
    expect((await stored(env)).get(pid)!.size).toBe(0);

    await env.control('POST', `/accounts/${pid}/data-status`, { data_status: 'AVAILABLE' });
    await env.publish(pid, { trigger: 'webhook', mode: 'full' });
    await quiesce(env);
    await waitFor(async () => (await runsOf(pid)).some((r) => r.outcome === 'succeeded'), 'a succeeded run');
    expect((await cursorOf(pid)).highWaterDate).toBe('2026-03-02');
    expect((await stored(env)).get(pid)!.size).toBeGreaterThan(100);
    await equalsTruth(pid);
  });

  it.each([
    ['null', 1],
    ['empty', 2],
  ] as const)(
    'a %s page where more rows are promised fails the run (retryable, cursor unchanged); the retry reads everything',
    async (kind, i) => {
      const pid = pids[i]!;
      await env.control('POST', `/accounts/${pid}/page-faults`, { page: 2, kind });
      await env.publish(pid);
      await quiesce(env);
      const runs = await runsOf(pid);
      const failed = runs.filter((r) => r.errorCode === 'mono_page_missing');
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ outcome: 'failed', errorKind: 'retryable' });
      expect(runs[0]).toMatchObject({ outcome: 'succeeded' });
      await equalsTruth(pid);
    },
  );

  it.each([
    ['insert', 'inserted', 3],
    ['remove', 'released (a pending hold)', 4],
  ] as const)(
    '%s: a row %s between page requests is detected; the window is re-read unpaged and nothing is lost',
    async (kind, _label, i) => {
      const pid = pids[i]!;
      if (kind === 'remove') {
        const now = Date.parse((await env.control<{ now: string }>('GET', '/clock')).now);
        await env.control('POST', `/accounts/${pid}/transactions`, {
          amount: 1_200_00,
          type: 'debit',
          narration: 'WEB PURCHASE JUMIA',
          pendingNarration: 'WEB AUTH JUMIA',
          date: new Date(now - 2 * 3_600_000).toISOString(),
          pendingUntil: new Date(now + 86_400_000).toISOString(),
          sync: true,
        });
      }
      const before = new Set((await env.control<any>('GET', `/truth/${pid}`)).transactions.map((t: { id: string }) => t.id));
      await env.control('POST', `/accounts/${pid}/page-faults`, { page: 2, kind });
      await env.publish(pid);
      await quiesce(env);
      const runs = await runsOf(pid);
      expect(runs.map((r) => r.outcome)).toEqual(['succeeded']);
      const truth = (await env.control<any>('GET', `/truth/${pid}`)).transactions as { id: string; finalStatus: string }[];
      if (kind === 'insert') {
        const inserted = truth.filter((t) => !before.has(t.id));
        expect(inserted).toHaveLength(1);
        expect((await stored(env)).get(pid)!.get(inserted[0]!.id)).toBeDefined();
      } else {
        const released = truth.filter((t) => t.finalStatus === 'removed');
        expect(released).toHaveLength(1);
        expect((await stored(env)).get(pid)!.get(released[0]!.id)?.status ?? 'removed').toBe('removed');
      }
      await equalsTruth(pid);
    },
  );

  it('pending rows are watched past the overlap: a hold posting 10 days later is posted, a released one becomes removed (a modification)', async () => {
    const pid = pids[5]!;
    const now = Date.parse((await env.control<{ now: string }>('GET', '/clock')).now);
    const hold = async (narration: string) =>
      (
        await env.control<any>('POST', `/accounts/${pid}/transactions`, {
          amount: 4_500_00,
          type: 'debit',
          narration: `POS PURCHASE ${narration}`,
          pendingNarration: `POS AUTH ${narration}`,
          date: new Date(now - 3_600_000).toISOString(),
          pendingUntil: new Date(now + 10 * 86_400_000).toISOString(),
          sync: true,
        })
      ).transaction.id as string;
    const posts = await hold('SHOPRITE');
    const released = await hold('SPAR');
    await env.publish(pid);
    await quiesce(env);
    expect((await stored(env)).get(pid)!.get(posts)!.status).toBe('pending');
    expect((await cursorOf(pid)).pending.map((p: { id: string }) => p.id)).toEqual(expect.arrayContaining([posts, released]));

    await env.control('POST', `/accounts/${pid}/holds/release`, { id: released });
    for (let day = 0; day < 11; day++) {
      await env.control('POST', '/clock/advance', { days: 1 });
      await env.control('POST', `/accounts/${pid}/sync`);
      await env.publish(pid);
      await quiesce(env);
    }
    const mine = (await stored(env)).get(pid)!;
    expect(mine.get(posts)).toMatchObject({ status: 'posted', narration: 'POS PURCHASE SHOPRITE' });
    expect(mine.get(released)).toMatchObject({ status: 'removed' });
    expect((await runsOf(pid)).every((r) => r.outcome === 'succeeded')).toBe(true);
    const cursor = await cursorOf(pid);
    expect((cursor.pending ?? []).map((p: { id: string }) => p.id)).not.toContain(posts);
    await equalsTruth(pid);
  });

  it('an account unlinked through POST /v2/accounts/:id/unlink is disabled (unlinked), keeps its data and is not retried', async () => {
    const pid = pids[6]!;
    await env.publish(pid);
    await quiesce(env);
    const kept = (await stored(env)).get(pid)!.size;
    expect(kept).toBeGreaterThan(0);
    const res = await fetch(`${env.mono.url}/v2/accounts/${pid}/unlink`, { method: 'POST', headers: { 'mono-sec-key': SECRET } });
    expect(res.status).toBe(200);
    await env.publish(pid, { trigger: 'webhook' });
    await quiesce(env);
    const acct = (await env.db.pool.query('SELECT status, last_error_code FROM accounts WHERE id = $1', [env.accounts.get(pid)])).rows[0];
    expect(acct).toEqual({ status: 'disabled', last_error_code: 'unlinked' });
    expect((await stored(env)).get(pid)!.size).toBe(kept);
    expect(env.settled.some((e) => e.outcome === 'dead_letter' && e.subject.endsWith(env.accounts.get(pid)!))).toBe(false);
  });
});
