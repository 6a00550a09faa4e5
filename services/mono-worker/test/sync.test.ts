import { listRuns } from '@intellifin/persistence';
import { differences, quiesce, servedTruth, startEnv, stored, waitFor, type Env } from './helpers';

/**
 * The engine and the Mono adapter end to end: real NATS, Redis and Postgres, the Mono sandbox
 * in-process with a manual clock. 200 accounts × a few transactions.
 */
describe('mono-worker syncs accounts to the sandbox truth', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv({ accounts: 200, transactionsPerAccount: 8 });
    await env.startWorker();
  });
  afterAll(async () => env?.close());

  const runCounts = async (since: Date) => {
    const { rows } = await env.db.pool.query<{ added: number; modified: number; outcome: string; n: number }>(
      `SELECT outcome, sum(added)::int AS added, sum(modified)::int AS modified, count(*)::int AS n FROM sync_runs WHERE started_at >= $1 GROUP BY outcome`,
      [since],
    );
    return rows;
  };

  it('first sync: every account equals what Mono serves; second sync adds 0 and modifies only what changed', async () => {
    const t0 = new Date();
    for (const pid of env.accounts.keys()) await env.publish(pid);
    await quiesce(env);
    expect(differences(await servedTruth(env), await stored(env))).toEqual([]);
    const first = await runCounts(t0);
    expect(first).toEqual([{ outcome: 'succeeded', added: expect.any(Number), modified: 0, n: 200 }]);
    const { rows: st } = await env.db.pool.query(
      `SELECT count(*)::int AS n FROM accounts WHERE status = 'active' AND last_success_at IS NOT NULL AND cursor->>'highWaterDate' = '2026-03-02'`,
    );
    expect(st[0].n).toBe(200);

    // Nothing changed at Mono: a second sync adds nothing and modifies nothing.
    const t1 = new Date();
    for (const pid of env.accounts.keys()) await env.publish(pid);
    await quiesce(env);
    expect(await runCounts(t1)).toEqual([{ outcome: 'succeeded', added: 0, modified: 0, n: 200 }]);

    // A day passes at Mono: new rows arrive, pending rows post (modifications), late rows surface.
    const before = await servedTruth(env);
    await env.control('POST', '/clock/advance', { days: 1 });
    const after = await servedTruth(env);
    let expectAdded = 0;
    let expectModified = 0;
    for (const [pid, rows] of after) {
      const old = before.get(pid)!;
      for (const [id, r] of rows) {
        const o = old.get(id);
        if (!o) expectAdded++;
        else if (JSON.stringify(o) !== JSON.stringify(r)) expectModified++;
      }
    }
    expect(expectAdded).toBeGreaterThan(0);
    const t2 = new Date();
    for (const pid of env.accounts.keys()) await env.publish(pid);
    await quiesce(env);
    expect(await runCounts(t2)).toEqual([{ outcome: 'succeeded', added: expectAdded, modified: expectModified, n: 200 }]);
    expect(differences(after, await stored(env))).toEqual([]);
  });

  it('picks up a late row dated inside the overlap window', async () => {
    const pid = [...env.accounts.keys()][3]!;
    const now = Date.parse((await env.control<{ now: string }>('GET', '/clock')).now);
    const late = await env.control<any>('POST', `/accounts/${pid}/transactions`, {
      amount: 12_345,
      type: 'credit',
      narration: 'LATE TRANSFER',
      date: new Date(now - 2 * 86_400_000).toISOString(),
      visibleAt: new Date(now).toISOString(),
    });
    const lateId: string = late.id ?? late.transaction?.id ?? late.data?.id;
    expect(typeof lateId).toBe('string');
    await env.publish(pid);
    await quiesce(env);
    const mine = (await stored(env)).get(pid)!;
    expect(mine.get(lateId)).toMatchObject({ amount: 12_345, type: 'credit', narration: 'LATE TRANSFER', status: 'posted' });
    expect(differences(await servedTruth(env), await stored(env), new Set([pid]))).toEqual([]);
  });

  it('a malformed page fails the run with validation, writes nothing from it, and leaves other accounts alone', async () => {
    const [bad, good] = [...env.accounts.keys()].slice(10, 12) as [string, string];
    await env.control('POST', `/accounts/${bad}/transactions`, {
      amount: 777,
      type: 'debit',
      narration: 'NEW ROW',
      date: new Date(Date.parse((await env.control<{ now: string }>('GET', '/clock')).now) - 3_600_000).toISOString(),
    });
    const fault = await env.control<any>('POST', '/faults', {
      route: 'GET /v2/accounts/:id/transactions',
      account: bad,
      kind: 'wrong-types',
    });
    const beforeBad = (await stored(env)).get(bad)!;
    const cursorBefore = (await env.db.pool.query('SELECT cursor FROM accounts WHERE id = $1', [env.accounts.get(bad)])).rows[0].cursor;
    await env.publish(bad);
    await env.publish(good);
    await quiesce(env);
    const [run] = await listRuns(env.db.pool, env.accounts.get(bad)!, { limit: 1 });
    expect(run).toMatchObject({ outcome: 'failed', errorKind: 'validation', errorCode: 'validation' });
    const acct = (await env.db.pool.query('SELECT status, cursor, last_error_code FROM accounts WHERE id = $1', [env.accounts.get(bad)]))
      .rows[0];
    expect(acct).toMatchObject({ status: 'error', last_error_code: 'validation', cursor: cursorBefore });
    expect((await stored(env)).get(bad)).toEqual(beforeBad);
    const [goodRun] = await listRuns(env.db.pool, env.accounts.get(good)!, { limit: 1 });
    expect(goodRun).toMatchObject({ outcome: 'succeeded' });
    expect(env.settled.some((e) => e.outcome === 'dead_letter' && e.subject.endsWith(env.accounts.get(bad)!))).toBe(true);

    // Mono fixes its body: the next sync brings the account back.
    const id = fault.id ?? fault.faults?.[0]?.id ?? fault[0]?.id;
    await env.control('DELETE', `/faults/${id}`);
    await env.publish(bad, { trigger: 'manual' });
    await quiesce(env);
    await waitFor(
      async () =>
        (await env.db.pool.query(`SELECT status FROM accounts WHERE id = $1`, [env.accounts.get(bad)])).rows[0].status === 'active',
      'account active again',
    );
    expect(differences(await servedTruth(env), await stored(env), new Set([bad]))).toEqual([]);
  });
});
