/**
 * The Airtel client against the Airtel simulator (real HTTP): token, balance, the two enquiries,
 * the refresh-once rule, rejected client credentials, and transient faults retried in the run.
 */
import { AuthError, RetryableError } from '@intellifin/core';
import { openGate, type RequestGate } from '@intellifin/sync-engine';
import { startAirtel, type RunningSimulator } from '@intellifin/sandbox';
import { AirtelClient, type AirtelMerchant, CLIENT_REJECTED, TOKEN_REJECTED, AirtelHttp } from '../src';

const EPOCH = '2026-03-02T00:00:00.000Z';
const DOCUMENTED = new Set([
  'POST /auth/oauth2/token',
  'GET /standard/v1/users/balance',
  'GET /standard/v1/payments/:id',
  'GET /standard/v1/disbursements/:id',
  'POST /standard/v1/disbursements/',
]);

let sim: RunningSimulator<unknown>;
let http: AirtelHttp;
let client: AirtelClient;
const signal = new AbortController().signal;

async function control<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${sim.url}/__sandbox${path}`, {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  return (await res.json()) as T;
}

type Merchant = AirtelMerchant & { id: string };

async function merchants(): Promise<Merchant[]> {
  const { accounts } = await control<{ accounts: any[] }>('GET', '/accounts');
  return accounts.map((a) => ({
    id: a.id,
    clientId: a.credentials.clientId,
    clientSecret: a.credentials.clientSecret,
    country: a.country,
    currency: a.currency,
  }));
}

/** A token for `m` (the shared layer's cache is not involved here). */
async function tokenFor(m: AirtelMerchant, c = client): Promise<string> {
  return (await c.requestToken(m, signal)).accessToken;
}

async function requests(route?: string): Promise<any[]> {
  const q = route ? `?route=${encodeURIComponent(route)}` : '';
  return (await control<{ requests: any[] }>('GET', `/requests${q}`)).requests;
}

beforeAll(async () => {
  sim = await startAirtel({ port: 0, seed: 11, epoch: EPOCH, clock: 'manual', accounts: 3, referencesPerAccount: 6 });
  http = new AirtelHttp({ baseUrl: sim.url, gate: openGate, timeoutMs: 500, attempts: 3 });
  client = new AirtelClient(http);
});

afterAll(async () => {
  await http.close();
  await sim.close();
});

beforeEach(async () => {
  // Clears faults, the request log and the per-route request numbers faults count on.
  await control('POST', '/reset', { seed: 11, epoch: EPOCH });
});

it('gets a token whose expires_in arrives as a string', async () => {
  const [m] = await merchants();
  const t = await client.requestToken(m!, signal);
  expect(t.accessToken).toMatch(/^\w{32}$/);
  expect(t.expiresInSeconds).toBe(180);
});

it('reads every balance and every reference equal to the truth, on documented routes only', async () => {
  const states = new Set<string>();
  for (const m of await merchants()) {
    const token = await tokenFor(m);
    const truth = await control<any>('GET', `/truth/${m.id}`);
    expect(await client.balance(m, token, signal)).toBe(BigInt(truth.balance));
    for (const t of truth.transactions) {
      const s = await client.collectionStatus(m, token, t.id, signal);
      states.add(s.state);
      if (t.status === 'TS') expect(s).toMatchObject({ state: 'successful', ledgerId: t.airtelMoneyId });
      else if (t.status === 'TF' || t.status === 'TE') expect(s).toMatchObject({ state: 'failed', reason: t.responseCode });
      else expect(s).toMatchObject({ state: 'pending', providerStatus: t.status });
    }
  }
  expect([...states].sort()).toEqual(['failed', 'pending', 'successful']);
  const seen = new Set((await requests()).map((r) => `${r.method} ${r.route}`));
  for (const r of seen) expect(DOCUMENTED).toContain(r);
  expect(seen).toContain('GET /standard/v1/payments/:id');
});

it('looks a payout up on the disbursement route, and an unknown id is not found', async () => {
  const [m] = await merchants();
  const token = await tokenFor(m!);
  const res = await fetch(`${sim.url}/standard/v1/disbursements/`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'x-country': m!.country, 'x-currency': m!.currency, 'content-type': 'application/json' },
    body: JSON.stringify({ payee: { msisdn: '971234567' }, reference: 'PAYOUT1', pin: 'enc', transaction: { amount: 10, id: 'PAYOUT1' } }),
  });
  expect(res.status).toBe(200);
  const truth = await control<any>('GET', '/references/PAYOUT1');
  expect(await client.disbursementStatus(m!, token, 'PAYOUT1', signal)).toMatchObject({
    state: 'successful',
    ledgerId: truth.airtelMoneyId,
  });
  expect(await client.disbursementStatus(m!, token, 'NOSUCHREF', signal)).toEqual({ state: 'not_found' });
  expect(await client.collectionStatus(m!, token, 'NOSUCHREF', signal)).toEqual({ state: 'not_found' });
});

it('an expired token is refused as airtel_token_rejected (the wallet layer refreshes it)', async () => {
  const [m] = await merchants();
  const token = await tokenFor(m!);
  await client.balance(m!, token, signal);
  await control('POST', '/tokens/expire', { account: m!.id });
  const err = await client.balance(m!, token, signal).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AuthError);
  expect((err as AuthError).code).toBe(TOKEN_REJECTED);
  expect(await client.balance(m!, await tokenFor(m!), signal)).toBeGreaterThan(0n);
  expect((await requests('/standard/v1/users/balance')).map((r) => r.status)).toEqual([200, 401, 200]);
});

it('rejected client credentials make the token request an AuthError naming re-link', async () => {
  const [, m] = await merchants();
  await control('POST', `/accounts/${m!.id}/revoke`);
  try {
    const err = await client.requestToken(m!, signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).code).toBe(CLIENT_REJECTED);
    expect((err as Error).message).not.toContain(m!.clientSecret);
    expect((await requests('/auth/oauth2/token')).map((r) => r.status)).toEqual([401]);
  } finally {
    await control('POST', `/accounts/${m!.id}/repair`);
  }
});

it('retries a hang, a 503 and a malformed body inside the call', async () => {
  const [m] = await merchants();
  const token = await tokenFor(m!);
  const truth = await control<any>('GET', `/truth/${m!.id}`);
  await control('POST', '/faults', [
    { route: 'GET /standard/v1/users/balance', kind: 'hang', requests: [1], hangMs: 5_000 },
    { route: 'GET /standard/v1/users/balance', kind: 'status', status: 503, requests: [2] },
  ]);
  expect(await client.balance(m!, token, signal)).toBe(BigInt(truth.balance));
  const id = truth.transactions[0].id as string;
  await control('POST', '/faults', { route: 'GET /standard/v1/payments/:id', kind: 'malformed', requests: [1] });
  expect((await client.collectionStatus(m!, token, id, signal)).state).not.toBe('not_found');
  expect((await requests('/standard/v1/users/balance')).map((r) => r.status)).toEqual([0, 503, 200]);
  expect((await requests('/standard/v1/payments/:id')).map((r) => r.status)).toEqual([200, 200]);
});

it('pauses the shared budget for a 429 Retry-After and gives up after the attempts with that delay', async () => {
  const [m] = await merchants();
  const paused: number[] = [];
  const gate: RequestGate = { acquire: async () => undefined, pause: async (ms) => void paused.push(ms) };
  const h = new AirtelHttp({ baseUrl: sim.url, gate, attempts: 2, maxInlineWaitMs: 10_000 });
  const c = new AirtelClient(h);
  try {
    const token = await tokenFor(m!, c);
    await control('POST', '/faults', { route: 'GET /standard/v1/users/balance', kind: 'status', status: 429, retryAfter: 3 });
    const err = await c.balance(m!, token, signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).retryAfterMs).toBe(3_000);
    expect(paused).toEqual([3_000, 3_000]);
  } finally {
    await h.close();
  }
});
