/**
 * What the chaos checker reads from the request log: when each exchange ended (so two runs'
 * requests can be tested for overlap), the Retry-After each response advertised, whether the log
 * overflowed, and the account of a request a fault answered before the route could name it.
 */
import { startAirtel, startMono, type RunningSimulator } from '../src';
import type { MonoState } from '../src/mono/state';
import { EPOCH, json, post } from './helpers';

const KEY = 'test_sk_intervals';
const h = { 'mono-sec-key': KEY };
const ROUTE = 'GET /v2/accounts/:id/transactions';

describe('Mono request log intervals', () => {
  let sim: RunningSimulator<MonoState>;
  let ids: string[];
  beforeEach(async () => {
    // Real clock: the log's times must move for an interval to have a length.
    sim = await startMono({ port: 0, seed: 5, epoch: EPOCH, clock: 'real', accounts: 2, secretKey: KEY, requestLogCapacity: 3 });
    ids = (await json(await fetch(`${sim.url}/__sandbox/accounts`))).accounts.map((a: { id: string }) => a.id);
  });
  afterEach(() => sim.close());

  const txns = (init: RequestInit = {}) => fetch(`${sim.url}/v2/accounts/${ids[0]}/transactions?limit=5`, { headers: h, ...init });
  const log = async (q = '') => json(await fetch(`${sim.url}/__sandbox/requests${q}`));

  test('a request that was answered has an end at or after its start, and the fence it carried', async () => {
    await post(`${sim.url}/__sandbox/faults`, { route: ROUTE, kind: 'latency', latencyMs: 40, requests: [1] });
    expect((await txns({ headers: { ...h, 'x-request-fence': '7' } })).status).toBe(200);
    const [e] = (await log()).requests;
    expect(e).toMatchObject({ fence: '7', status: 200, retryAfterMs: null });
    expect(Date.parse(e.end) - Date.parse(e.time)).toBeGreaterThanOrEqual(40);
  });

  test('a 429 records the Retry-After it advertised, in ms', async () => {
    await post(`${sim.url}/__sandbox/faults`, { route: ROUTE, kind: 'status', status: 429, retryAfter: 3, requests: [1] });
    expect((await txns()).status).toBe(429);
    expect((await log()).requests[0]).toMatchObject({ status: 429, retryAfterMs: 3000 });
  });

  test('a hang the client gave up on ends when the connection closed, not when the hang would have ended', async () => {
    await post(`${sim.url}/__sandbox/faults`, { route: ROUTE, kind: 'hang', hangMs: 60_000, requests: [1] });
    await expect(txns({ signal: AbortSignal.timeout(200) })).rejects.toThrow();
    let e = (await log()).requests[0];
    for (let i = 0; i < 50 && e.end === null; i++) {
      await new Promise((r) => setTimeout(r, 20));
      e = (await log()).requests[0];
    }
    expect(e.status).toBe(0);
    expect(e.end).not.toBeNull();
    expect(Date.parse(e.end) - Date.parse(e.time)).toBeLessThan(60_000);
  });

  test('lastSeq and dropped tell a reader that pages with since= whether it saw everything', async () => {
    for (let i = 0; i < 5; i++) await txns();
    const all = await log();
    expect(all).toMatchObject({ count: 3, lastSeq: 5, dropped: 2 });
    expect(all.requests.map((r: { seq: number }) => r.seq)).toEqual([3, 4, 5]);
    expect((await log('?since=4')).requests.map((r: { seq: number }) => r.seq)).toEqual([5]);
  });
});

test('Airtel: a token request a fault answered is still attributed to its client id', async () => {
  const sim = await startAirtel({ port: 0, seed: 5, epoch: EPOCH, clock: 'manual', accounts: 1 });
  try {
    const [acct] = (await json(await fetch(`${sim.url}/__sandbox/accounts`))).accounts;
    await post(`${sim.url}/__sandbox/faults`, { route: 'POST /auth/oauth2/token', kind: 'status', status: 429, retryAfter: 2 });
    const body = { client_id: acct.credentials.clientId, client_secret: acct.credentials.clientSecret, grant_type: 'client_credentials' };
    const r = await post(`${sim.url}/auth/oauth2/token`, body);
    expect(r.status).toBe(429);
    const [e] = (await json(await fetch(`${sim.url}/__sandbox/requests`))).requests;
    expect(e).toMatchObject({ account: acct.id, status: 429, retryAfterMs: 2000 });
  } finally {
    await sim.close();
  }
});
