/**
 * OneSignal contract tests, written from providers.md §4 (what the OneSignal REST API does).
 */
import { randomUUID } from 'node:crypto';
import { startOneSignal } from '../src/onesignal';
import type { OneSignalState } from '../src/onesignal/state';
import type { RunningSimulator } from '../src/shared/server';
import { EPOCH, json, post } from './helpers';

const APP = '5eb5a37e-b458-11e3-ac11-000c2940e62c';
const KEY = 'os_v2_app_contracttestkey';
const REST = 'LegacyRestKeyForContractTests';
let sim: RunningSimulator<OneSignalState>;

beforeEach(async () => {
  sim = await startOneSignal({
    port: 0,
    seed: 8,
    epoch: EPOCH,
    clock: 'manual',
    appId: APP,
    appApiKey: KEY,
    legacyRestKey: REST,
    rateLimitPerSecond: 5,
  });
  await post(`${sim.url}/__sandbox/users/user-ok`, { state: 'subscribed' });
  await post(`${sim.url}/__sandbox/users/user-partial`, { state: 'partial' });
  await post(`${sim.url}/__sandbox/users/user-off`, { state: 'unsubscribed' });
});
afterEach(() => sim.close());

const body = (over: Record<string, unknown> = {}) => ({
  app_id: APP,
  target_channel: 'push',
  include_aliases: { external_id: ['user-ok'] },
  headings: { en: 'Reconnect your bank' },
  contents: { en: 'GTBank needs you to sign in again.' },
  data: { type: 'reauth_required', provider: 'mono' },
  ...over,
});
const send = (b: unknown, auth = `Key ${KEY}`, path = '/notifications') =>
  fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: auth },
    body: typeof b === 'string' ? b : JSON.stringify(b),
  });

test('create by include_aliases.external_id with Key auth → 200 {id, external_id}', async () => {
  const res = await send(body());
  expect(res.status).toBe(200);
  const b = await json(res);
  expect(b.id).toMatch(/^[0-9a-f-]{36}$/);
  expect(b.external_id).toBeNull();
  expect(b.errors).toBeUndefined();
  const truth = await json(await fetch(`${sim.url}/__sandbox/notifications`));
  expect(truth.notifications).toHaveLength(1);
  expect(truth.notifications[0]).toMatchObject({ id: b.id, externalIds: ['user-ok'], data: { type: 'reauth_required', provider: 'mono' } });
});

test('legacy path /api/v1/notifications with Basic <REST key> behaves the same', async () => {
  const res = await send(body(), `Basic ${REST}`, '/api/v1/notifications');
  expect(res.status).toBe(200);
  expect((await json(res)).id).toMatch(/^[0-9a-f-]{36}$/);
});

test('partial opt-out: HTTP 200, message created, errors.invalid_aliases.external_id lists the user', async () => {
  const res = await send(body({ include_aliases: { external_id: ['user-partial'] } }));
  expect(res.status).toBe(200);
  const b = await json(res);
  expect(b.id).not.toBe('');
  expect(b.errors).toEqual({ invalid_aliases: { external_id: ['user-partial'] } });
});

test('nobody reachable: HTTP 200 with id "" and "All included players are not subscribed"', async () => {
  const res = await send(body({ include_aliases: { external_id: ['user-off'] } }));
  expect(res.status).toBe(200);
  const b = await json(res);
  expect(b.id).toBe('');
  expect(b.errors).toEqual(['All included players are not subscribed']);
});

test('alias label must be exactly external_id (other labels reach nobody)', async () => {
  const b = await json(await send(body({ include_aliases: { ExternalIds: ['user-ok'] } })));
  expect(b.id).toBe('');
});

test('idempotency_key replay returns the original result and sends nothing new; after 30 days it sends again', async () => {
  const key = randomUUID();
  const first = await json(await send(body({ idempotency_key: key })));
  const again = await json(await send(body({ idempotency_key: key, contents: { en: 'different body' } })));
  expect(again).toEqual(first);
  expect((await json(await fetch(`${sim.url}/__sandbox/notifications`))).notifications).toHaveLength(1);
  await post(`${sim.url}/__sandbox/clock/advance`, { days: 31 });
  const later = await json(await send(body({ idempotency_key: key })));
  expect(later.id).not.toBe(first.id);
  expect((await send(body({ idempotency_key: 'not-a-uuid' }))).status).toBe(400);
});

test('missing or unknown app_id, or a non-JSON body → 400 "app_id not found"', async () => {
  for (const b of [body({ app_id: randomUUID() }), { ...body(), app_id: undefined }, 'app_id=x']) {
    const res = await send(b);
    expect(res.status).toBe(400);
    expect((await json(res)).errors[0]).toMatch(/app_id not found/);
  }
});

test('403 access denied: wrong key, wrong scheme (Basic with an App API key), revoked key', async () => {
  for (const auth of ['Key wrong', `Basic ${KEY}`]) {
    const res = await send(body(), auth);
    expect(res.status).toBe(403);
    expect((await json(res)).errors[0]).toMatch(/Access denied/);
  }
  await post(`${sim.url}/__sandbox/accounts/${APP}/revoke`);
  expect((await send(body())).status).toBe(403);
  await post(`${sim.url}/__sandbox/accounts/${APP}/repair`);
  expect((await send(body())).status).toBe(200);
});

test('429 with Retry-After past the per-second create limit; cancel shares it', async () => {
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 7; i++) {
    const r = await send(body());
    statuses.push(r.status);
    if (r.status === 429) {
      retryAfter = r.headers.get('retry-after');
      expect(await json(r)).toEqual({ errors: ['API rate limit exceeded.'] });
    }
  }
  expect(statuses.slice(0, 5).every((s) => s === 200)).toBe(true);
  expect(statuses.slice(5)).toEqual([429, 429]);
  expect(Number(retryAfter)).toBeGreaterThan(0);
  // Cancel (DELETE /notifications/{id}) shares the create limit (§4.1).
  const cancel = await fetch(`${sim.url}/notifications/${randomUUID()}?app_id=${APP}`, {
    method: 'DELETE',
    headers: { authorization: `Key ${KEY}` },
  });
  expect(cancel.status).toBe(429);
  expect(Number(cancel.headers.get('retry-after'))).toBeGreaterThan(0);
  await post(`${sim.url}/__sandbox/clock/advance`, { seconds: 1 });
  // A message still scheduled (send_after tomorrow) can be cancelled; one already sent cannot (400).
  const created = await json(await send(body({ send_after: '2026-03-03T07:00:00Z' })));
  const cancels: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await fetch(`${sim.url}/notifications/${created.id}?app_id=${APP}`, {
      method: 'DELETE',
      headers: { authorization: `Key ${KEY}` },
    });
    cancels.push(r.status);
    await r.arrayBuffer();
  }
  expect(cancels).toEqual([200, 200, 200, 200, 429]);
});

test('English content required; exactly one targeting strategy', async () => {
  expect((await send(body({ contents: { fr: 'Bonjour' } }))).status).toBe(400);
  expect((await send(body({ included_segments: ['Subscribed Users'] }))).status).toBe(400);
  const { include_aliases: _drop, ...none } = body();
  void _drop;
  expect((await send(none)).status).toBe(400);
});

test('a timeout after creation: the replay with the same key returns the same id', async () => {
  await post(`${sim.url}/__sandbox/faults`, { route: 'POST /notifications', kind: 'reset', phase: 'after', requests: [1] });
  const key = randomUUID();
  await expect(send(body({ idempotency_key: key }))).rejects.toThrow();
  const retry = await json(await send(body({ idempotency_key: key })));
  const recorded = (await json(await fetch(`${sim.url}/__sandbox/notifications`))).notifications;
  expect(recorded).toHaveLength(1);
  expect(retry.id).toBe(recorded[0].id);
});

test('undocumented routes → 404', async () => {
  expect((await fetch(`${sim.url}/players`, { headers: { authorization: `Key ${KEY}` } })).status).toBe(404);
  expect((await fetch(`${sim.url}/api/v1/notifications/send`, { method: 'POST', headers: { authorization: `Key ${KEY}` } })).status).toBe(
    404,
  );
});
