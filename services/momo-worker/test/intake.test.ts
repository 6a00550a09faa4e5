import { publishCallback, publishRegistration } from '@intellifin/wallet-sync';
import { quiesce, registrationOf, requestLog, startEnv, waitFor, type Env } from './helpers';

// Reference intake and callbacks (issue #11) against real NATS, Postgres, Redis and the MoMo simulator.
let env: Env;

beforeAll(async () => {
  env = await startEnv({ accounts: 4, referencesPerAccount: 3 });
  await env.startWorker();
  await env.registerAll();
});
afterAll(() => env.close());

describe('reference intake', () => {
  it('registering the same reference again is idempotent; different contents are refused and change nothing', async () => {
    const [a] = await env.truth();
    const ref = a!.refs[0]!;
    const accountId = env.accounts.get(a!.id)!;
    const row = async () =>
      (
        await env.db.pool.query<{ amount_minor: string; change_version: string }>(
          'SELECT amount_minor::text, change_version::text FROM transactions WHERE account_id = $1 AND provider_txn_id = $2',
          [accountId, ref.id],
        )
      ).rows;
    const before = await row();
    await publishRegistration(env.publisher, env.topology, 'momo', { ...registrationOf(accountId, ref), externalId: ref.externalId });
    await publishRegistration(env.publisher, env.topology, 'momo', {
      ...registrationOf(accountId, ref),
      amountMinor: String(ref.amount + 100),
    });
    await quiesce(env);
    expect(await row()).toEqual(before);
    const refused = env.settled.filter((e) => e.outcome === 'dead_letter' && e.subject.includes('.wallet.momo.ref.'));
    expect(refused.length).toBe(1);
  });
});

describe('callbacks', () => {
  it('a callback and a poll reporting the same transition give one modification; an early callback waits for its reference', async () => {
    // A fresh reference, created on the simulator now, pending until we advance it.
    const [a] = env.sim;
    const accountId = env.accounts.get(a!.id)!;
    const refId = '5b0e4c1a-8f3d-4e2b-9a6c-1d2e3f4a5b6c';
    const early = '6c1f5d2b-9a4e-4f3c-8b7d-2e3f4a5b6c7d';
    for (const id of [refId, early]) {
      const res = await fetch(`${env.momo.url}/collection/v1_0/requesttopay`, {
        method: 'POST',
        headers: await businessHeaders(a!, id),
        body: JSON.stringify({
          amount: '25.50',
          currency: a!.currency,
          externalId: `CB-${id.slice(0, 4)}`,
          payer: { partyIdType: 'MSISDN', partyId: '260961234567' },
          payerMessage: 'Order',
          payeeNote: 'Note',
        }),
      });
      expect(res.status).toBe(202);
    }
    const truthRef = async (id: string) => env.control<any>('GET', `/references/${id}`);
    await publishRegistration(env.publisher, env.topology, 'momo', registrationOf(accountId, await truthRef(refId)));
    await quiesce(env);
    // Bring the account's other references up to date first (the clock stands still meanwhile).
    await env.publish(a!.id);
    await quiesce(env);
    const modifiedBefore = await modified(accountId);
    await env.control('POST', `/references/${refId}/advance`, { status: 'SUCCESSFUL' });
    await env.control('POST', `/references/${early}/advance`, { status: 'FAILED', reason: 'NOT_ENOUGH_FUNDS' });
    const t = await truthRef(refId);
    const body = {
      financialTransactionId: t.financialTransactionId,
      externalId: t.externalId,
      amount: t.amountWire,
      currency: t.currency,
      status: 'SUCCESSFUL',
    };
    // The callback (twice: providers and ingress may repeat) and a scheduled poll.
    await publishCallback(env.publisher, env.topology, 'momo', { referenceId: refId, body });
    await publishCallback(env.publisher, env.topology, 'momo', { referenceId: refId, body: { ...body } });
    await env.publish(a!.id, { mode: 'transactions' });
    await quiesce(env);
    await env.publish(a!.id, { mode: 'transactions' });
    await quiesce(env);
    const stored = await env.db.pool.query('SELECT status, secondary_id FROM transactions WHERE account_id = $1 AND provider_txn_id = $2', [
      accountId,
      refId,
    ]);
    expect(stored.rows).toEqual([{ status: 'posted', secondary_id: t.financialTransactionId }]);
    expect((await modified(accountId)) - modifiedBefore).toBe(1);

    // A callback for a reference not registered yet is kept, then applied once it is registered.
    const te = await truthRef(early);
    await publishCallback(env.publisher, env.topology, 'momo', {
      referenceId: early,
      body: { externalId: te.externalId, amount: te.amountWire, currency: te.currency, status: 'FAILED', reason: 'NOT_ENOUGH_FUNDS' },
    });
    await quiesce(env);
    const polledBefore = (await requestLog(env)).filter((r) => r.path.includes(early)).length;
    await publishRegistration(env.publisher, env.topology, 'momo', registrationOf(accountId, te));
    await waitFor(
      async () =>
        (
          await env.db.pool.query(
            "SELECT 1 FROM transactions WHERE provider_txn_id = $1 AND status = 'failed' AND raw->>'reason' = 'NOT_ENOUGH_FUNDS'",
            [early],
          )
        ).rowCount === 1,
      'early callback applied',
      20_000,
    );
    await quiesce(env);
    expect((await requestLog(env)).filter((r) => r.path.includes(early)).length).toBe(polledBefore);
  });
});

async function modified(accountId: string): Promise<number> {
  const { rows } = await env.db.pool.query<{ n: number }>(
    'SELECT coalesce(sum(modified), 0)::int AS n FROM sync_runs WHERE account_id = $1',
    [accountId],
  );
  return rows[0]!.n;
}

/** Headers of a direct business call (the test creating a request to pay as the platform would). */
async function businessHeaders(a: Env['sim'][number], referenceId: string): Promise<Record<string, string>> {
  const tok = await fetch(`${env.momo.url}/collection/token/`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${a.credentials.apiUser}:${a.credentials.apiKey}`).toString('base64')}`,
      'ocp-apim-subscription-key': a.credentials.subscriptionKeys.collection,
    },
  });
  const { access_token } = (await tok.json()) as { access_token: string };
  return {
    authorization: `Bearer ${access_token}`,
    'ocp-apim-subscription-key': a.credentials.subscriptionKeys.collection,
    'x-target-environment': 'mtnzambia',
    'x-reference-id': referenceId,
    'content-type': 'application/json',
  };
}
