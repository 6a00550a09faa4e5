import { insertAccount } from '@intellifin/persistence';
import { publishCallback } from '@intellifin/wallet-sync';
import { differences, quiesce, requestLog, startEnv, syncAll, type Env } from './helpers';

// Issue #11 acceptance (tokens, shared credentials, callbacks) against real NATS, Redis, Postgres and the Airtel simulator.
let env: Env;
const handled = { a: 0, b: 0 };

beforeAll(async () => {
  env = await startEnv({ accounts: 4, referencesPerAccount: 6 });
  await env.startWorker({ onSettled: () => void handled.a++ });
  await env.startWorker({ workerId: 'test-b', onSettled: () => void handled.b++ });
  await env.registerAll();
});
afterAll(() => env.close());

const sum = async (sql: string, params: unknown[] = []) => (await env.db.pool.query<{ n: number }>(sql, params)).rows[0]!.n;

it('a token that expires mid-run is absorbed by one refresh per credential', async () => {
  await syncAll(env);
  await env.control('DELETE', '/requests');
  // Every issued token dies now, while Redis still holds them as valid for minutes.
  await env.control('POST', '/tokens/expire', {});
  await env.control('POST', '/clock/advance', { minutes: 1 });
  await syncAll(env);
  const log = await requestLog(env);
  expect(log.filter((r) => r.route === '/auth/oauth2/token').map((r) => r.status)).toEqual([200, 200, 200, 200]);
  // Calls in flight with the dead token are refused (401), then every credential's one fresh token serves the rest.
  expect(log.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(4);
  expect(log.filter((r) => r.status >= 500 || r.status === 0)).toEqual([]);
  const { rows } = await env.db.pool.query<{ status: string }>('SELECT DISTINCT status FROM accounts');
  expect(rows).toEqual([{ status: 'active' }]);
  expect(await differences(env)).toEqual([]);
});

it('a callback and a poll of the same transition make one modification, the callback applied first', async () => {
  const pending = await env.db.pool.query<{ id: string }>(`SELECT provider_txn_id AS id FROM transactions WHERE status = 'pending'`);
  expect(pending.rows.length).toBeGreaterThan(0);
  // The customer pays one of them now (TS), and everything else settles within 2 hours.
  const target = await env.control<{ id: string; airtelMoneyId: string }>('POST', `/references/${pending.rows[0]!.id}/advance`, {
    status: 'TS',
  });
  await env.control('POST', '/clock/advance', { hours: 2 });
  const body = { transaction: { id: target!.id, message: 'Paid', status_code: 'TS', airtel_money_id: target!.airtelMoneyId } };
  await publishCallback(env.publisher, env.topology, 'airtel', { body });
  await quiesce(env);
  const row = await env.db.pool.query<{ source: string; status: string }>(
    `SELECT raw->>'source' AS source, status FROM transactions WHERE provider_txn_id = $1`,
    [target!.id],
  );
  expect(row.rows[0]).toEqual({ source: 'callback', status: 'posted' });
  // The poll of every account now sees the same transition; the callback is also delivered again.
  await syncAll(env);
  await publishCallback(env.publisher, env.topology, 'airtel', { body, receivedAt: new Date().toISOString() });
  await quiesce(env);
  expect(await differences(env)).toEqual([]);
  const finals = await sum(`SELECT count(*)::int AS n FROM transactions WHERE status <> 'pending'`);
  expect(await sum('SELECT coalesce(sum(modified), 0)::int AS n FROM sync_runs')).toBe(finals);
  expect(await sum(`SELECT count(*)::int AS n FROM transactions WHERE status = 'pending'`)).toBe(0);
});

it('50 concurrent runs of accounts sharing one credential, over two workers, make one token request', async () => {
  const { rows } = await env.db.pool.query<{ credential_id: string; provider_account_id: string; currency: string }>(
    'SELECT credential_id, provider_account_id, currency FROM accounts ORDER BY provider_account_id LIMIT 1',
  );
  const base = rows[0]!;
  const ids: string[] = [];
  for (let k = 0; k < 50; k++) {
    const acct = await insertAccount(env.db.pool, {
      orgId: env.orgId,
      provider: 'airtel',
      providerAccountId: `${base.provider_account_id}#${k}`,
      type: 'mobile_money',
      currency: base.currency,
      credentialId: base.credential_id,
    });
    ids.push(acct.id);
  }
  // Drop the cached token of that credential so that the 50 runs have to fetch one.
  const keys = await env.redis.redis.keys(`${env.redis.prefix}*token*`);
  if (keys.length > 0) await env.redis.redis.del(...keys);
  await env.control('DELETE', '/requests');
  handled.a = handled.b = 0;
  await Promise.all(ids.map((id) => env.publish(id, { mode: 'balance' })));
  await quiesce(env);
  const log = await requestLog(env);
  expect(log.filter((r) => r.route === '/auth/oauth2/token').length).toBe(1);
  expect(log.filter((r) => r.route === '/standard/v1/users/balance' && r.status === 200).length).toBe(50);
  const truth = (await env.truth()).find((t) => t.id === base.provider_account_id)!;
  const bal = await env.db.pool.query<{ b: string }>('SELECT DISTINCT balance_minor::text AS b FROM accounts WHERE id = ANY($1::uuid[])', [
    ids,
  ]);
  expect(bal.rows).toEqual([{ b: String(truth.balance) }]);
  expect(handled.a).toBeGreaterThan(0); // both workers took part
  expect(handled.b).toBeGreaterThan(0);
});
