/**
 * MTN MoMo contract tests, written from providers.md §2 (what the MoMo Open API does).
 */
import { randomUUID } from 'node:crypto';
import { startMomo } from '../src/momo';
import type { RunningSimulator } from '../src/shared/server';
import type { MomoState } from '../src/momo/state';
import { basic, EPOCH, json, post, receiver } from './helpers';

let sim: RunningSimulator<MomoState>;
let hooks: Awaited<ReturnType<typeof receiver>>;
let acct: { id: string; credentials: { apiUser: string; apiKey: string; subscriptionKeys: { collection: string; disbursement: string } } };

beforeEach(async () => {
  hooks = await receiver();
  sim = await startMomo({ port: 0, seed: 5, epoch: EPOCH, clock: 'manual', accounts: 2, callbackPlan: 'always' });
  acct = (await json(await fetch(`${sim.url}/__sandbox/accounts`))).accounts[0];
});
afterEach(async () => {
  await sim.close();
  await hooks.close();
});

const ENV = 'mtnzambia';
const colKey = () => acct.credentials.subscriptionKeys.collection;
const disKey = () => acct.credentials.subscriptionKeys.disbursement;
const advance = (body: Record<string, number>) => post(`${sim.url}/__sandbox/clock/advance`, body);

async function token(
  product: 'collection' | 'disbursement' = 'collection',
  user = acct.credentials.apiUser,
  key = acct.credentials.apiKey,
): Promise<string> {
  const res = await fetch(`${sim.url}/${product}/token/`, {
    method: 'POST',
    headers: { authorization: basic(user, key), 'ocp-apim-subscription-key': product === 'collection' ? colKey() : disKey() },
  });
  expect(res.status).toBe(200);
  return (await json(res)).access_token;
}

function headers(
  tok: string,
  extra: Record<string, string> = {},
  product: 'collection' | 'disbursement' = 'collection',
): Record<string, string> {
  return {
    authorization: `Bearer ${tok}`,
    'ocp-apim-subscription-key': product === 'collection' ? colKey() : disKey(),
    'x-target-environment': ENV,
    'content-type': 'application/json',
    ...extra,
  };
}

function rtp(tok: string, ref: string, body: Record<string, unknown> = {}, extra: Record<string, string> = {}) {
  return fetch(`${sim.url}/collection/v1_0/requesttopay`, {
    method: 'POST',
    headers: headers(tok, { 'x-reference-id': ref, ...extra }),
    body: JSON.stringify({
      amount: '150.50',
      currency: 'ZMW',
      externalId: 'order-1',
      payer: { partyIdType: 'MSISDN', partyId: '260961234567' },
      payerMessage: 'Subscription fee',
      payeeNote: 'Acct 8841',
      ...body,
    }),
  });
}

const status = (tok: string, ref: string) => fetch(`${sim.url}/collection/v1_0/requesttopay/${ref}`, { headers: headers(tok) });

/** Restart the simulator's data with other settings (same seed) and re-read the first account. */
async function resetWith(settings: Record<string, unknown>): Promise<void> {
  expect((await post(`${sim.url}/__sandbox/reset`, settings)).status).toBe(200);
  acct = (await json(await fetch(`${sim.url}/__sandbox/accounts`))).accounts[0];
}

describe('MoMo provisioning (§2.2)', () => {
  // The provisioning API is MTN's sandbox tool: X-Target-Environment "sandbox".
  beforeEach(() => resetWith({ targetEnvironment: 'sandbox' }));

  test('apiuser 201 with empty body; reused X-Reference-Id → 409 RESOURCE_ALREADY_EXIST; non-UUIDv4 → 400', async () => {
    const id = randomUUID();
    const h = { 'x-reference-id': id, 'ocp-apim-subscription-key': colKey() };
    const r1 = await post(`${sim.url}/v1_0/apiuser`, { providerCallbackHost: 'webhook.example.com' }, h);
    expect(r1.status).toBe(201);
    expect(await r1.text()).toBe('');
    const r2 = await post(`${sim.url}/v1_0/apiuser`, { providerCallbackHost: 'webhook.example.com' }, h);
    expect(r2.status).toBe(409);
    expect((await json(r2)).code).toBe('RESOURCE_ALREADY_EXIST');
    expect((await post(`${sim.url}/v1_0/apiuser`, { providerCallbackHost: 'x' }, { ...h, 'x-reference-id': 'order-123' })).status).toBe(
      400,
    );
    const info = await json(await fetch(`${sim.url}/v1_0/apiuser/${id}`, { headers: { 'ocp-apim-subscription-key': colKey() } }));
    expect(info.providerCallbackHost).toBe('webhook.example.com');
    expect(typeof info.targetEnvironment).toBe('string');
  });

  test('token before any API key → 500 login_failed; each /apikey call returns a new key and the new key gets a token', async () => {
    const id = randomUUID();
    await post(
      `${sim.url}/v1_0/apiuser`,
      { providerCallbackHost: 'webhook.example.com' },
      { 'x-reference-id': id, 'ocp-apim-subscription-key': colKey() },
    );
    const early = await fetch(`${sim.url}/collection/token/`, {
      method: 'POST',
      headers: { authorization: basic(id, 'nothing-yet'), 'ocp-apim-subscription-key': colKey() },
    });
    expect(early.status).toBe(500);
    expect(await json(early)).toEqual({ error: 'login_failed' });
    const k1 = await post(`${sim.url}/v1_0/apiuser/${id}/apikey`, undefined, { 'ocp-apim-subscription-key': colKey() });
    expect(k1.status).toBe(201);
    const key1 = (await json(k1)).apiKey;
    const key2 = (await json(await post(`${sim.url}/v1_0/apiuser/${id}/apikey`, undefined, { 'ocp-apim-subscription-key': colKey() })))
      .apiKey;
    expect(key2).not.toBe(key1);
    expect(typeof (await token('collection', id, key2))).toBe('string');
  });

  test('key regeneration: by default the previous key and its tokens stop working', async () => {
    const oldKey = acct.credentials.apiKey;
    const oldTok = await token();
    const res = await post(`${sim.url}/v1_0/apiuser/${acct.credentials.apiUser}/apikey`, undefined, {
      'ocp-apim-subscription-key': colKey(),
    });
    expect(res.status).toBe(201);
    const newKey = (await json(res)).apiKey;
    const login = await fetch(`${sim.url}/collection/token/`, {
      method: 'POST',
      headers: { authorization: basic(acct.credentials.apiUser, oldKey), 'ocp-apim-subscription-key': colKey() },
    });
    expect(login.status).toBe(401);
    expect(
      (await fetch(`${sim.url}/collection/v1_0/account/balance`, { headers: { ...headers(oldTok), 'x-target-environment': 'sandbox' } }))
        .status,
    ).toBe(401);
    expect(typeof (await token('collection', acct.credentials.apiUser, newKey))).toBe('string');
  });

  test('key regeneration is undocumented about the old key [U]: revokeOldKeyOnRegenerate=false keeps it and its tokens valid', async () => {
    await resetWith({ targetEnvironment: 'sandbox', revokeOldKeyOnRegenerate: false });
    const oldKey = acct.credentials.apiKey;
    const oldTok = await token();
    const newKey = (
      await json(
        await post(`${sim.url}/v1_0/apiuser/${acct.credentials.apiUser}/apikey`, undefined, { 'ocp-apim-subscription-key': colKey() }),
      )
    ).apiKey;
    expect(newKey).not.toBe(oldKey);
    expect(typeof (await token('collection', acct.credentials.apiUser, oldKey))).toBe('string');
    expect(typeof (await token('collection', acct.credentials.apiUser, newKey))).toBe('string');
    expect(
      (await fetch(`${sim.url}/collection/v1_0/account/balance`, { headers: { ...headers(oldTok), 'x-target-environment': 'sandbox' } }))
        .status,
    ).toBe(200);
  });

  test('production environments have no provisioning API (Partner Portal instead) → APIM 404', async () => {
    await resetWith({ targetEnvironment: 'mtnzambia' });
    const h = { 'x-reference-id': randomUUID(), 'ocp-apim-subscription-key': colKey() };
    const created = await post(`${sim.url}/v1_0/apiuser`, { providerCallbackHost: 'webhook.example.com' }, h);
    expect(created.status).toBe(404);
    expect(await json(created)).toEqual({ statusCode: 404, message: expect.any(String) });
    expect(
      (await post(`${sim.url}/v1_0/apiuser/${acct.credentials.apiUser}/apikey`, undefined, { 'ocp-apim-subscription-key': colKey() }))
        .status,
    ).toBe(404);
    expect(
      (await fetch(`${sim.url}/v1_0/apiuser/${acct.credentials.apiUser}`, { headers: { 'ocp-apim-subscription-key': colKey() } })).status,
    ).toBe(404);
    // The portal-issued credentials still work.
    expect(typeof (await token())).toBe('string');
  });
});

describe('MoMo token and gateway auth (§2.3, §2.10)', () => {
  test('POST /collection/token/ with Basic + subscription key → access_token, expires_in 3600', async () => {
    const res = await fetch(`${sim.url}/collection/token/`, {
      method: 'POST',
      headers: { authorization: basic(acct.credentials.apiUser, acct.credentials.apiKey), 'ocp-apim-subscription-key': colKey() },
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toEqual({ access_token: expect.any(String), token_type: 'access_token', expires_in: 3600 });
  });

  test('wrong API key → 401 {error}; wrong or other-product subscription key → 401 APIM body; body on /token → 400', async () => {
    const bad = await fetch(`${sim.url}/collection/token/`, {
      method: 'POST',
      headers: { authorization: basic(acct.credentials.apiUser, 'wrong'), 'ocp-apim-subscription-key': colKey() },
    });
    expect(bad.status).toBe(401);
    expect(typeof (await json(bad)).error).toBe('string');
    for (const sk of ['not-a-key', disKey()]) {
      const r = await fetch(`${sim.url}/collection/token/`, {
        method: 'POST',
        headers: { authorization: basic(acct.credentials.apiUser, acct.credentials.apiKey), 'ocp-apim-subscription-key': sk },
      });
      expect(r.status).toBe(401);
      expect(await json(r)).toEqual({ statusCode: 401, message: expect.stringContaining('invalid subscription key') });
    }
    const withBody = await fetch(`${sim.url}/collection/token/`, {
      method: 'POST',
      headers: {
        authorization: basic(acct.credentials.apiUser, acct.credentials.apiKey),
        'ocp-apim-subscription-key': colKey(),
        'content-type': 'application/json',
      },
      body: '{}',
    });
    expect(withBody.status).toBe(400);
  });

  test('tokens expire after expires_in seconds of simulator time → 401 on business calls', async () => {
    const tok = await token();
    expect((await fetch(`${sim.url}/collection/v1_0/account/balance`, { headers: headers(tok) })).status).toBe(200);
    await advance({ seconds: 3601 });
    const r = await fetch(`${sim.url}/collection/v1_0/account/balance`, { headers: headers(tok) });
    expect(r.status).toBe(401);
    expect((await json(r)).statusCode).toBe(401);
  });

  test('revoked key: token call and existing tokens fail; repair restores', async () => {
    const tok = await token();
    await post(`${sim.url}/__sandbox/accounts/${acct.id}/revoke`);
    expect((await fetch(`${sim.url}/collection/v1_0/account/balance`, { headers: headers(tok) })).status).toBe(401);
    const t = await fetch(`${sim.url}/collection/token/`, {
      method: 'POST',
      headers: { authorization: basic(acct.credentials.apiUser, acct.credentials.apiKey), 'ocp-apim-subscription-key': colKey() },
    });
    expect(t.status).toBe(401);
    await post(`${sim.url}/__sandbox/accounts/${acct.id}/repair`);
    const fresh = await token();
    expect((await fetch(`${sim.url}/collection/v1_0/account/balance`, { headers: headers(fresh) })).status).toBe(200);
  });

  test('X-Target-Environment: missing → 400, wrong environment → NOT_ALLOWED_TARGET_ENVIRONMENT', async () => {
    const tok = await token();
    const h = headers(tok);
    delete h['x-target-environment'];
    expect((await fetch(`${sim.url}/collection/v1_0/account/balance`, { headers: h })).status).toBe(400);
    const wrong = await fetch(`${sim.url}/collection/v1_0/account/balance`, { headers: { ...h, 'x-target-environment': 'sandbox' } });
    expect(wrong.status).toBeGreaterThanOrEqual(400);
    expect((await json(wrong)).code).toBe('NOT_ALLOWED_TARGET_ENVIRONMENT');
  });
});

describe('MoMo balance and request-to-pay (§2.4, §2.5)', () => {
  test('balance: availableBalance and currency are strings', async () => {
    const body = await json(await fetch(`${sim.url}/collection/v1_0/account/balance`, { headers: headers(await token()) }));
    expect(body).toEqual({ availableBalance: expect.stringMatching(/^\d+(\.\d+)?$/), currency: 'ZMW' });
  });

  test('request-to-pay: 202 empty, PENDING without financialTransactionId, then SUCCESSFUL with it', async () => {
    const tok = await token();
    const ref = randomUUID();
    await post(`${sim.url}/__sandbox/msisdn-scenarios`, {
      '260961234567': [
        { after: 0, status: 'PENDING' },
        { after: 30_000, status: 'SUCCESSFUL' },
      ],
    });
    const res = await rtp(tok, ref);
    expect(res.status).toBe(202);
    expect(await res.text()).toBe('');
    const pending = await json(await status(tok, ref));
    expect(pending).toMatchObject({
      status: 'PENDING',
      amount: '150.50',
      currency: 'ZMW',
      externalId: 'order-1',
      payer: { partyIdType: 'MSISDN', partyId: '260961234567' },
    });
    expect(pending.financialTransactionId).toBeUndefined();
    await advance({ seconds: 31 });
    const done = await json(await status(tok, ref));
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.financialTransactionId).toMatch(/^\d+$/);
  });

  test('a failed request-to-pay is HTTP 200 with status FAILED and a string reason', async () => {
    const tok = await token();
    const ref = randomUUID();
    await rtp(tok, ref, { payer: { partyIdType: 'MSISDN', partyId: '46733123450' } });
    const res = await status(tok, ref);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.status).toBe('FAILED');
    expect(typeof body.reason).toBe('string');
  });

  test('reused X-Reference-Id → 409; non-UUIDv4 → 400; wrong currency → 400; notes over 160 chars → 400', async () => {
    const tok = await token();
    const ref = randomUUID();
    expect((await rtp(tok, ref)).status).toBe(202);
    const dup = await rtp(tok, ref);
    expect(dup.status).toBe(409);
    expect(await json(dup)).toEqual({ code: 'RESOURCE_ALREADY_EXIST', message: expect.any(String) });
    expect((await rtp(tok, 'order-55812')).status).toBe(400);
    expect((await rtp(tok, randomUUID(), { currency: 'EUR' })).status).toBe(400);
    expect((await rtp(tok, randomUUID(), { payerMessage: 'x'.repeat(161) })).status).toBe(400);
  });

  test('unknown reference → 404 RESOURCE_NOT_FOUND', async () => {
    const res = await status(await token(), randomUUID());
    expect(res.status).toBe(404);
    expect(await json(res)).toEqual({ code: 'RESOURCE_NOT_FOUND', message: 'Requested resource was not found.' });
  });

  test('special characters in payerMessage: accepted with 202, later unknown (404)', async () => {
    const tok = await token();
    const ref = randomUUID();
    expect((await rtp(tok, ref, { payerMessage: "Tom's fees & levies" })).status).toBe(202);
    expect((await status(tok, ref)).status).toBe(404);
  });

  test('there is no transaction-history endpoint: invented routes → 404', async () => {
    const tok = await token();
    for (const path of ['/collection/v1_0/transactions', '/collection/v1_0/account/transactions', '/collection/v2_0/requesttopay']) {
      expect((await fetch(`${sim.url}${path}`, { headers: headers(tok) })).status).toBe(404);
    }
  });
});

describe('MoMo callbacks, disbursements and the sandbox environment (§2.6, §2.7, §2.12, §2.14)', () => {
  test('one callback with the final status representation to X-Callback-Url', async () => {
    const tok = await token();
    const ref = randomUUID();
    await post(`${sim.url}/__sandbox/msisdn-scenarios`, {
      '260961234567': [
        { after: 0, status: 'PENDING' },
        { after: 10_000, status: 'SUCCESSFUL' },
      ],
    });
    await rtp(tok, ref, {}, { 'x-callback-url': `${hooks.url}/momo` });
    await advance({ seconds: 5 });
    expect(hooks.received).toHaveLength(0);
    await advance({ seconds: 10 });
    const [cb] = await hooks.waitFor(1);
    expect(['PUT', 'POST']).toContain(cb!.method);
    expect(cb!.body).toMatchObject({ status: 'SUCCESSFUL', externalId: 'order-1', financialTransactionId: expect.any(String) });
    await advance({ minutes: 30 });
    await new Promise((r) => setTimeout(r, 50));
    expect(hooks.received).toHaveLength(1);
  });

  test('callback host must match the API user providerCallbackHost → 400 INVALID_CALLBACK_URL_HOST', async () => {
    // The registered host comes from the configured callback URL (portal / sandbox registration).
    await resetWith({ callbackUrl: 'http://callbacks.example.com/momo' });
    const tok = await token();
    const res = await rtp(tok, randomUUID(), {}, { 'x-callback-url': 'http://127.0.0.1:9/cb' });
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe('INVALID_CALLBACK_URL_HOST');
  });

  test('no X-Callback-Url → no callback (MTN calls back only to X-Callback-Url); callbackWithoutHeader opts into the registered URL', async () => {
    await resetWith({ callbackUrl: `${hooks.url}/registered` });
    await post(`${sim.url}/__sandbox/msisdn-scenarios`, {
      '260961234567': [
        { after: 0, status: 'PENDING' },
        { after: 10_000, status: 'SUCCESSFUL' },
      ],
    });
    const tok = await token();
    const ref = randomUUID();
    expect((await rtp(tok, ref)).status).toBe(202);
    await advance({ seconds: 11 });
    expect((await json(await status(tok, ref))).status).toBe('SUCCESSFUL');
    const out = await json(await fetch(`${sim.url}/__sandbox/outbox?waitMs=200`));
    expect(out.deliveries).toEqual([]);
    expect(hooks.received).toHaveLength(0);

    await resetWith({ callbackUrl: `${hooks.url}/registered`, callbackWithoutHeader: true });
    await post(`${sim.url}/__sandbox/msisdn-scenarios`, {
      '260961234567': [
        { after: 0, status: 'PENDING' },
        { after: 10_000, status: 'SUCCESSFUL' },
      ],
    });
    const tok2 = await token();
    await rtp(tok2, randomUUID());
    await advance({ seconds: 11 });
    const [cb] = await hooks.waitFor(1);
    expect(cb!.path).toBe('/hooks/registered');
  });

  test('callback plan "never" holds when the lifecycle is advanced through the control API', async () => {
    await resetWith({ callbackPlan: 'never' });
    await post(`${sim.url}/__sandbox/msisdn-scenarios`, { '260961234567': [{ after: 0, status: 'PENDING' }] });
    const tok = await token();
    const ref = randomUUID();
    await rtp(tok, ref, {}, { 'x-callback-url': `${hooks.url}/momo` });
    await post(`${sim.url}/__sandbox/references/${ref}/advance`, { status: 'SUCCESSFUL' });
    await advance({ hours: 1 });
    const out = await json(await fetch(`${sim.url}/__sandbox/outbox?waitMs=200`));
    expect(out.deliveries.map((d: { state: string }) => d.state)).toEqual(['dropped']);
    expect(hooks.received).toHaveLength(0);
  });

  test('empty payerMessage/payeeNote: 500 in production (laravel-mtn-momo #69), accepted in the sandbox', async () => {
    const tok = await token();
    const r1 = await rtp(tok, randomUUID(), { payerMessage: '' });
    expect(r1.status).toBe(500);
    expect((await json(r1)).code).toBe('INTERNAL_PROCESSING_ERROR');
    expect((await rtp(tok, randomUUID(), { payeeNote: '' })).status).toBe(500);
    await resetWith({ targetEnvironment: 'sandbox' });
    const tok2 = await token();
    const r2 = await fetch(`${sim.url}/collection/v1_0/requesttopay`, {
      method: 'POST',
      headers: { ...headers(tok2, { 'x-reference-id': randomUUID() }), 'x-target-environment': 'sandbox' },
      body: JSON.stringify({
        amount: '5',
        currency: 'EUR',
        externalId: 'x',
        payer: { partyIdType: 'MSISDN', partyId: '46733123454' },
        payerMessage: '',
        payeeNote: '',
      }),
    });
    expect(r2.status).toBe(202);
  });

  test('disbursement transfer: 202, status shows payee, balance falls once SUCCESSFUL', async () => {
    const tok = await token('disbursement');
    const before = await json(await fetch(`${sim.url}/disbursement/v1_0/account/balance`, { headers: headers(tok, {}, 'disbursement') }));
    const ref = randomUUID();
    const res = await fetch(`${sim.url}/disbursement/v1_0/transfer`, {
      method: 'POST',
      headers: headers(tok, { 'x-reference-id': ref }, 'disbursement'),
      body: JSON.stringify({
        amount: '10',
        currency: 'ZMW',
        externalId: 'payout-1',
        payee: { partyIdType: 'MSISDN', partyId: '260971112223' },
        payerMessage: 'Refund',
        payeeNote: 'Refund',
      }),
    });
    expect(res.status).toBe(202);
    await advance({ minutes: 2 });
    const st = await json(await fetch(`${sim.url}/disbursement/v1_0/transfer/${ref}`, { headers: headers(tok, {}, 'disbursement') }));
    expect(st.payee).toEqual({ partyIdType: 'MSISDN', partyId: '260971112223' });
    expect(st.payer).toBeUndefined();
    const after = await json(await fetch(`${sim.url}/disbursement/v1_0/account/balance`, { headers: headers(tok, {}, 'disbursement') }));
    const delta = Math.round(Number(before.availableBalance) * 100) - Math.round(Number(after.availableBalance) * 100);
    expect(delta).toBe(st.status === 'SUCCESSFUL' ? 1000 : 0);
  });

  test('sandbox environment: EUR only; test number 453 stays PENDING, 454 goes CREATED then SUCCESSFUL', async () => {
    await post(`${sim.url}/__sandbox/reset`, { targetEnvironment: 'sandbox' });
    acct = (await json(await fetch(`${sim.url}/__sandbox/accounts`))).accounts[0];
    const tok = await token();
    const h = (ref: string) => ({ ...headers(tok, { 'x-reference-id': ref }), 'x-target-environment': 'sandbox' });
    const create = (ref: string, msisdn: string, currency = 'EUR') =>
      fetch(`${sim.url}/collection/v1_0/requesttopay`, {
        method: 'POST',
        headers: h(ref),
        body: JSON.stringify({
          amount: '5',
          currency,
          externalId: 'x',
          payer: { partyIdType: 'MSISDN', partyId: msisdn },
          payerMessage: 'm',
          payeeNote: 'n',
        }),
      });
    expect((await create(randomUUID(), '46733123453', 'ZMW')).status).toBe(400);
    const [a, b] = [randomUUID(), randomUUID()];
    await create(a, '46733123453');
    await create(b, '46733123454');
    const get = async (ref: string) =>
      (await json(await fetch(`${sim.url}/collection/v1_0/requesttopay/${ref}`, { headers: h(ref) }))).status;
    expect(await get(b)).toBe('CREATED');
    await advance({ seconds: 26 });
    expect(await get(b)).toBe('SUCCESSFUL');
    await advance({ minutes: 50 });
    expect(await get(a)).toBe('PENDING');
  });

  test('control: advance a reference lifecycle to FAILED with a reason', async () => {
    const tok = await token();
    const ref = randomUUID();
    await post(`${sim.url}/__sandbox/msisdn-scenarios`, { '260961234567': [{ after: 0, status: 'PENDING' }] });
    await rtp(tok, ref);
    await post(`${sim.url}/__sandbox/references/${ref}/advance`, { status: 'FAILED', reason: 'NOT_ENOUGH_FUNDS' });
    expect(await json(await status(tok, ref))).toMatchObject({ status: 'FAILED', reason: 'NOT_ENOUGH_FUNDS' });
    const truth = await json(await fetch(`${sim.url}/__sandbox/truth/${acct.id}`));
    expect(truth.references.find((r: { id: string }) => r.id === ref)).toMatchObject({
      status: 'FAILED',
      amount: 15050,
      amountWire: '150.50',
      currency: 'ZMW',
    });
  });
});
