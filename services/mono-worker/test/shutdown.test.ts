import { differences, quiesce, servedTruth, startEnv, stored, waitFor, type Env } from './helpers';

/**
 * Graceful shutdown mid-run (ARCHITECTURE §3; reliability-research §2.4): the worker stops
 * pulling, abandons the in-flight run at its page boundary, records it, releases the account's
 * lease and hands the command back at once — so the next worker finishes the account with
 * exactly the truth, without waiting for a lease TTL or an ack wait.
 */
const TX = 'GET /v2/accounts/:id/transactions';

describe('graceful shutdown', () => {
  let env: Env;
  beforeAll(async () => {
    // 60 rows in pages of 50: two pages, the second one held by the sandbox.
    env = await startEnv({ accounts: 1, transactionsPerAccount: 60, ackWaitMs: 30_000 });
  });
  afterAll(async () => env?.close());

  it('abandons the run at a page boundary, releases the lease, and the command is redelivered at once', async () => {
    const [pid] = [...env.accounts.keys()] as [string];
    const id = env.accounts.get(pid)!;
    const [rule] = (
      await env.control<{ faults: { id: string }[] }>('POST', '/faults', {
        route: TX,
        account: pid,
        kind: 'latency',
        latencyMs: 20_000,
        requests: [2],
      })
    ).faults;
    const first = await env.startWorker();
    await env.publish(pid);
    await waitFor(
      async () =>
        (await env.control<{ faults: { id: string; fired: number }[] }>('GET', '/faults')).faults.find((f) => f.id === rule!.id)!.fired > 0,
      'page 2 to be held',
    );
    const leaseKey = `${env.redis.prefix}lease:acct:${id}`;
    expect(await env.redis.redis.exists(leaseKey)).toBe(1);

    await first.stop(10_000);

    expect(await env.redis.redis.exists(leaseKey)).toBe(0);
    const runs = await env.db.pool.query<{ outcome: string; error_code: string | null; pages: number }>(
      'SELECT outcome, error_code, pages FROM sync_runs WHERE account_id = $1 ORDER BY started_at',
      [id],
    );
    expect(runs.rows).toEqual([{ outcome: 'cancelled', error_code: 'shutdown', pages: 1 }]);
    const cursor = await env.db.pool.query(`SELECT cursor->>'highWaterDate' AS hw FROM accounts WHERE id = $1`, [id]);
    expect(cursor.rows[0].hw).toBeNull(); // the window was not finished: the high-water mark did not move

    // The handed-back command is taken by the next worker long before the 30 s ack wait; the
    // held page is released first so the second run is not slowed down by it.
    await env.control('DELETE', '/faults');
    await env.startWorker();
    await quiesce(env, 20_000);
    expect(differences(await servedTruth(env), await stored(env))).toEqual([]);
    const after = await env.db.pool.query<{ outcome: string }>('SELECT outcome FROM sync_runs WHERE account_id = $1 ORDER BY started_at', [
      id,
    ]);
    expect(after.rows.map((r) => r.outcome)).toEqual(['cancelled', 'succeeded']);
  });
});

describe('graceful shutdown on the last delivery', () => {
  let env: Env;
  beforeAll(async () => {
    // maxDeliver 1: the first delivery is also the last — a nak would dead-letter the command.
    env = await startEnv({ accounts: 1, transactionsPerAccount: 60, ackWaitMs: 30_000, maxDeliver: 1 });
  });
  afterAll(async () => env?.close());

  it('requeues the interrupted command instead of dead-lettering it because of a deploy', async () => {
    const [pid] = [...env.accounts.keys()] as [string];
    const id = env.accounts.get(pid)!;
    const [rule] = (
      await env.control<{ faults: { id: string }[] }>('POST', '/faults', {
        route: TX,
        account: pid,
        kind: 'latency',
        latencyMs: 20_000,
        requests: [2],
      })
    ).faults;
    const first = await env.startWorker();
    await env.publish(pid);
    await waitFor(
      async () =>
        (await env.control<{ faults: { id: string; fired: number }[] }>('GET', '/faults')).faults.find((f) => f.id === rule!.id)!.fired > 0,
      'page 2 to be held',
    );
    await first.stop(10_000);

    expect(env.settled.filter((e) => e.outcome === 'dead_letter')).toEqual([]);
    await env.control('DELETE', '/faults');
    await env.startWorker();
    await quiesce(env, 20_000);
    expect(differences(await servedTruth(env), await stored(env))).toEqual([]);
    const runs = await env.db.pool.query<{ outcome: string }>('SELECT outcome FROM sync_runs WHERE account_id = $1 ORDER BY started_at', [
      id,
    ]);
    expect(runs.rows.map((r) => r.outcome)).toEqual(['cancelled', 'succeeded']);
    expect((await env.db.pool.query('SELECT status FROM accounts WHERE id = $1', [id])).rows[0].status).toBe('active');
    expect(Number((await env.jsm.streams.info(env.topology.streams.deadLetters.name)).state.messages)).toBe(0);
  });
});
