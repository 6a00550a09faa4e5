import { differences, quiesce, requestLog, startEnv, syncAll, WORKER_ROUTES, type Env } from './helpers';

// Issue #11 acceptance: provider faults leave every account equal to the truth (real NATS, Redis, Postgres, Airtel simulator).
let env: Env;

afterEach(() => env?.close());

const count = async (sql: string) => (await env.db.pool.query<{ n: number }>(sql)).rows[0]!.n;

it('5xx, hangs and malformed envelopes leave every account equal to the truth, with no duplicate reference rows', async () => {
  env = await startEnv({ accounts: 30, referencesPerAccount: 3, maxDeliver: 20 });
  await env.startWorker();
  await env.startWorker({ workerId: 'test-b' });
  const n = await env.registerAll();
  await env.control('POST', '/faults', [
    { route: 'GET /standard/v1/payments/:id', kind: 'status', status: 503, probability: 0.15 },
    { route: 'GET /standard/v1/payments/:id', kind: 'malformed', probability: 0.05 },
    { route: 'GET /standard/v1/payments/:id', kind: 'truncated', probability: 0.03 },
    { route: 'GET /standard/v1/payments/:id', kind: 'hang', hangMs: 4_000, probability: 0.02 },
    { route: 'GET /standard/v1/users/balance', kind: 'status', status: 500, probability: 0.15 },
    { route: 'POST /auth/oauth2/token', kind: 'status', status: 502, probability: 0.2 },
  ]);
  await syncAll(env);
  await env.control('POST', '/clock/advance', { hours: 2 });
  await syncAll(env);
  const log = await requestLog(env);
  expect(log.filter((r) => r.faults.length > 0).length).toBeGreaterThan(10);
  expect(log.filter((r) => !WORKER_ROUTES.has(`${r.method} ${r.route}`))).toEqual([]);
  expect(await differences(env)).toEqual([]);
  expect(await count('SELECT count(*)::int AS n FROM transactions')).toBe(n);
  expect(await count(`SELECT count(*)::int AS n FROM accounts WHERE status <> 'active'`)).toBe(0);
  const dlq = await env.jsm.streams.info(env.topology.streams.deadLetters.name);
  expect(dlq.state.messages).toBe(0);
}, 90_000);

it('no request reaches Airtel before the Retry-After of a 429 has passed', async () => {
  // Real simulator clock: request log times are wall time. One worker, one run and one lookup at a
  // time, so every request after the 429 was sent after its answer arrived.
  env = await startEnv({ accounts: 3, referencesPerAccount: 4, airtel: { clock: 'real' } });
  await env.startWorker({ concurrency: 1, airtel: { baseUrl: env.airtel.url, timeoutMs: 1_500, lookupConcurrency: 1 } });
  await env.registerAll();
  await env.control('POST', '/faults', {
    route: 'GET /standard/v1/payments/:id',
    kind: 'status',
    status: 429,
    retryAfter: 2,
    requests: [2],
  });
  await syncAll(env);
  const log = await requestLog(env);
  const limited = log.filter((r) => r.status === 429);
  expect(limited.length).toBe(3); // request 2 of the enquiry route, for each of the 3 accounts
  for (const l of limited) {
    const after = log.filter((r) => r.seq > l.seq);
    expect(after.length).toBeGreaterThan(0);
    const earliest = Date.parse(l.time) + 2_000;
    expect(after.filter((r) => Date.parse(r.time) < earliest).map((r) => `${r.route} ${r.time}`)).toEqual([]);
  }
  await quiesce(env);
  expect(await differences(env)).toEqual([]);
});
