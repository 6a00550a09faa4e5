import { airtelLinkBody, momoLinkBody, startLinkEnv, type LinkEnv } from './linking.helpers';

/**
 * Repair and unlink without workers: the Mono re-link URL (issued by Mono, then reused while valid),
 * credentials replaced only after the provider accepts them, unlink with its retention rule, and who
 * may do each (the account's user, an admin; never another user or organisation: 404).
 */
jest.setTimeout(60_000);

let env: LinkEnv;
let monoAccount: string;
let momoAccount: string;
let airtelAccount: string;

beforeAll(async () => {
  env = await startLinkEnv();
  const link = async (url: string, payload: unknown) =>
    (await env.api.http({ method: 'POST', url, headers: await env.auth(), payload })).json().account.id as string;
  monoAccount = await link('/v1/accounts/mono', { code: (await env.monoCode()).code });
  momoAccount = await link('/v1/accounts/momo', momoLinkBody(env.momoAccounts[1]!));
  airtelAccount = await link('/v1/accounts/airtel', airtelLinkBody(env.airtelAccounts[1]!));
});
afterAll(async () => {
  await env?.close();
});

const account = async (id: string) =>
  (
    await env.api.db.pool.query(
      `SELECT a.status, a.reauth_url, a.reauth_url_expires_at, a.credential_id, a.fence::int AS fence, c.version
         FROM accounts a LEFT JOIN provider_credentials c ON c.id = a.credential_id WHERE a.id = $1`,
      [id],
    )
  ).rows[0];

describe('POST /v1/accounts/:id/reauth (Mono)', () => {
  it('asks Mono for a re-link URL, stores it, and answers the stored one while it is valid', async () => {
    const first = await env.api.http({ method: 'POST', url: `/v1/accounts/${monoAccount}/reauth`, headers: await env.auth() });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ accountId: monoAccount, reused: false });
    expect(first.json().url).toMatch(new RegExp(`^${env.mono.url}/__sandbox/link/`));
    const stored = await account(monoAccount);
    expect(stored.reauth_url).toBe(first.json().url);
    expect(stored.reauth_url_expires_at.toISOString()).toBe(first.json().expiresAt);

    const second = await env.api.http({ method: 'POST', url: `/v1/accounts/${monoAccount}/reauth`, headers: await env.auth() });
    expect(second.json()).toEqual({ ...first.json(), reused: true });
    const initiations = await env.control<{ requests: { route: string }[] }>(env.mono, 'GET', '/requests?limit=1000');
    expect(
      initiations.requests.filter((r) => r.route === 'POST /v2/accounts/initiate' || r.route === '/v2/accounts/initiate'),
    ).toHaveLength(
      // one by the test's own Connect link (scope auth), one re-link
      2,
    );
  });

  it('is for Mono accounts only (409), and 404 for another user or organisation; an admin may', async () => {
    const wallet = await env.api.http({ method: 'POST', url: `/v1/accounts/${momoAccount}/reauth`, headers: await env.auth() });
    expect(wallet.statusCode).toBe(409);
    expect(wallet.json()).toMatchObject({ error: 'reauth_not_supported' });
    const other = await env.api.http({
      method: 'POST',
      url: `/v1/accounts/${monoAccount}/reauth`,
      headers: await env.auth({ sub: 'user-2' }),
    });
    expect(other.statusCode).toBe(404);
    const foreign = await env.api.http({
      method: 'POST',
      url: `/v1/accounts/${monoAccount}/reauth`,
      headers: await env.auth({ orgId: env.otherOrgId, roles: ['admin'] }),
    });
    expect(foreign.statusCode).toBe(404);
    const operator = await env.api.http({
      method: 'POST',
      url: `/v1/accounts/${monoAccount}/reauth`,
      headers: await env.auth({ sub: 'op-1', roles: ['operator'] }),
    });
    expect(operator.statusCode).toBe(403);
    const admin = await env.api.http({
      method: 'POST',
      url: `/v1/accounts/${monoAccount}/reauth`,
      headers: await env.auth({ sub: 'admin-1', roles: ['admin'] }),
    });
    expect(admin.statusCode).toBe(200);
  });
});

describe('PUT /v1/accounts/:id/credentials', () => {
  it('MoMo: a wrong key is a 400 and changes nothing; the right one replaces the credential (new version) and queues a repair sync', async () => {
    const before = await account(momoAccount);
    const wrong = await env.api.http({
      method: 'PUT',
      url: `/v1/accounts/${momoAccount}/credentials`,
      headers: await env.auth(),
      payload: { apiKey: 'definitely-wrong' },
    });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json()).toMatchObject({ error: 'credentials_rejected' });
    expect(await account(momoAccount)).toEqual(before);

    const right = await env.api.http({
      method: 'PUT',
      url: `/v1/accounts/${momoAccount}/credentials`,
      headers: await env.auth(),
      payload: { apiKey: env.momoAccounts[1]!.credentials.apiKey },
    });
    expect(right.statusCode).toBe(200);
    expect(right.json()).toMatchObject({
      account: { id: momoAccount, status: 'active' },
      command: { trigger: 'repair', lane: 'priority' },
      episodeEnded: false,
    });
    const after = await account(momoAccount);
    expect(after).toMatchObject({
      status: 'active',
      credential_id: before.credential_id,
      version: before.version + 1,
      fence: before.fence + 1,
    });
  });

  it('Airtel down: 503 saying nothing changed, and nothing did', async () => {
    const before = await account(airtelAccount);
    await env.control(env.airtel, 'POST', '/faults', { route: 'POST /auth/oauth2/token', kind: 'status', status: 503 });
    try {
      const res = await env.api.http({
        method: 'PUT',
        url: `/v1/accounts/${airtelAccount}/credentials`,
        headers: await env.auth(),
        payload: { clientSecret: env.airtelAccounts[1]!.credentials.clientSecret },
      });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: 'provider_unavailable' });
    } finally {
      await env.control(env.airtel, 'DELETE', '/faults');
    }
    expect(await account(airtelAccount)).toEqual(before);
  });

  it('names the field that does not fit the account (400), and sends Mono accounts to reauth (409)', async () => {
    const foreignField = await env.api.http({
      method: 'PUT',
      url: `/v1/accounts/${momoAccount}/credentials`,
      headers: await env.auth(),
      payload: { clientSecret: 'x' },
    });
    expect(foreignField.statusCode).toBe(400);
    expect(foreignField.json().issues).toEqual([expect.objectContaining({ field: 'body.clientSecret' })]);
    const missing = await env.api.http({
      method: 'PUT',
      url: `/v1/accounts/${airtelAccount}/credentials`,
      headers: await env.auth(),
      payload: {},
    });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().issues).toEqual([expect.objectContaining({ field: 'body.clientSecret' })]);
    const otherWallet = await env.api.http({
      method: 'PUT',
      url: `/v1/accounts/${airtelAccount}/credentials`,
      headers: await env.auth(),
      payload: { clientId: env.airtelAccounts[2]!.credentials.clientId, clientSecret: env.airtelAccounts[2]!.credentials.clientSecret },
    });
    expect(otherWallet.statusCode).toBe(400);
    expect(otherWallet.json().issues).toEqual([expect.objectContaining({ field: 'body.clientId' })]);
    const mono = await env.api.http({
      method: 'PUT',
      url: `/v1/accounts/${monoAccount}/credentials`,
      headers: await env.auth(),
      payload: { apiKey: 'k' },
    });
    expect(mono.statusCode).toBe(409);
    expect(mono.json()).toMatchObject({ error: 'credentials_not_supported' });
    const foreign = await env.api.http({
      method: 'PUT',
      url: `/v1/accounts/${airtelAccount}/credentials`,
      headers: await env.auth({ orgId: env.otherOrgId }),
      payload: { clientSecret: 'x' },
    });
    expect(foreign.statusCode).toBe(404);
  });
});

describe('DELETE /v1/accounts/:id', () => {
  it('unlinks: disabled, credential erased, queued syncs cancelled, transactions kept; erase=true erases them; linking again relinks', async () => {
    const { rows } = await env.api.db.pool.query(`SELECT org_id, credential_id FROM accounts WHERE id = $1`, [airtelAccount]);
    const credentialId = rows[0].credential_id;
    await env.api.db.pool.query(
      `INSERT INTO transactions (org_id, account_id, provider_txn_id, amount_minor, currency, direction, status, booked_at, raw)
       SELECT $1, $2, 'tx-' || g, 100 * g, 'ZMW', 'credit', 'posted', now(), '{}'::jsonb FROM generate_series(1, 3) g`,
      [rows[0].org_id, airtelAccount],
    );
    expect(
      (await env.api.http({ method: 'DELETE', url: `/v1/accounts/${airtelAccount}`, headers: await env.auth({ sub: 'user-2' }) }))
        .statusCode,
    ).toBe(404);
    expect(
      (
        await env.api.http({
          method: 'DELETE',
          url: `/v1/accounts/${airtelAccount}`,
          headers: await env.auth({ orgId: env.otherOrgId, roles: ['admin'] }),
        })
      ).statusCode,
    ).toBe(404);

    const res = await env.api.http({ method: 'DELETE', url: `/v1/accounts/${airtelAccount}`, headers: await env.auth() });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      accountId: airtelAccount,
      status: 'disabled',
      credentialErased: true,
      data: 'kept',
      transactionsErased: 0,
    });
    expect(res.json().cancelledQueued).toBe(1); // the link sync no worker ran
    expect((await env.api.db.pool.query(`SELECT 1 FROM provider_credentials WHERE id = $1`, [credentialId])).rows).toHaveLength(0);
    expect((await account(airtelAccount)).status).toBe('disabled');
    const status = (await env.api.http({ url: `/v1/accounts/${airtelAccount}/sync-status`, headers: await env.auth() })).json();
    expect(status.connection.health).toBe('unlinked');
    const count = async () =>
      (await env.api.db.pool.query(`SELECT count(*)::int AS n FROM transactions WHERE account_id = $1`, [airtelAccount])).rows[0].n;
    expect(await count()).toBe(3);
    const sync = await env.api.http({ method: 'POST', url: `/v1/accounts/${airtelAccount}/sync`, headers: await env.auth(), payload: {} });
    expect(sync.statusCode).toBe(409);

    const erase = await env.api.http({ method: 'DELETE', url: `/v1/accounts/${airtelAccount}?erase=true`, headers: await env.auth() });
    expect(erase.json()).toMatchObject({ data: 'erased', transactionsErased: 3 });
    expect(await count()).toBe(0);

    const relink = await env.api.http({
      method: 'POST',
      url: '/v1/accounts/airtel',
      headers: await env.auth(),
      payload: airtelLinkBody(env.airtelAccounts[1]!),
    });
    expect(relink.statusCode).toBe(200);
    expect(relink.json()).toMatchObject({
      outcome: 'relinked',
      account: { id: airtelAccount, status: 'active' },
      command: { trigger: 'link' },
    });
    expect((await account(airtelAccount)).credential_id).not.toBeNull();
  });

  it('rejects a bad erase flag (400 naming it)', async () => {
    const res = await env.api.http({ method: 'DELETE', url: `/v1/accounts/${monoAccount}?erase=yes`, headers: await env.auth() });
    expect(res.statusCode).toBe(400);
    expect(res.json().issues[0].field).toBe('querystring.erase');
  });
});
