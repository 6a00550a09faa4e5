/**
 * Fault injection and the request log, exercised through the Mono simulator (the engine is shared
 * by all four simulators).
 */
import { startMono, type RunningSimulator } from '../src/mono';
import type { MonoState } from '../src/mono/state';
import { EPOCH, json, post } from './helpers';

const KEY = 'test_sk_faults';
const h = { 'mono-sec-key': KEY };
let sim: RunningSimulator<MonoState>;
let ids: string[];
const ROUTE = 'GET /v2/accounts/:id/transactions';

beforeEach(async () => {
  sim = await startMono({ port: 0, seed: 11, epoch: EPOCH, clock: 'manual', accounts: 3, secretKey: KEY });
  ids = (await json(await fetch(`${sim.url}/__sandbox/accounts`))).accounts.map((a: { id: string }) => a.id);
});
afterEach(() => sim.close());

const fault = (f: object) => post(`${sim.url}/__sandbox/faults`, f);
const txns = (i = 0, init: RequestInit = {}) => fetch(`${sim.url}/v2/accounts/${ids[i]}/transactions?limit=5`, { headers: h, ...init });

test('status fault on chosen request numbers: 429 with Retry-After, other requests normal', async () => {
  expect((await fault({ route: ROUTE, kind: 'status', status: 429, retryAfter: 7, requests: [2, 3] })).status).toBe(200);
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 4; i++) {
    const r = await txns();
    statuses.push(r.status);
    if (r.status === 429) {
      retryAfter = r.headers.get('retry-after');
      expect(await json(r)).toMatchObject({ status: 'failed', data: null });
    } else await r.arrayBuffer();
  }
  expect(statuses).toEqual([200, 429, 429, 200]);
  expect(retryAfter).toBe('7');
});

test('per-account faults touch only that account; 500/502/503 pass through', async () => {
  await fault({ route: ROUTE, account: ids[1], kind: 'status', status: 503 });
  await fault({ route: 'GET /v2/accounts/:id/balance', kind: 'status', status: 502, requests: [1] });
  await fault({ route: '/v2/accounts/:id', kind: 'status', status: 500, requests: [1] });
  expect((await txns(0)).status).toBe(200);
  expect((await txns(1)).status).toBe(503);
  expect((await fetch(`${sim.url}/v2/accounts/${ids[0]}/balance`, { headers: h })).status).toBe(502);
  expect((await fetch(`${sim.url}/v2/accounts/${ids[0]}`, { headers: h })).status).toBe(500);
});

test('connection reset: the client sees a network error, not a response', async () => {
  await fault({ route: ROUTE, kind: 'reset', requests: [1] });
  await expect(txns()).rejects.toThrow();
  expect((await txns()).status).toBe(200);
});

test('hang past the client timeout: the client gives up without a response', async () => {
  await fault({ route: ROUTE, kind: 'hang', hangMs: 60_000, requests: [1] });
  await expect(txns(0, { signal: AbortSignal.timeout(300) })).rejects.toThrow();
  const log = await json(await fetch(`${sim.url}/__sandbox/requests`));
  expect(log.requests[0]).toMatchObject({ route: '/v2/accounts/:id/transactions', status: 0, faults: ['f1'] });
});

test('malformed and truncated bodies do not parse as JSON', async () => {
  await fault({ route: ROUTE, kind: 'malformed', requests: [1] });
  await fault({ route: ROUTE, kind: 'truncated', requests: [2] });
  const r1 = await txns();
  expect(r1.status).toBe(200);
  await expect(r1.text().then((t) => JSON.parse(t))).rejects.toThrow();
  await expect(
    txns()
      .then((r) => r.text())
      .then((t) => JSON.parse(t)),
  ).rejects.toThrow();
  expect((await json(await txns())).status).toBe('successful');
});

test('wrong field types: numbers arrive as strings', async () => {
  await fault({ route: ROUTE, kind: 'wrong-types', requests: [1] });
  const bad = await json(await txns());
  expect(typeof bad.data[0].amount).toBe('string');
  expect(typeof bad.meta.total).toBe('string');
  const good = await json(await txns());
  expect(typeof good.data[0].amount).toBe('number');
});

test('latency faults still answer; the log records which rule fired', async () => {
  await fault({ route: ROUTE, kind: 'latency', latencyMs: 20, requests: [1] });
  expect((await txns()).status).toBe(200);
  const log = await json(await fetch(`${sim.url}/__sandbox/requests`));
  expect(log.requests[0].faults).toEqual(['f1']);
});

test('clearing faults restores normal answers; bad fault specs are rejected', async () => {
  await fault({ route: ROUTE, kind: 'status', status: 500 });
  expect((await txns()).status).toBe(500);
  await fetch(`${sim.url}/__sandbox/faults`, { method: 'DELETE' });
  expect((await txns()).status).toBe(200);
  expect((await fault({ kind: 'explode' })).status).toBe(400);
  expect((await fault({ kind: 'status' })).status).toBe(400);
});

test('request log: time, method, route template, account, status, fence header; never the secret', async () => {
  await txns(0, { headers: { ...h, 'X-Request-Fence': 'fence-42' } });
  await fetch(`${sim.url}/v2/accounts/${ids[1]}`, { headers: { 'mono-sec-key': 'test_sk_leaky_value' } });
  await fetch(`${sim.url}/v1/wallets/transactions`, { headers: h });
  const log = await json(await fetch(`${sim.url}/__sandbox/requests`));
  expect(log.requests).toHaveLength(3);
  expect(log.requests[0]).toMatchObject({
    method: 'GET',
    route: '/v2/accounts/:id/transactions',
    account: ids[0],
    status: 200,
    fence: 'fence-42',
    auth: 'valid',
    time: EPOCH,
  });
  expect(log.requests[1]).toMatchObject({ status: 401, auth: 'invalid', fence: null });
  expect(log.requests[2]).toMatchObject({ route: '(unmatched)', status: 404 });
  const text = JSON.stringify(log);
  expect(text).not.toContain('test_sk_leaky_value');
  expect(text).not.toContain(KEY);
  const filtered = await json(await fetch(`${sim.url}/__sandbox/requests?account=${ids[0]}`));
  expect(filtered.count).toBe(1);
});
