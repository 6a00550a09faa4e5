import { generateKeyPair, SignJWT } from 'jose';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { ISSUER, AUDIENCE, bearer, seedOrg, startApi, token, unsignedToken, type ApiEnv, type Org } from './helpers';

/**
 * REST reads against real Postgres (row-level security as intellifin_api), Redis and NATS: auth,
 * org and owner scoping, the three statuses, run history with filters and cursors, validation,
 * ETag/304, compression and the OpenAPI document.
 */
describe('sync-api REST reads', () => {
  let env: ApiEnv;
  let a: Org;
  let b: Org;
  let userA: string;
  let adminA: string;

  beforeAll(async () => {
    env = await startApi();
    a = await seedOrg(env.db, 'Org A', 2);
    b = await seedOrg(env.db, 'Org B', 1);
    userA = await token({ orgId: a.orgId, sub: 'user-1' });
    adminA = await token({ orgId: a.orgId, sub: 'admin-1', roles: ['admin'] });
  });
  afterAll(async () => env?.close());

  const get = (url: string, headers: Record<string, string> = {}) => env.http({ url, headers });

  describe('authentication', () => {
    it('refuses a request without a token, with an expired one, a wrong audience or issuer, alg none and a wrong key', async () => {
      const cases: [string, Record<string, string>][] = [
        ['none', {}],
        ['not bearer', { authorization: 'Basic dXNlcjpwYXNz' }],
        ['garbage', bearer('not-a-jwt')],
        ['expired', bearer(await token({ orgId: a.orgId, expiresIn: Math.floor(Date.now() / 1000) - 60 }))],
        ['audience', bearer(await token({ orgId: a.orgId, audience: 'someone-else' }))],
        ['issuer', bearer(await token({ orgId: a.orgId, issuer: 'https://evil.example' }))],
        ['alg none', bearer(unsignedToken(a.orgId))],
        ['wrong key', bearer(await token({ orgId: a.orgId, secret: 'another-secret-that-is-32-characters-or-more' }))],
        ['no roles', bearer(await token({ orgId: a.orgId, roles: ['superuser'] }))],
      ];
      for (const [name, headers] of cases) {
        const res = await get('/v1/accounts', headers);
        expect([name, res.statusCode]).toEqual([name, 401]);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
        expect(res.json().error).toBe('unauthorized');
      }
      const expired = await get('/v1/accounts', bearer(await token({ orgId: a.orgId, expiresIn: Math.floor(Date.now() / 1000) - 60 })));
      expect(expired.json().message).toMatch(/expired/);
    });

    it('refuses an RS256 token when configured for HS256 (algorithm confusion)', async () => {
      const { privateKey } = await generateKeyPair('RS256');
      const rs = await new SignJWT({ org_id: a.orgId, roles: ['admin'] })
        .setProtectedHeader({ alg: 'RS256' })
        .setSubject('user-1')
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime('5m')
        .sign(privateKey);
      const res = await get('/v1/accounts', bearer(rs));
      expect(res.statusCode).toBe(401);
    });
  });

  describe('scoping', () => {
    it('a user sees their own accounts; an admin the whole organisation; nobody another organisation', async () => {
      const mine = await get('/v1/accounts', bearer(userA));
      expect(mine.statusCode).toBe(200);
      const ids = mine
        .json()
        .accounts.map((x: { id: string }) => x.id)
        .sort();
      expect(ids).toEqual(a.accounts.slice(0, 2).sort());
      const all = await get('/v1/accounts', bearer(adminA));
      expect(
        all
          .json()
          .accounts.map((x: { id: string }) => x.id)
          .sort(),
      ).toEqual([...a.accounts].sort());
      for (const x of all.json().accounts) expect(b.accounts).not.toContain(x.id);
    });

    it("another organisation's account is a 404 on every account route, as is another user's for a plain user", async () => {
      const foreign = b.accounts[0]!;
      const otherUsers = a.accounts[2]!;
      for (const id of [foreign, otherUsers]) {
        for (const url of [`/v1/accounts/${id}/sync-status`, `/v1/accounts/${id}/sync-runs`, `/v1/accounts/${id}/sync-runs/${id}`]) {
          const res = await get(url, bearer(userA));
          expect([url, res.statusCode, res.json().error]).toEqual([url, 404, 'not_found']);
        }
        for (const url of [`/v1/accounts/${id}/sync`, `/v1/accounts/${id}/sync/cancel`]) {
          const res = await env.http({ method: 'POST', url, headers: bearer(userA), payload: {} });
          expect([url, res.statusCode]).toEqual([url, 404]);
        }
      }
      // The admin of org A still cannot see org B's account.
      expect((await get(`/v1/accounts/${foreign}/sync-status`, bearer(adminA))).statusCode).toBe(404);
      expect((await get(`/v1/accounts/${otherUsers}/sync-status`, bearer(adminA))).statusCode).toBe(200);
    });
  });

  describe('status', () => {
    it('shows provider, balance, the three statuses, the next scheduled sync and the last error with a readable hint', async () => {
      const id = a.accounts[0]!;
      await env.db.pool.query(
        `UPDATE accounts SET balance_minor = 123456789012, balance_as_of = '2026-03-01T10:00:00Z', last_success_at = '2026-03-01T10:00:00Z',
                status = 'error', last_error_code = 'provider_unavailable', last_error = 'HTTP 503 from /v2/accounts/***' WHERE id = $1`,
        [id],
      );
      await env.db.pool.query(
        `INSERT INTO sync_runs (org_id, account_id, provider, trigger, mode, fence, outcome, started_at, finished_at, window_from, window_to, error_kind, error_code)
         VALUES ($1, $2, 'mono', 'scheduled', 'transactions', 1, 'succeeded', '2026-03-01T09:59:00Z', '2026-03-01T10:00:00Z', '2025-12-01', '2026-03-01', NULL, NULL),
                ($1, $2, 'mono', 'scheduled', 'transactions', 2, 'failed', '2026-03-01T11:00:00Z', '2026-03-01T11:00:01Z', NULL, NULL, 'retryable', 'provider_unavailable')`,
        [a.orgId, id],
      );
      await env.db.pool.query(
        `INSERT INTO sync_due (account_id, provider, org_id, due_at, planned_slot, mode, trigger) VALUES ($1, 'mono', $2, '2026-03-01T12:00:00Z', '2026-03-01T12:00:00Z', 'transactions', 'scheduled')`,
        [id, a.orgId],
      );
      const res = await get(`/v1/accounts/${id}/sync-status`, bearer(userA));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        id,
        provider: 'mono',
        providerLabel: 'Mono',
        status: 'error',
        balance: { minor: '123456789012', currency: 'ZMW', asOf: '2026-03-01T10:00:00.000Z' },
        lastSuccessAt: '2026-03-01T10:00:00.000Z',
        lastError: { code: 'provider_unavailable', hint: expect.stringMatching(/not answering/) },
        nextSyncAt: '2026-03-01T12:00:00.000Z',
        nextManualSyncAllowedAt: null,
        connection: { health: 'provider_down' },
        run: { status: 'failed', code: 'provider_unavailable' },
        data: { completeness: 'history_complete' },
      });
      const other = await get(`/v1/accounts/${a.accounts[1]}/sync-status`, bearer(userA));
      expect(other.json()).toMatchObject({
        balance: null,
        connection: { health: 'ok' },
        run: { status: 'idle' },
        data: { completeness: 'not_ready' },
        nextSyncAt: null,
      });
    });

    it('connection health: reauth_required, expiring, unlinked; run status: running', async () => {
      const id = a.accounts[1]!;
      const health = async () => (await get(`/v1/accounts/${id}/sync-status`, bearer(userA))).json();
      await env.db.pool.query(`UPDATE accounts SET status = 'auth_required' WHERE id = $1`, [id]);
      expect((await health()).connection.health).toBe('reauth_required');
      await env.db.pool.query(`UPDATE accounts SET status = 'active', consent_expires_at = now() + interval '2 days' WHERE id = $1`, [id]);
      expect((await health()).connection).toEqual({ health: 'expiring', expiresAt: expect.any(String) });
      await env.db.pool.query(`UPDATE accounts SET status = 'disabled', consent_expires_at = NULL WHERE id = $1`, [id]);
      expect((await health()).connection.health).toBe('unlinked');
      await env.db.pool.query(`UPDATE accounts SET status = 'active' WHERE id = $1`, [id]);
      await env.db.pool.query(
        `INSERT INTO sync_runs (org_id, account_id, provider, trigger, mode, fence, outcome) VALUES ($1, $2, 'mono', 'manual', 'transactions', 1, 'running')`,
        [a.orgId, id],
      );
      expect((await health()).run).toMatchObject({ status: 'running', since: expect.any(String) });
    });
  });

  describe('run history', () => {
    let acct: string;
    beforeAll(async () => {
      acct = a.accounts[2]!;
      // 25 runs, alternating outcome and trigger, one minute apart.
      await env.db.pool.query(
        `INSERT INTO sync_runs (org_id, account_id, provider, trigger, mode, fence, outcome, started_at, finished_at, pages, added, trace_id, worker)
         SELECT $1, $2, 'mono', CASE WHEN i % 3 = 0 THEN 'manual' ELSE 'scheduled' END, 'transactions', i,
                CASE WHEN i % 2 = 0 THEN 'succeeded' ELSE 'failed' END,
                timestamptz '2026-03-01T00:00:00Z' + make_interval(mins => i), timestamptz '2026-03-01T00:00:30Z' + make_interval(mins => i),
                i, i * 10, 'trace-' || i, 'mono-worker@test'
           FROM generate_series(1, 25) AS i`,
        [a.orgId, acct],
      );
    });
    const admin = () => bearer(adminA);

    it('pages through every run newest first with the cursor, without gaps or repeats', async () => {
      const seen: string[] = [];
      let url = `/v1/accounts/${acct}/sync-runs?limit=7`;
      for (let pages = 0; pages < 10; pages++) {
        const res = await get(url, admin());
        expect(res.statusCode).toBe(200);
        const body = res.json();
        seen.push(...body.runs.map((r: { startedAt: string }) => r.startedAt));
        if (!body.nextCursor) break;
        url = `/v1/accounts/${acct}/sync-runs?limit=7&cursor=${encodeURIComponent(body.nextCursor)}`;
      }
      expect(seen).toHaveLength(25);
      expect(new Set(seen).size).toBe(25);
      expect([...seen].sort().reverse()).toEqual(seen);
    });

    it('filters by status, trigger and time range', async () => {
      const q = async (query: string) => (await get(`/v1/accounts/${acct}/sync-runs?limit=100&${query}`, admin())).json().runs as any[];
      const failed = await q('status=failed');
      expect(failed).toHaveLength(13);
      expect(failed.every((r) => r.outcome === 'failed')).toBe(true);
      const manual = await q('trigger=manual');
      expect(manual).toHaveLength(8);
      const range = await q(`from=${encodeURIComponent('2026-03-01T00:10:00Z')}&to=${encodeURIComponent('2026-03-01T00:15:00Z')}`);
      expect(range.map((r) => r.pages)).toEqual([14, 13, 12, 11, 10]);
      const combined = await q(`status=succeeded&trigger=manual&from=${encodeURIComponent('2026-03-01T00:10:00Z')}`);
      expect(combined.map((r) => r.pages)).toEqual([24, 18, 12]);
    });

    it('returns one run in full', async () => {
      const list = (await get(`/v1/accounts/${acct}/sync-runs?limit=1`, admin())).json();
      const runId = list.runs[0].id;
      const res = await get(`/v1/accounts/${acct}/sync-runs/${runId}`, admin());
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        id: runId,
        accountId: acct,
        outcome: 'failed',
        pages: 25,
        counts: { added: 250, modified: 0, unchanged: 0 },
        traceId: 'trace-25',
        worker: 'mono-worker@test',
        startedAt: '2026-03-01T00:25:00.000Z',
      });
      // A run of another account, asked for under this one: 404.
      expect((await get(`/v1/accounts/${a.accounts[0]}/sync-runs/${runId}`, admin())).statusCode).toBe(404);
    });
  });

  describe('validation', () => {
    it('answers 400 with a message per field, never a 500', async () => {
      const cases = [
        '/v1/accounts/not-a-uuid/sync-status',
        `/v1/accounts/${a.accounts[0]}/sync-runs?limit=0`,
        `/v1/accounts/${a.accounts[0]}/sync-runs?limit=abc&status=weird`,
        `/v1/accounts/${a.accounts[0]}/sync-runs?from=yesterday`,
        `/v1/accounts/${a.accounts[0]}/sync-runs?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z`,
        `/v1/accounts/${a.accounts[0]}/sync-runs?cursor=bm90LWEtY3Vyc29y`,
        `/v1/accounts/${a.accounts[0]}/sync-runs?unknown=1`,
        `/v1/accounts/${a.accounts[0]}/sync-runs/123`,
      ];
      for (const url of cases) {
        const res = await get(url, bearer(userA));
        expect([url, res.statusCode]).toEqual([url, 400]);
        expect(res.json().message).toEqual(expect.any(String));
      }
      const multi = (await get(`/v1/accounts/${a.accounts[0]}/sync-runs?limit=abc&status=weird`, bearer(userA))).json();
      expect(multi.issues.map((i: { field: string }) => i.field).sort()).toEqual(['querystring.limit', 'querystring.status']);
      const id = (await get('/v1/accounts/x/sync-status', bearer(userA))).json();
      expect(id.issues[0].field).toBe('params.id');
    });

    it('a malformed URL is a 400 in our error shape that does not echo the URL (a secret in its query)', async () => {
      const res = await get('/v1/accounts/%/sync-status?clientSecret=sEcReT-never-echoed', bearer(userA));
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: 'bad_url', message: 'the URL is malformed' });
      expect(JSON.stringify(res.headers) + res.body).not.toContain('sEcReT-never-echoed');
    });
  });

  describe('slow networks', () => {
    it('carries an ETag and answers 304 to If-None-Match; a change gives a new tag', async () => {
      const url = `/v1/accounts/${a.accounts[0]}/sync-status`;
      const first = await get(url, bearer(userA));
      const tag = first.headers.etag as string;
      expect(tag).toMatch(/^W\/"/);
      const again = await get(url, { ...bearer(userA), 'if-none-match': tag });
      expect(again.statusCode).toBe(304);
      expect(again.body).toBe('');
      await env.db.pool.query(`UPDATE accounts SET balance_minor = 1 WHERE id = $1`, [a.accounts[0]]);
      const changed = await get(url, { ...bearer(userA), 'if-none-match': tag });
      expect(changed.statusCode).toBe(200);
      expect(changed.headers.etag).not.toBe(tag);
    });

    it('compresses with gzip and br', async () => {
      const plain = await get('/v1/accounts', bearer(adminA));
      expect(plain.body.length).toBeGreaterThan(1024);
      const gz = await get('/v1/accounts', { ...bearer(adminA), 'accept-encoding': 'gzip' });
      expect(gz.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(gz.rawPayload).toString()).toBe(plain.body);
      const br = await get('/v1/accounts', { ...bearer(adminA), 'accept-encoding': 'br' });
      expect(br.headers['content-encoding']).toBe('br');
      expect(brotliDecompressSync(br.rawPayload).toString()).toBe(plain.body);
    });
  });

  describe('docs', () => {
    it('serves the OpenAPI 3.1 document generated from the route schemas, and the browsable page', async () => {
      const res = await get('/docs/openapi.json');
      expect(res.statusCode).toBe(200);
      const doc = res.json();
      expect(doc.openapi).toBe('3.1.0');
      // Every /v1 route of every area is in the document (the routes outside /v1 are checked by their own tests).
      expect(
        Object.keys(doc.paths)
          .filter((p) => p.startsWith('/v1/'))
          .sort(),
      ).toEqual([
        '/v1/accounts',
        '/v1/accounts/airtel',
        '/v1/accounts/momo',
        '/v1/accounts/mono',
        '/v1/accounts/{id}',
        '/v1/accounts/{id}/credentials',
        '/v1/accounts/{id}/reauth',
        '/v1/accounts/{id}/settings',
        '/v1/accounts/{id}/sync',
        '/v1/accounts/{id}/sync-runs',
        '/v1/accounts/{id}/sync-runs/{runId}',
        '/v1/accounts/{id}/sync-status',
        '/v1/accounts/{id}/sync/cancel',
        '/v1/accounts/{id}/transactions/changes',
        '/v1/dead-letters',
        '/v1/dead-letters/{id}/discard',
        '/v1/dead-letters/{id}/replay',
        '/v1/events',
        '/v1/notifications',
        '/v1/queue/stats',
        '/v1/settings/sync',
        '/v1/sync',
        '/v1/sync/summary',
      ]);
      const params = doc.paths['/v1/accounts/{id}/sync-runs'].get.parameters.map((p: { name: string }) => p.name).sort();
      expect(params).toEqual(['cursor', 'from', 'id', 'limit', 'status', 'to', 'trigger']);
      expect(doc.paths['/v1/accounts/{id}/sync'].post.responses).toHaveProperty('202');
      expect(doc.paths['/v1/accounts/{id}/sync'].post.responses).toHaveProperty('429');
      const page = await get('/docs/');
      expect(page.statusCode).toBe(200);
      expect(page.body).toMatch(/swagger/i);
    });
  });
});
