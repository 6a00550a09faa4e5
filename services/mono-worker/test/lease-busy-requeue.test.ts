import { listRuns } from '@intellifin/persistence';
import { quiesce, startEnv, waitFor, type Env } from './helpers';

/**
 * A command that asks for more than the run in flight (a manual real-time sync during a long
 * scheduled run) waits for the lease with delayed naks. Naks spend deliveries: on its last
 * delivery it must not be dead-lettered (which would mark a healthy account `error`) but
 * requeued as a fresh message, and run once the lease is free.
 */
describe('a long-busy lease', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv({ accounts: 1, transactionsPerAccount: 6, maxDeliver: 3 });
    await env.startWorker();
  });
  afterAll(async () => env?.close());

  it('requeues a waiting command on its last delivery instead of dead-lettering it, and runs it after the lease frees', async () => {
    const [pid] = [...env.accounts.keys()] as [string];
    const id = env.accounts.get(pid)!;
    const key = `${env.redis.prefix}lease:acct:${id}`;
    // Another worker's scheduled run holds the account for longer than three deliveries last.
    await env.redis.redis.set(key, 'elsewhere:long-run', 'PX', 60_000);
    const seqBefore = Number((await env.jsm.streams.info(env.topology.streams.commands.name)).state.last_seq);
    await env.publish(pid, { trigger: 'manual' });

    const subjectOf = (e: { subject: string }) => e.subject.endsWith(id);
    await waitFor(
      () => env.settled.filter((e) => subjectOf(e) && e.outcome === 'nak' && e.reason === 'lease_busy').length >= 2,
      'two deferrals',
    );
    await waitFor(
      () => env.settled.some((e) => subjectOf(e) && e.outcome === 'requeue' && e.deliveryCount === 3),
      'the last delivery requeued',
    );
    // The command went back into the stream as a new message (publish + requeue = 2 messages).
    await waitFor(
      async () => Number((await env.jsm.streams.info(env.topology.streams.commands.name)).state.last_seq) >= seqBefore + 2,
      'the requeued command',
    );
    expect(env.settled.filter((e) => subjectOf(e) && e.outcome === 'dead_letter')).toEqual([]);

    // The long run ends: the requeued command runs.
    await env.redis.redis.del(key);
    await quiesce(env);
    const runs = await listRuns(env.db.pool, id, { limit: 10 });
    expect(runs.map((r) => ({ trigger: r.trigger, outcome: r.outcome }))).toEqual([{ trigger: 'manual', outcome: 'succeeded' }]);
    const acct = await env.db.pool.query('SELECT status FROM accounts WHERE id = $1', [id]);
    expect(acct.rows[0].status).toBe('active');
    const dlq = await env.jsm.streams.info(env.topology.streams.deadLetters.name);
    expect(Number(dlq.state.messages)).toBe(0);
  });
});
