import { randomUUID } from 'node:crypto';
import { bearer, seedOrg, startApi, token, type ApiEnv, type Org } from './helpers';

/** GET /v1/sync/summary and GET /v1/notifications (operator, admin), org-scoped. */
describe('organisation reports', () => {
  let env: ApiEnv;
  let a: Org;
  let b: Org;
  let opA: string;
  let userA: string;
  let adminB: string;

  const run = (accountId: string, orgId: string, outcome: string, durationMs: number | null, hoursAgo: number) =>
    env.db.pool.query(
      `INSERT INTO sync_runs (org_id, account_id, provider, trigger, fence, outcome, started_at, finished_at, duration_ms)
       VALUES ($1, $2, 'mono', 'scheduled', 1, $3, now() - make_interval(hours => $4), CASE WHEN $3 <> 'running' THEN now() - make_interval(hours => $4) END, $5)`,
      [orgId, accountId, outcome, hoursAgo, durationMs],
    );

  beforeAll(async () => {
    env = await startApi();
    a = await seedOrg(env.db, 'Org A', 2); // 4 mono accounts
    b = await seedOrg(env.db, 'Org B', 1);
    opA = await token({ orgId: a.orgId, sub: 'op-1', roles: ['operator'] });
    userA = await token({ orgId: a.orgId, sub: 'user-1' });
    adminB = await token({ orgId: b.orgId, sub: 'admin-1', roles: ['admin'] });
    const [a0, a1, a2, a3] = a.accounts as [string, string, string, string];
    await env.db.pool.query(`UPDATE accounts SET status = 'auth_required' WHERE id = $1`, [a1]);
    await env.db.pool.query(`UPDATE accounts SET status = 'disabled' WHERE id = $1`, [a3]);
    await env.db.pool.query(`UPDATE accounts SET last_success_at = '2026-01-02T03:04:05Z' WHERE id = $1`, [a0]);
    await env.db.pool.query(`UPDATE accounts SET last_success_at = now() WHERE id = $1`, [a1]);
    await env.db.pool.query(`UPDATE accounts SET last_success_at = '2020-01-01T00:00:00Z' WHERE id = $1`, [a3]); // disabled: not counted
    // Last 24 h: 20 succeeded runs of 100..2000 ms, 5 failed of 50 ms; plus an old run and a running one (not counted).
    for (let i = 1; i <= 20; i++) await run(i % 2 ? a0 : a2, a.orgId, 'succeeded', i * 100, 1);
    for (let i = 0; i < 5; i++) await run(a1, a.orgId, 'failed', 50, 2);
    await run(a0, a.orgId, 'succeeded', 99_999, 30);
    await run(a0, a.orgId, 'running', null, 0);
    await run(b.accounts[0]!, b.orgId, 'failed', 10, 1);
  });
  afterAll(async () => env?.close());

  it('summarises per provider for operators: accounts by status, success rate, p95, the stalest success', async () => {
    const res = await env.http({ url: '/v1/sync/summary', headers: bearer(opA) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      providers: [
        {
          provider: 'mono',
          accountsByStatus: { active: 2, auth_required: 1, disabled: 1 },
          last24h: { runs: 25, succeeded: 20, failed: 5, successRate: 0.8, p95DurationMs: 1900 },
          oldestSuccessAt: '2026-01-02T03:04:05.000Z',
          neverSucceeded: 1,
        },
      ],
    });
    const other = (await env.http({ url: '/v1/sync/summary', headers: bearer(adminB) })).json();
    expect(other.providers).toEqual([
      expect.objectContaining({ accountsByStatus: { active: 2 }, last24h: expect.objectContaining({ runs: 1 }) }),
    ]);
    expect((await env.http({ url: '/v1/sync/summary', headers: bearer(userA) })).statusCode).toBe(403);
    expect((await env.http({ url: '/v1/sync/summary' })).statusCode).toBe(401);
  });

  it('lists re-auth episodes with pushes and attempts, paginated, with nothing secret', async () => {
    const episodes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = randomUUID();
      episodes.push(id);
      await env.db.pool.query(
        `INSERT INTO notification_episodes (id, org_id, account_id, provider, opened_run_id, opened_at, reason, closed_at)
         VALUES ($1, $2, $3, 'mono', $4, now() - make_interval(mins => $5), 'consent revoked', CASE WHEN $5 > 10 THEN now() END)`,
        [id, a.orgId, a.accounts[1], `run-${i}`, 30 - i * 10],
      );
    }
    const push = await env.db.pool.query<{ id: string }>(
      `INSERT INTO notifications (org_id, account_id, user_id, kind, episode, status, provider, idempotency_key, deep_link, web_url, onesignal_id, attempts, last_error)
       VALUES ($1, $2, $3, 'reauth', $4, 'delivered', 'mono', $5, 'intellifin://reauth?token=sekrit-link-token', 'https://x/reauth', 'os-notification-id', 2, NULL)
       RETURNING id`,
      [a.orgId, a.accounts[1], a.users['user-1'], episodes[2], randomUUID()],
    );
    await env.db.pool.query(
      `INSERT INTO notification_attempts (org_id, notification_id, attempt, action, idempotency_key, http_status, outcome, onesignal_id, retry_after_ms, error, started_at)
       VALUES ($1, $2, 1, 'create', $3, 429, 'retry', NULL, 2000, 'rate limited; Authorization: Bearer os-app-key-123456', now() - interval '1 minute'),
              ($1, $2, 2, 'create', $3, 200, 'delivered', 'os-notification-id', NULL, NULL, now())`,
      [a.orgId, push.rows[0]!.id, randomUUID()],
    );
    // Another organisation's episode: never listed.
    await env.db.pool.query(
      `INSERT INTO notification_episodes (org_id, account_id, provider, opened_run_id, opened_at) VALUES ($1, $2, 'mono', 'run-b', now())`,
      [b.orgId, b.accounts[0]],
    );

    const first = await env.http({ url: '/v1/notifications?limit=2', headers: bearer(opA) });
    expect(first.statusCode).toBe(200);
    const p1 = first.json();
    expect(p1.episodes.map((e: { id: string }) => e.id)).toEqual([episodes[2], episodes[1]]);
    expect(p1.episodes[0].pushes).toEqual([
      expect.objectContaining({
        kind: 'reauth',
        status: 'delivered',
        attemptCount: 2,
        attempts: [
          expect.objectContaining({ attempt: 1, httpStatus: 429, outcome: 'retry', retryAfterMs: 2000 }),
          expect.objectContaining({ attempt: 2, httpStatus: 200, outcome: 'delivered' }),
        ],
      }),
    ]);
    expect(first.body).not.toMatch(/sekrit|os-app-key-123456|os-notification-id|deep|idempotency|reauth\?/);
    const p2 = (await env.http({ url: `/v1/notifications?limit=2&cursor=${p1.nextCursor}`, headers: bearer(opA) })).json();
    expect(p2.episodes.map((e: { id: string }) => e.id)).toEqual([episodes[0]]);
    expect(p2.episodes[0].closedAt).not.toBeNull();
    expect(p2.nextCursor).toBeNull();

    expect((await env.http({ url: '/v1/notifications', headers: bearer(adminB) })).json().episodes).toHaveLength(1);
    expect((await env.http({ url: '/v1/notifications', headers: bearer(userA) })).statusCode).toBe(403);
    for (const q of ['cursor=bogus', 'limit=0', 'limit=101', 'page=2']) {
      const res = await env.http({ url: `/v1/notifications?${q}`, headers: bearer(opA) });
      expect([q, res.statusCode]).toEqual([q, 400]);
      expect(res.json().message).toContain('querystring');
    }
  });
});
