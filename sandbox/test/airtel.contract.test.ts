/**
 * Airtel Money contract tests, written from providers.md §3 (what the Airtel Open API does).
 */
import { startAirtel } from '../src/airtel';
import type { AirtelState } from '../src/airtel/state';
import type { RunningSimulator } from '../src/shared/server';
import { EPOCH, json, post, receiver } from './helpers';

let sim: RunningSimulator<AirtelState>;
let hooks: Awaited<ReturnType<typeof receiver>>;
let acct: { id: string; country: string; currency: string; credentials: { clientId: string; clientSecret: string } };

beforeEach(async () => {
  hooks = await receiver();
  sim = await startAirtel({
    port: 0,
    seed: 3,
    epoch: EPOCH,
    clock: 'manual',
    accounts: 2,
    callbackUrl: `${hooks.url}/airtel`,
    callbackPlan: 'always',
  });
  acct = (await json(await fetch(`${sim.url}/__sandbox/accounts`))).accounts[0];
});
afterEach(async () => {
  await sim.close();
  await hooks.close();
});

const advance = (body: Record<string, number>) => post(`${sim.url}/__sandbox/clock/advance`, body);
const tokenRes = (secret = acct.credentials.clientSecret, extra: Record<string, unknown> = {}) =>
  post(`${sim.url}/auth/oauth2/token`, {
    client_id: acct.credentials.clientId,
    client_secret: secret,
    grant_type: 'client_credentials',
    ...extra,
  });
const token = async () => (await json(await tokenRes())).access_token as string;
const hdrs = (tok: string, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${tok}`,
  'x-country': 'ZM',
  'x-currency': 'ZMW',
  'content-type': 'application/json',
  accept: '*/*',
  ...extra,
});

function push(tok: string, id: string, over: { msisdn?: string; amount?: unknown } = {}, headers: Record<string, string> = {}) {
  return fetch(`${sim.url}/merchant/v1/payments/`, {
    method: 'POST',
    headers: hdrs(tok, headers),
    body: JSON.stringify({
      reference: id,
      subscriber: { country: 'ZM', currency: 'ZMW', msisdn: over.msisdn ?? '971234567' },
      transaction: { amount: over.amount ?? 150, country: 'ZM', currency: 'ZMW', id },
    }),
  });
}
const enquire = (tok: string, id: string) => fetch(`${sim.url}/standard/v1/payments/${id}`, { headers: hdrs(tok) });

describe('Airtel token (§3.2)', () => {
  test('client credentials → access_token, expires_in as a string, token_type bearer', async () => {
    const res = await tokenRes();
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ access_token: expect.any(String), expires_in: '180', token_type: 'bearer' });
  });

  test('wrong secret → 401; missing grant_type → 400', async () => {
    expect((await tokenRes('wrong')).status).toBe(401);
    expect(
      (await post(`${sim.url}/auth/oauth2/token`, { client_id: acct.credentials.clientId, client_secret: acct.credentials.clientSecret }))
        .status,
    ).toBe(400);
  });

  test('short-lived tokens: after expires_in seconds business calls answer 401', async () => {
    const tok = await token();
    expect((await fetch(`${sim.url}/standard/v1/users/balance`, { headers: hdrs(tok) })).status).toBe(200);
    await advance({ seconds: 181 });
    expect((await fetch(`${sim.url}/standard/v1/users/balance`, { headers: hdrs(tok) })).status).toBe(401);
  });

  test('rejected credentials: token call and issued tokens fail until repaired', async () => {
    const tok = await token();
    await post(`${sim.url}/__sandbox/accounts/${acct.id}/revoke`);
    expect((await fetch(`${sim.url}/standard/v1/users/balance`, { headers: hdrs(tok) })).status).toBe(401);
    expect((await tokenRes()).status).toBe(401);
    await post(`${sim.url}/__sandbox/accounts/${acct.id}/repair`);
    expect((await tokenRes()).status).toBe(200);
  });
});

describe('Airtel headers and envelope (§3.1, §3.3, §3.6)', () => {
  test('X-Country / X-Currency: missing → ROUTER003, invalid country → ROUTER006, other country → ROUTER007, wrong currency → ROUTER112', async () => {
    const tok = await token();
    const bal = (h: Record<string, string>) => fetch(`${sim.url}/standard/v1/users/balance`, { headers: h });
    const noCountry = hdrs(tok);
    delete (noCountry as Record<string, string>)['x-country'];
    const cases: [Record<string, string>, string][] = [
      [noCountry, 'ROUTER003'],
      [hdrs(tok, { 'x-country': 'XX' }), 'ROUTER006'],
      [hdrs(tok, { 'x-country': 'UG', 'x-currency': 'UGX' }), 'ROUTER007'],
      [hdrs(tok, { 'x-currency': 'UGX' }), 'ROUTER112'],
    ];
    for (const [h, code] of cases) {
      const r = await bal(h);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(JSON.stringify(await json(r))).toContain(code);
    }
  });

  test('balance: decimal string in major units inside the {data, status} envelope', async () => {
    const body = await json(await fetch(`${sim.url}/standard/v1/users/balance`, { headers: hdrs(await token()) }));
    expect(body.data).toEqual({ balance: expect.stringMatching(/^\d+\.\d{2}$/), currency: 'ZMW', account_status: 'Active' });
    expect(body.status).toEqual({
      response_code: 'DP02100000001',
      code: '200',
      success: true,
      result_code: 'ESB000010',
      message: expect.any(String),
    });
  });

  test('no history endpoint: invented /standard/v1/users/transactions → 404', async () => {
    const tok = await token();
    for (const path of ['/standard/v1/users/transactions?limit=10&offset=0', '/standard/v1/payments', '/merchant/v1/transactions']) {
      expect((await fetch(`${sim.url}${path}`, { headers: hdrs(tok) })).status).toBe(404);
    }
  });
});

describe('Airtel USSD-push collection and enquiry (§3.4, §3.5, §3.7)', () => {
  test('push answers 200 DP00800001006 "Success." — push sent, not paid; enquiry shows TIP', async () => {
    const tok = await token();
    const res = await push(tok, 'SUB8841A');
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.data.transaction).toEqual({ id: 'SUB8841A', status: 'Success.' });
    expect(body.status).toMatchObject({ response_code: 'DP00800001006', code: '200', success: true, result_code: 'ESB000010' });
    const enq = await json(await enquire(tok, 'SUB8841A'));
    expect(enq.data.transaction.status).toBe('TIP');
    expect(enq.data.transaction.airtel_money_id).toBeUndefined();
  });

  test('TIP → TS: airtel_money_id appears; one callback with status_code TS', async () => {
    const tok = await token();
    await push(tok, 'SUB8841B');
    await post(`${sim.url}/__sandbox/references/SUB8841B/advance`, { status: 'TS' });
    const enq = await json(await enquire(tok, 'SUB8841B'));
    expect(enq.data.transaction).toMatchObject({ id: 'SUB8841B', status: 'TS', airtel_money_id: expect.any(String) });
    expect(enq.status.response_code).toBe('DP00800001001');
    const [cb] = await hooks.waitFor(1);
    expect(cb!.body).toEqual({
      transaction: {
        id: 'SUB8841B',
        message: expect.any(String),
        status_code: 'TS',
        airtel_money_id: enq.data.transaction.airtel_money_id,
      },
    });
  });

  test('callback plan "never" holds when the lifecycle is advanced through the control API', async () => {
    await post(`${sim.url}/__sandbox/reset`, { callbackPlan: 'never' });
    const tok = await token();
    await push(tok, 'SUB8841N');
    await post(`${sim.url}/__sandbox/references/SUB8841N/advance`, { status: 'TS' });
    await advance({ hours: 1 });
    expect((await json(await enquire(await token(), 'SUB8841N'))).data.transaction.status).toBe('TS');
    const out = await json(await fetch(`${sim.url}/__sandbox/outbox?waitMs=200`));
    const mine = out.deliveries.filter((d: { body: { transaction: { id: string } } }) => d.body.transaction.id === 'SUB8841N');
    expect(mine.map((d: { state: string }) => d.state)).toEqual(['dropped']);
    expect(hooks.received.filter((r) => r.body.transaction.id === 'SUB8841N')).toHaveLength(0);
  });

  test('TIP → TA → TF: ambiguous then failed with a DP code; no airtel_money_id', async () => {
    const tok = await token();
    await push(tok, 'SUB8841C');
    await post(`${sim.url}/__sandbox/references/SUB8841C/advance`, { status: 'TA' });
    expect((await json(await enquire(tok, 'SUB8841C'))).data.transaction.status).toBe('TA');
    await post(`${sim.url}/__sandbox/references/SUB8841C/advance`, { status: 'TF', code: 'DP00800001007' });
    const enq = await json(await enquire(tok, 'SUB8841C'));
    expect(enq.data.transaction.status).toBe('TF');
    expect(enq.data.transaction.airtel_money_id).toBeUndefined();
    expect(enq.status.response_code).toBe('DP00800001007');
  });

  test('scripted lifecycles reach a final status as simulator time passes', async () => {
    const tok = await token();
    for (let i = 0; i < 8; i++) await push(tok, `LIFE${i}`);
    await advance({ hours: 2 });
    const tok2 = await token();
    for (let i = 0; i < 8; i++) {
      expect(['TS', 'TF', 'TE']).toContain((await json(await enquire(tok2, `LIFE${i}`))).data.transaction.status);
    }
  });

  test('duplicate transaction.id → ESB000041; msisdn with country code → ESB000033; missing fields → ESB000008', async () => {
    const tok = await token();
    await push(tok, 'DUP1');
    expect(JSON.stringify(await json(await push(tok, 'DUP1')))).toContain('ESB000041');
    expect(JSON.stringify(await json(await push(tok, 'LONG1', { msisdn: '260971234567' })))).toContain('ESB000033');
    const bad = await fetch(`${sim.url}/merchant/v1/payments/`, {
      method: 'POST',
      headers: hdrs(tok),
      body: JSON.stringify({ reference: 'x' }),
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await json(bad))).toContain('ESB000008');
  });

  test('unknown id → ESB000045 with success false; a dash in the id fails the enquiry with DP00800001005', async () => {
    const tok = await token();
    const nf = await json(await enquire(tok, 'NOSUCHID'));
    expect(nf.status).toMatchObject({ success: false, result_code: 'ESB000045' });
    await push(tok, 'SUB-8841-D');
    const dash = await json(await enquire(tok, 'SUB-8841-D'));
    expect(dash.status.response_code).toBe('DP00800001005');
  });

  test('balance rises after a successful collection and a disbursement lowers it', async () => {
    const tok = await token();
    const bal = async () =>
      Math.round(Number((await json(await fetch(`${sim.url}/standard/v1/users/balance`, { headers: hdrs(tok) }))).data.balance) * 100);
    const b0 = await bal();
    await push(tok, 'BAL1', { amount: 150 });
    await post(`${sim.url}/__sandbox/references/BAL1/advance`, { status: 'TS' });
    expect(await bal()).toBe(b0 + 15000);
    const d = await fetch(`${sim.url}/standard/v1/disbursements/`, {
      method: 'POST',
      headers: hdrs(tok),
      body: JSON.stringify({
        payee: { msisdn: '971112223' },
        reference: 'PAY1',
        pin: 'ENCRYPTED',
        transaction: { amount: 20, id: 'PAY1' },
      }),
    });
    expect((await json(d)).data.transaction.status).toBe('TS');
    expect(await bal()).toBe(b0 + 15000 - 2000);
  });
});
