import { CredentialsCipher, readCredential } from '@intellifin/persistence';
import { TEST_KEY_RING } from './helpers';
import { airtelLinkBody, momoLinkBody, startLinkEnv, type LinkEnv } from './linking.helpers';

/**
 * Linking against the simulators: the provider verifies first (good and wrong credentials, Mono
 * codes), nothing is stored on a refusal or an outage, the credential is stored encrypted, the
 * caller's user row and the account are created, the first sync is queued (trigger link), and a
 * second link answers the existing account. Roles and organisations.
 */
jest.setTimeout(60_000);

let env: LinkEnv;
beforeAll(async () => {
  env = await startLinkEnv();
});
afterAll(async () => {
  await env?.close();
});

const counts = async () =>
  (
    await env.api.db.pool.query<{ accounts: number; credentials: number; users: number; requests: number }>(
      `SELECT (SELECT count(*) FROM accounts)::int AS accounts, (SELECT count(*) FROM provider_credentials)::int AS credentials,
              (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM sync_requests)::int AS requests`,
    )
  ).rows[0]!;

describe('MoMo', () => {
  it('refuses a wrong API key with a 400 that says so, and stores nothing', async () => {
    const before = await counts();
    const res = await env.api.http({
      method: 'POST',
      url: '/v1/accounts/momo',
      headers: await env.auth(),
      payload: momoLinkBody(env.momoAccounts[0]!, { apiKey: 'not-the-key' }),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'credentials_rejected' });
    expect(res.json().message).toMatch(/rejected/);
    expect(res.body).not.toContain('not-the-key');
    expect(await counts()).toEqual(before);
  });

  it('answers 503 when MoMo is down, and stores nothing', async () => {
    const before = await counts();
    const fault = await env.control(env.momo, 'POST', '/faults', { route: 'POST /collection/token/', kind: 'status', status: 503 });
    try {
      const res = await env.api.http({
        method: 'POST',
        url: '/v1/accounts/momo',
        headers: await env.auth(),
        payload: momoLinkBody(env.momoAccounts[0]!),
      });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: 'provider_unavailable' });
      expect(res.json().message).toMatch(/nothing was stored/);
    } finally {
      await env.control(env.momo, 'DELETE', '/faults');
    }
    void fault;
    expect(await counts()).toEqual(before);
  });

  it('links a wallet: credential encrypted, user and account created, first sync queued (link); a second link answers the same account', async () => {
    const a = env.momoAccounts[0]!;
    const res = await env.api.http({ method: 'POST', url: '/v1/accounts/momo', headers: await env.auth(), payload: momoLinkBody(a) });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({
      outcome: 'created',
      account: { provider: 'momo', providerLabel: 'MTN MoMo', type: 'mobile_money', status: 'active', displayName: 'Shop till' },
      command: { trigger: 'link', mode: 'full', lane: 'priority', coalesced: false },
    });
    expect(body.account.run.status).toBe('queued');
    expect(res.body).not.toContain(a.credentials.apiKey);

    const { rows } = await env.api.db.pool.query(
      `SELECT a.provider_account_id, a.currency, a.credential_id, u.external_id, c.ciphertext
         FROM accounts a JOIN users u ON u.id = a.user_id JOIN provider_credentials c ON c.id = a.credential_id WHERE a.id = $1`,
      [body.account.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider_account_id: a.credentials.apiUser, currency: a.currency, external_id: 'user-1' });
    expect((rows[0].ciphertext as Buffer).toString('latin1')).not.toContain(a.credentials.apiKey);
    const stored = await readCredential<Record<string, unknown>>(
      env.api.db.pool,
      new CredentialsCipher(TEST_KEY_RING),
      rows[0].credential_id,
    );
    expect(stored!.secret).toEqual({
      apiUser: a.credentials.apiUser,
      apiKey: a.credentials.apiKey,
      subscriptionKeys: a.credentials.subscriptionKeys,
    });
    const req = await env.api.db.pool.query(`SELECT trigger, mode, requested_by FROM sync_requests WHERE account_id = $1`, [
      body.account.id,
    ]);
    expect(req.rows).toEqual([{ trigger: 'link', mode: 'full', requested_by: 'user-1' }]);

    const before = await counts();
    const again = await env.api.http({ method: 'POST', url: '/v1/accounts/momo', headers: await env.auth(), payload: momoLinkBody(a) });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ outcome: 'existing', account: { id: body.account.id }, command: null });
    expect(await counts()).toEqual(before);
  });

  it('refuses the same wallet for another user of the organisation, and for another organisation (409)', async () => {
    const a = env.momoAccounts[0]!;
    const before = await counts();
    const other = await env.api.http({
      method: 'POST',
      url: '/v1/accounts/momo',
      headers: await env.auth({ sub: 'user-2' }),
      payload: momoLinkBody(a),
    });
    expect(other.statusCode).toBe(409);
    expect(other.json()).toMatchObject({ error: 'already_linked' });
    const foreign = await env.api.http({
      method: 'POST',
      url: '/v1/accounts/momo',
      headers: await env.auth({ orgId: env.otherOrgId }),
      payload: momoLinkBody(a),
    });
    expect(foreign.statusCode).toBe(409);
    expect(foreign.json()).toMatchObject({ error: 'already_linked' });
    // user-2's row came and went with the refused transaction
    expect((await counts()).accounts).toBe(before.accounts);
    expect((await counts()).credentials).toBe(before.credentials);
  });

  it('validates the body at the boundary (400 naming the field)', async () => {
    const res = await env.api.http({
      method: 'POST',
      url: '/v1/accounts/momo',
      headers: await env.auth(),
      payload: momoLinkBody(env.momoAccounts[1]!, { currency: 'XXX' }),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().issues.map((i: { field: string }) => i.field)).toContain('body.currency');
  });
});

describe('Airtel', () => {
  it('refuses a wrong client secret (400), links with the right one (201), answers the same account again (200)', async () => {
    const a = env.airtelAccounts[0]!;
    const before = await counts();
    const wrong = await env.api.http({
      method: 'POST',
      url: '/v1/accounts/airtel',
      headers: await env.auth(),
      payload: airtelLinkBody(a, { clientSecret: 'wrong-secret' }),
    });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json()).toMatchObject({ error: 'credentials_rejected' });
    expect(wrong.json().message).toMatch(/client credentials rejected/);
    expect(await counts()).toEqual(before);

    const res = await env.api.http({ method: 'POST', url: '/v1/accounts/airtel', headers: await env.auth(), payload: airtelLinkBody(a) });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      outcome: 'created',
      account: { provider: 'airtel', providerLabel: 'Airtel Money' },
      command: { trigger: 'link' },
    });
    const id = res.json().account.id;
    const { rows } = await env.api.db.pool.query(`SELECT credential_id FROM accounts WHERE id = $1`, [id]);
    const stored = await readCredential<Record<string, unknown>>(
      env.api.db.pool,
      new CredentialsCipher(TEST_KEY_RING),
      rows[0].credential_id,
    );
    expect(stored!.secret).toEqual({ clientId: a.credentials.clientId, clientSecret: a.credentials.clientSecret, country: a.country });

    const again = await env.api.http({ method: 'POST', url: '/v1/accounts/airtel', headers: await env.auth(), payload: airtelLinkBody(a) });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ outcome: 'existing', account: { id }, command: null });
  });
});

describe('Mono', () => {
  it('links with a Connect code (exchanged, currency from Mono); the same request again answers the account; Mono refuses the spent code to anyone else', async () => {
    const { code, accountId } = await env.monoCode();
    const res = await env.api.http({ method: 'POST', url: '/v1/accounts/mono', headers: await env.auth(), payload: { code } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ outcome: 'created', account: { provider: 'mono', type: 'bank' }, command: { trigger: 'link' } });
    const { rows } = await env.api.db.pool.query(`SELECT provider_account_id, credential_id, display_name FROM accounts WHERE id = $1`, [
      res.json().account.id,
    ]);
    expect(rows[0]).toMatchObject({ provider_account_id: accountId, credential_id: null });
    expect(rows[0].display_name).toEqual(expect.any(String));

    // A retry of the same request (its answer lost): the spent code answers the account it linked.
    const before = await counts();
    const again = await env.api.http({ method: 'POST', url: '/v1/accounts/mono', headers: await env.auth(), payload: { code } });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ outcome: 'existing', account: { id: res.json().account.id }, command: null });
    expect(await counts()).toEqual(before);
    // Mono itself refuses the spent code (single use): another user sending it gets the 400.
    const other = await env.api.http({
      method: 'POST',
      url: '/v1/accounts/mono',
      headers: await env.auth({ sub: 'user-3' }),
      payload: { code },
    });
    expect(other.statusCode).toBe(400);
    expect(other.json()).toMatchObject({ error: 'credentials_rejected' });
  });

  it('refuses an unknown code (400) and answers 503 when Mono is down', async () => {
    const before = await counts();
    const bad = await env.api.http({ method: 'POST', url: '/v1/accounts/mono', headers: await env.auth(), payload: { code: 'code_nope' } });
    expect(bad.statusCode).toBe(400);
    await env.control(env.mono, 'POST', '/faults', { route: 'POST /v2/accounts/auth', kind: 'status', status: 502 });
    try {
      const { code } = await env.monoCode();
      const down = await env.api.http({ method: 'POST', url: '/v1/accounts/mono', headers: await env.auth(), payload: { code } });
      expect(down.statusCode).toBe(503);
    } finally {
      await env.control(env.mono, 'DELETE', '/faults');
    }
    expect(await counts()).toEqual(before);
  });
});

describe('roles', () => {
  it('only a caller with the user role links (an operator-only token: 403); no token: 401', async () => {
    const op = await env.api.http({
      method: 'POST',
      url: '/v1/accounts/airtel',
      headers: await env.auth({ roles: ['operator'] }),
      payload: airtelLinkBody(env.airtelAccounts[1]!),
    });
    expect(op.statusCode).toBe(403);
    const none = await env.api.http({ method: 'POST', url: '/v1/accounts/airtel', payload: airtelLinkBody(env.airtelAccounts[1]!) });
    expect(none.statusCode).toBe(401);
  });
});

describe('metrics', () => {
  it('counts links by provider and result', async () => {
    const m = await env.api.registry.getSingleMetric('intellifin_sync_api_links_total')!.get();
    const value = (provider: string, result: string) =>
      m.values.find((v) => v.labels.provider === provider && v.labels.result === result)?.value ?? 0;
    expect(value('momo', 'created')).toBe(1);
    expect(value('momo', 'rejected')).toBe(1);
    expect(value('momo', 'unavailable')).toBe(1);
    expect(value('momo', 'existing')).toBe(1);
    expect(value('momo', 'conflict')).toBe(2);
    expect(value('airtel', 'rejected')).toBe(1);
    expect(value('mono', 'created')).toBe(1);
    // Labels never carry a key, a code or an account id.
    expect(JSON.stringify(m.values)).not.toContain(env.momoAccounts[0]!.credentials.apiKey);
    const requests = await env.api.registry.getSingleMetric('intellifin_sync_api_provider_request_duration_seconds')!.get();
    expect(requests.values.some((v) => v.labels.route === 'POST /collection/token/' && v.labels.status === '401')).toBe(true);
  });
});
