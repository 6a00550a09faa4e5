import { listRuns } from '@intellifin/persistence';
import { differences, quiesce, requestLog, servedTruth, startEnv, stored, type Env, type LoggedRequest } from './helpers';

/**
 * Provider faults end to end (ARCHITECTURE §3 step 3/6): the Mono sandbox injects 5 % 5xx, 1 % 429
 * with a 1–2 s Retry-After and some hangs (deterministic draws), on every data route. Every account
 * must still end equal to what Mono serves, and the sandbox's request log must show Retry-After
 * honoured.
 *
 * Retry-After scope in our design: a 429 closes the shared per-provider budget (Redis) for every
 * replica for the whole Retry-After, whatever the route or account. So after a 429 at T:
 * - the retry of the rejected request (any request for that account) never arrives before T + R;
 * - no request for *any* Mono account arrives in (T, T + R) except those that had already passed the
 *   budget when the 429 was answered: at most one per other run slot (each run has one request
 *   in flight at a time). Without the pause the worker sends hundreds of requests a second.
 * The sandbox runs on the real clock so that its log's arrival times measure real time.
 */
const SLOTS = 8;
const TX = 'GET /v2/accounts/:id/transactions';

describe('mono-worker under provider faults (5xx, 429 + Retry-After, hangs)', () => {
  let env: Env;
  let pids: string[];
  beforeAll(async () => {
    env = await startEnv({ accounts: 40, transactionsPerAccount: 30, clock: 'real', seed: 11 });
    pids = [...env.accounts.keys()];
    await env.control('POST', '/faults', {
      faults: [
        // ~5 % 5xx over every data route.
        { route: '*', kind: 'status', status: 500, probability: 0.025 },
        { route: '*', kind: 'status', status: 502, probability: 0.0125 },
        { route: '*', kind: 'status', status: 503, probability: 0.0125 },
        // ~1 % 429 with a short Retry-After, plus two that certainly fire (different accounts, routes).
        { route: '*', kind: 'status', status: 429, retryAfter: 1, probability: 0.01 },
        { route: TX, account: pids[5], kind: 'status', status: 429, retryAfter: 2, requests: [2] },
        { route: 'GET /v2/accounts/:id/balance', account: pids[17], kind: 'status', status: 429, retryAfter: 1, requests: [1] },
        // Hangs longer than the client's 1 s timeout (the sandbox then drops the connection).
        { route: TX, kind: 'hang', hangMs: 2_500, probability: 0.005 },
        { route: TX, account: pids[9], kind: 'hang', hangMs: 2_500, requests: [1] },
        { route: TX, account: pids[30], kind: 'hang', hangMs: 2_500, requests: [3] },
      ],
    });
    await env.startWorker({
      mono: { baseUrl: env.mono.url, secretKey: 'test_sk_sandbox_mono', timeoutMs: 1_000, pageSize: 10 },
      concurrency: SLOTS,
    });
  });
  afterAll(async () => env?.close());

  it('every account ends equal to the truth, and Retry-After is never violated', async () => {
    for (const pid of pids) await env.publish(pid, { mode: 'full' });
    await quiesce(env);

    // Data: exactly what Mono serves, for every account; every account active, nothing dead-lettered.
    expect(differences(await servedTruth(env), await stored(env))).toEqual([]);
    const { rows } = await env.db.pool.query(
      `SELECT count(*)::int AS n FROM accounts WHERE status = 'active' AND last_success_at IS NOT NULL AND balance_minor IS NOT NULL`,
    );
    expect(rows[0].n).toBe(pids.length);
    expect(env.settled.filter((e) => e.outcome === 'dead_letter')).toEqual([]);
    for (const id of env.accounts.values()) {
      const runs = await listRuns(env.db.pool, id, { limit: 50 });
      expect(runs.filter((r) => r.outcome === 'succeeded')).toHaveLength(1);
      expect(runs.filter((r) => r.outcome === 'running')).toEqual([]);
    }

    // The faults really fired, and some runs had to be retried by redelivery.
    const log = await requestLog(env);
    const rules = new Map(
      (await env.control<{ faults: { id: string; retryAfter?: number }[] }>('GET', '/faults')).faults.map((f) => [f.id, f]),
    );
    const limited = log.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(2);
    expect(log.filter((r) => r.status >= 500).length).toBeGreaterThan(5);
    expect(log.filter((r) => r.status === 0).length).toBeGreaterThanOrEqual(2);
    expect(log.every((r) => r.fence !== null)).toBe(true);

    // Retry-After, on the sandbox's own clock (arrival times).
    const at = (r: LoggedRequest) => Date.parse(r.time);
    const violations: string[] = [];
    for (const hit of limited) {
      const retryAfter = hit.faults.map((id) => rules.get(id)?.retryAfter).find((s) => s !== undefined);
      expect(retryAfter).toBeDefined();
      const from = at(hit);
      const until = from + retryAfter! * 1000;
      const inside = log.filter((r) => r.seq !== hit.seq && at(r) >= from && at(r) < until);
      const retries = inside.filter((r) => r.account === hit.account);
      if (retries.length) violations.push(`retry of ${hit.account} ${at(retries[0]!) - from} ms after a ${retryAfter} s 429`);
      if (inside.length > SLOTS - 1)
        violations.push(`${inside.length} Mono requests within ${retryAfter} s of a 429 (at most ${SLOTS - 1} already past the budget)`);
    }
    expect(violations).toEqual([]);
  });
});
