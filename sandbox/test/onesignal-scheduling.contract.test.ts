/**
 * OneSignal contract tests for what the notifier relies on (providers.md §4.1, §4.5, §4.6): replayed
 * idempotent requests say so, `send_after` schedules, cancelling a sent message is refused, and
 * viewing is rate-limited at 1 request per second per app.
 */
import { randomUUID } from 'node:crypto';
import { startOneSignal } from '../src/onesignal';
import type { OneSignalState } from '../src/onesignal/state';
import type { RunningSimulator } from '../src/shared/server';
import { EPOCH, json, post } from './helpers';

const APP = '5eb5a37e-b458-11e3-ac11-000c2940e62c';
const KEY = 'os_v2_app_schedulingtestkey';
let sim: RunningSimulator<OneSignalState>;

beforeEach(async () => {
  sim = await startOneSignal({ port: 0, seed: 9, epoch: EPOCH, clock: 'manual', appId: APP, appApiKey: KEY });
  await post(`${sim.url}/__sandbox/users/user-ok`, { state: 'subscribed' });
});
afterEach(() => sim.close());

const body = (over: Record<string, unknown> = {}) => ({
  app_id: APP,
  target_channel: 'push',
  include_aliases: { external_id: ['user-ok'] },
  contents: { en: 'Reconnect your bank.' },
  ...over,
});
const send = (b: unknown) =>
  fetch(`${sim.url}/notifications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Key ${KEY}` },
    body: JSON.stringify(b),
  });
const cancel = (id: string) =>
  fetch(`${sim.url}/notifications/${id}?app_id=${APP}`, { method: 'DELETE', headers: { authorization: `Key ${KEY}` } });
const view = (id: string) => fetch(`${sim.url}/notifications/${id}?app_id=${APP}`, { headers: { authorization: `Key ${KEY}` } });
const advance = (over: Record<string, number>) => post(`${sim.url}/__sandbox/clock/advance`, over);
const recorded = async () => (await json(await fetch(`${sim.url}/__sandbox/notifications`))).notifications;

test('a replayed idempotent request answers the original result with Idempotent-Replayed: true; the first does not', async () => {
  const key = randomUUID();
  const first = await send(body({ idempotency_key: key }));
  expect(first.headers.get('idempotent-replayed')).toBeNull();
  const firstBody = await json(first);
  const again = await send(body({ idempotency_key: key }));
  expect(again.headers.get('idempotent-replayed')).toBe('true');
  expect(await json(again)).toEqual(firstBody);
  expect(await recorded()).toHaveLength(1);
});

test('send_after schedules the message: not delivered before that time, the view shows it scheduled, then delivered', async () => {
  const created = await json(await send(body({ send_after: '2026-03-02T07:00:00Z' })));
  expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
  let [rec] = await recorded();
  expect(rec).toMatchObject({ id: created.id, sendAfter: '2026-03-02T07:00:00.000Z', delivery: 'scheduled', deliveredAt: null });
  const scheduled = await json(await view(created.id));
  expect(scheduled).toMatchObject({
    send_after: Date.parse('2026-03-02T07:00:00Z') / 1000,
    completed_at: null,
    remaining: 1,
    successful: 0,
  });

  await advance({ hours: 6, minutes: 59 });
  [rec] = await recorded();
  expect(rec.delivery).toBe('scheduled');
  await advance({ minutes: 1 });
  [rec] = await recorded();
  expect(rec).toMatchObject({ delivery: 'delivered', deliveredAt: '2026-03-02T07:00:00.000Z' });
  const done = await json(await view(created.id));
  expect(done).toMatchObject({ completed_at: Date.parse('2026-03-02T07:00:00Z') / 1000, remaining: 0, successful: 1 });
  expect((await send(body({ send_after: 'tomorrow-ish' }))).status).toBe(400);
});

test('cancelling a scheduled message stops it for good; cancelling a delivered one answers 400 with the OneSignal error body', async () => {
  const later = await json(await send(body({ send_after: '2026-03-02T07:00:00Z' })));
  const now = await json(await send(body()));
  const c1 = await cancel(later.id);
  expect(c1.status).toBe(200);
  expect(await json(c1)).toEqual({ success: true });
  const c2 = await cancel(now.id);
  expect(c2.status).toBe(400);
  expect(await json(c2)).toEqual({ errors: ['Notification has already been sent to all recipients'] });
  await advance({ hours: 8 });
  const recs = await recorded();
  expect(recs.find((r: { id: string }) => r.id === later.id)).toMatchObject({ delivery: 'canceled', deliveredAt: null, canceled: true });
  expect(recs.find((r: { id: string }) => r.id === now.id)).toMatchObject({ delivery: 'delivered', canceled: false });
});

test('viewing a notification is rate-limited at 1 request per second per app (429 with Retry-After), apart from the create budget', async () => {
  const created = await json(await send(body()));
  expect((await view(created.id)).status).toBe(200);
  const limited = await view(created.id);
  expect(limited.status).toBe(429);
  expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(await json(limited)).toEqual({ errors: ['API rate limit exceeded.'] });
  expect((await send(body())).status).toBe(200);
  await advance({ seconds: 1 });
  expect((await view(created.id)).status).toBe(200);
});
