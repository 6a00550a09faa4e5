import { startEnv, waitFor, type Env } from './helpers';

/**
 * The safety net for commands no runner saw fail (ARCHITECTURE §2; TOOLCHAIN: a max-delivered
 * message stays in a WorkQueue stream): a command whose every delivery's ack wait expired — a
 * crash loop — ends in SYNC_DLQ, leaves SYNC_CMDS, and its account shows `error` with the reason.
 * The worker process runs the advisory watcher itself.
 */
describe('dead letters from a crash loop', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv({ accounts: 1, transactionsPerAccount: 4, ackWaitMs: 1_000, maxDeliver: 2 });
  });
  afterAll(async () => env?.close());

  it('a command delivered maxDeliver times and never settled is dead-lettered and its account marked error', async () => {
    const [pid] = [...env.accounts.keys()] as [string];
    const id = env.accounts.get(pid)!;
    await env.publish(pid);
    // Two "workers" that take the command and die before settling it: the ack wait expires twice.
    const consumer = await env.js.consumers.get(env.topology.streams.commands.name, 'mono-worker');
    for (let delivery = 1; delivery <= 2; delivery++) {
      const m = await consumer.next({ expires: 10_000 });
      expect(m?.info.deliveryCount).toBe(delivery);
    }

    await env.startWorker();
    const dlq = env.topology.streams.deadLetters.name;
    await waitFor(async () => Number((await env.jsm.streams.info(dlq)).state.messages) === 1, 'the DLQ copy');
    await waitFor(
      async () => (await env.db.pool.query(`SELECT status FROM accounts WHERE id = $1`, [id])).rows[0].status === 'error',
      'the account to be marked error',
    );
    const acct = (await env.db.pool.query('SELECT last_error_code FROM accounts WHERE id = $1', [id])).rows[0];
    expect(acct.last_error_code).toBe('max_deliveries');
    await waitFor(
      async () => Number((await env.jsm.streams.info(env.topology.streams.commands.name)).state.messages) === 0,
      'the poison command to leave SYNC_CMDS',
    );
    const copy = await env.jsm.streams.getMessage(dlq, { seq: Number((await env.jsm.streams.info(dlq)).state.first_seq) });
    expect(copy?.subject).toBe(env.topology.deadLetterSubject(env.topology.commandSubject('mono', id)));
  });
});
