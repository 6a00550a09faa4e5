import { Registry } from '@intellifin/core';
import { OutboxRelay } from '@intellifin/persistence';
import { logger, quiesce as streamsQuiet, startEnv, waitFor, type Env } from './helpers';

/**
 * The engine's no-loss guarantees (issue #9), each fault injected at its exact point, against real
 * NATS, Redis and Postgres and the Mono simulator.
 */
const TX = 'GET /v2/accounts/:id/transactions';

/** Commands settled, outbox empty, and no run in flight (a replaced in-flight message leaves the stream quiet while its run goes on). */
async function quiesce(env: Env): Promise<void> {
  await waitFor(
    async () => Number((await env.db.pool.query("SELECT count(*) AS n FROM sync_runs WHERE outcome = 'running'")).rows[0].n) === 0,
    'no run in flight',
  );
  await streamsQuiet(env);
}

const eventCount = async (env: Env, subject: string): Promise<number> => {
  const info = await env.jsm.streams.info(env.topology.streams.events.name, { subjects_filter: subject });
  return (info.state.subjects as Record<string, number> | undefined)?.[subject] ?? 0;
};
const runs = async (env: Env, id: string) =>
  (
    await env.db.pool.query<{ outcome: string; mode: string; trigger: string; error_code: string | null }>(
      'SELECT outcome, mode, trigger, error_code FROM sync_runs WHERE account_id = $1 ORDER BY started_at',
      [id],
    )
  ).rows;
const account = async (env: Env, id: string) =>
  (await env.db.pool.query('SELECT status, last_success_at, consecutive_failures, rerun_requested_at FROM accounts WHERE id = $1', [id]))
    .rows[0];
const outboxRows = async (env: Env) => (await env.db.pool.query<{ event_id: string }>('SELECT event_id FROM outbox ORDER BY id')).rows;

function relayFor(env: Env): OutboxRelay {
  return new OutboxRelay({
    pool: env.db.pool,
    logger: logger(),
    registry: new Registry(),
    retryBaseMs: 100,
    publish: (rows) => env.publisher.publishBatch(rows.map((r) => ({ subject: r.subject, payload: r.payload, msgId: r.eventId }))),
  });
}

describe('engine: every event delivered (outbox)', () => {
  let env: Env;
  let pids: string[];
  beforeAll(async () => {
    env = await startEnv({ accounts: 4, transactionsPerAccount: 6 });
    pids = [...env.accounts.keys()];
  });
  afterAll(async () => env?.close());

  it('the run event survives failed publishes: the run stays succeeded and the event appears exactly once after recovery', async () => {
    const w = await env.startWorker();
    const id = env.accounts.get(pids[0]!)!;
    const subject = env.topology.eventSubject('run', 'mono', id);
    // The events stream is gone: every publish of the relay fails (no stream) until it is back.
    const eventsStream = env.topology.streams.events;
    await env.jsm.streams.delete(eventsStream.name);
    await env.publish(pids[0]!);
    await waitFor(async () => (await runs(env, id)).some((r) => r.outcome === 'succeeded'), 'run succeeded');
    await waitFor(
      async () => Number((await env.db.pool.query('SELECT max(attempts) AS a FROM outbox')).rows[0].a ?? 0) >= 2,
      'two failed publishes',
    );
    expect((await runs(env, id)).map((r) => r.outcome)).toEqual(['succeeded']);
    // The run's start (status) event and its end (run) event, both still waiting.
    expect((await outboxRows(env)).map((r) => r.event_id.split(':')[0])).toEqual(['started', 'run']);

    await env.jsm.streams.add(eventsStream);
    await waitFor(async () => (await outboxRows(env)).length === 0, 'outbox drained');
    expect(await eventCount(env, subject)).toBe(1);
    expect((await runs(env, id)).map((r) => r.outcome)).toEqual(['succeeded']);
    await w.stop(2_000);
    env.workers.splice(env.workers.indexOf(w), 1);
  });

  it('a worker that dies between the commit and the publish loses neither the run event nor the auth event', async () => {
    // A worker whose relay never runs is exactly a process killed after its commits and before any publish.
    const w = await env.startWorker({ engine: { outboxRelay: false } });
    const okId = env.accounts.get(pids[1]!)!;
    const revokedPid = pids[2]!;
    const revokedId = env.accounts.get(revokedPid)!;
    await env.control('POST', `/accounts/${revokedPid}/revoke`, { mode: 'reauth' });
    await env.publish(pids[1]!);
    await env.publish(revokedPid, { trigger: 'manual', realtime: true });
    // Per run its start (status) and end (run) events, and the revoked account's auth event.
    await waitFor(async () => (await outboxRows(env)).length === 5, 'five events committed');
    await w.stop(2_000);
    env.workers.splice(env.workers.indexOf(w), 1);
    expect((await account(env, revokedId)).status).toBe('auth_required');
    expect(await eventCount(env, env.topology.eventSubject('auth', 'mono', revokedId))).toBe(0);

    // Recovery: another process's relay publishes what was committed, once; a second relay racing it adds nothing.
    const relays = [relayFor(env), relayFor(env)];
    relays.forEach((r) => r.start());
    await waitFor(async () => (await outboxRows(env)).length === 0, 'outbox drained');
    await Promise.all(relays.map((r) => r.stop()));
    expect(await eventCount(env, env.topology.eventSubject('run', 'mono', okId))).toBe(1);
    expect(await eventCount(env, env.topology.eventSubject('run', 'mono', revokedId))).toBe(1);
    expect(await eventCount(env, env.topology.eventSubject('auth', 'mono', revokedId))).toBe(1);
    expect(await eventCount(env, env.topology.eventSubject('status', 'mono', okId))).toBe(1);
  });
});

describe('engine: no trigger lost to coalescing', () => {
  let env: Env;
  let pids: string[];
  beforeAll(async () => {
    env = await startEnv({ accounts: 4, transactionsPerAccount: 40 });
    pids = [...env.accounts.keys()];
    await env.startWorker({ mono: { baseUrl: env.mono.url, secretKey: 'test_sk_sandbox_mono', timeoutMs: 3_000, pageSize: 5 } });
  });
  afterAll(async () => env?.close());

  it('a manual command that arrives mid-fetch of a scheduled run that then fails gets its own successful run at once', async () => {
    const pid = pids[0]!;
    const id = env.accounts.get(pid)!;
    // Slow pages, and the fourth transactions request of this account fails (500).
    await env.control('POST', '/faults', {
      faults: [
        { route: TX, account: pid, kind: 'latency', latencyMs: 150 },
        { route: TX, account: pid, kind: 'status', status: 500, requests: [4, 5, 6, 7, 8, 9] },
      ],
    });
    await env.publish(pid, { trigger: 'scheduled' });
    await waitFor(async () => (await runs(env, id)).some((r) => r.outcome === 'running'), 'scheduled run fetching');
    await env.publish(pid, { trigger: 'manual', triggerId: 'sync-now-1' });
    await quiesce(env);
    const history = await runs(env, id);
    expect(history[0]).toMatchObject({ trigger: 'scheduled', outcome: 'failed', error_code: 'mono_unavailable' });
    // The failed run queued one command covering both asks; it ran and succeeded without waiting for a slot.
    expect(history.at(-1)).toMatchObject({ trigger: 'manual', outcome: 'succeeded' });
    expect((await account(env, id)).rerun_requested_at).toBeNull();
    await env.control('DELETE', '/faults');
  });

  it('a transactions command that waited behind a balance-only run leads to a transactions run', async () => {
    const pid = pids[1]!;
    const id = env.accounts.get(pid)!;
    await env.control('POST', '/faults', {
      faults: [{ route: 'GET /v2/accounts/:id/balance', account: pid, kind: 'latency', latencyMs: 1_500 }],
    });
    await env.publish(pid, { trigger: 'balance', mode: 'balance' });
    await waitFor(async () => (await runs(env, id)).some((r) => r.outcome === 'running'), 'balance run in flight');
    // Issued while the balance run holds the account: the balance run does not satisfy it.
    await env.publish(pid, { trigger: 'scheduled', mode: 'transactions', triggerId: 'tx-after-balance' });
    await quiesce(env);
    const history = await runs(env, id);
    expect(history.map((r) => [r.mode, r.outcome])).toEqual([
      ['balance', 'succeeded'],
      ['transactions', 'succeeded'],
    ]);
    expect(
      Number((await env.db.pool.query('SELECT count(*) AS n FROM transactions WHERE account_id = $1', [id])).rows[0].n),
    ).toBeGreaterThan(0);
    await env.control('DELETE', '/faults');
  });

  it('a command issued before a covering run started is not taken as satisfied by it unless that run succeeded', async () => {
    const pid = pids[2]!;
    const id = env.accounts.get(pid)!;
    await env.publish(pid, { trigger: 'scheduled' });
    await quiesce(env);
    const before = (await runs(env, id)).length;
    // A stale duplicate issued before the last successful run started: skipped, no run.
    await env.publish(pid, { trigger: 'scheduled', triggerId: 'stale-dup', issuedAt: new Date(Date.now() - 3_600_000).toISOString() });
    await quiesce(env);
    expect((await runs(env, id)).length).toBe(before);
    // A balance command is not covered by a transactions-only success: it runs.
    await env.publish(pid, {
      trigger: 'balance',
      mode: 'balance',
      triggerId: 'bal',
      issuedAt: new Date(Date.now() - 3_600_000).toISOString(),
    });
    await quiesce(env);
    expect((await runs(env, id)).at(-1)).toMatchObject({ mode: 'balance', outcome: 'succeeded' });
  });
  it('a cancel requested after a command was issued drops it while queued; a command issued after the cancel runs', async () => {
    const pid = pids[3]!;
    const id = env.accounts.get(pid)!;
    const before = (await runs(env, id)).length;
    const issued = new Date(Date.now() - 60_000).toISOString();
    await env.db.pool.query('UPDATE accounts SET cancel_requested_at = now() WHERE id = $1', [id]);
    await env.publish(pid, { trigger: 'manual', triggerId: 'cancelled-while-queued', issuedAt: issued });
    await quiesce(env);
    expect((await runs(env, id)).length).toBe(before);
    await env.publish(pid, { trigger: 'manual', triggerId: 'after-the-cancel', issuedAt: new Date(Date.now() + 1_000).toISOString() });
    await quiesce(env);
    expect((await runs(env, id)).at(-1)).toMatchObject({ trigger: 'manual', outcome: 'succeeded' });
  });
});

describe('engine: every wait bounded', () => {
  let env: Env;
  let pids: string[];
  beforeAll(async () => {
    env = await startEnv({ accounts: 2, transactionsPerAccount: 5, ackWaitMs: 2_000, maxDeliver: 6 });
    pids = [...env.accounts.keys()];
  });
  afterAll(async () => env?.close());

  it('a row lock held for 3 × AckWait: the run is aborted at its maximum duration, redelivered, and no later command is acked as coalesced', async () => {
    const pid = pids[0]!;
    const id = env.accounts.get(pid)!;
    await env.startWorker({ leaseTtlMs: 1_500, engine: { maxRunMs: 1_000, outageNakDelayMs: 200 } });
    const locker = await env.db.pool.connect();
    const seen = env.settled.length;
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [id]);
      await env.publish(pid, { trigger: 'scheduled', triggerId: 'first' });
      await waitFor(async () => env.settled.slice(seen).some((e) => e.reason === 'run_timeout'), 'run aborted at its maximum duration');
      await env.publish(pid, { trigger: 'manual', triggerId: 'second' });
      // Hold the lock for 3 × AckWait in all.
      await new Promise((r) => setTimeout(r, 6_000));
      const during = env.settled.slice(seen).filter((e) => e.subject.includes(id));
      expect(during.filter((e) => e.outcome === 'ack')).toEqual([]);
      expect(during.filter((e) => e.outcome === 'dead_letter')).toEqual([]);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    await quiesce(env);
    const a = await account(env, id);
    expect(a.status).toBe('active');
    expect(a.last_success_at).not.toBeNull();
    expect(a.consecutive_failures).toBe(0);
    expect((await runs(env, id)).at(-1)).toMatchObject({ outcome: 'succeeded' });
  });
});
