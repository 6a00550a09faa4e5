/**
 * Acceptance (issue #12) against real NATS and Postgres and the OneSignal simulator: exactly one
 * push per episode under redelivery and two replicas, retries that keep the idempotency key and
 * honour Retry-After, undeliverable users without a retry loop, and no API key in the logs.
 */
import { idempotencyKey } from '../src/domain/idempotency';
import { API_KEY, attemptRows, notificationRows, startEnv, waitFor, type Env } from './helpers';

let env: Env;
beforeAll(async () => {
  env = await startEnv('2026-03-02T10:00:00.000Z'); // 12:00 in Lusaka: outside quiet hours
  await env.startNotifier();
  await env.startNotifier();
});
afterAll(() => env.close());

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

test('a revoked account gets exactly one push (event delivered three times, two notifiers) with the right template, links, alias and key', async () => {
  const { accountId, externalId } = await env.account({ displayName: 'Zanaco Current' });
  const settledBefore = env.settled.length;
  await env.publishAuth({ kind: 'reauth_required', accountId }, 3, `00-${TRACE_ID}-00f067aa0ba902b7-01`);
  await waitFor(() => env.settled.length >= settledBefore + 3, 'three deliveries settled');
  const [row] = await waitFor(async () => {
    const rows = (await notificationRows(env, accountId)).filter((r) => r.kind === 'reauth' && r.status === 'delivered');
    return rows.length ? rows : undefined;
  }, 'the push delivered');
  await env.passes();

  const sent = (await env.simNotifications()).filter((n) => n.externalIds.includes(externalId));
  expect(sent).toHaveLength(1);
  const episodes = (await env.db.pool.query('SELECT * FROM notification_episodes WHERE account_id = $1', [accountId])).rows;
  expect(episodes).toHaveLength(1);
  const key = idempotencyKey('mono', accountId, episodes[0].id, 'reauth');
  expect(sent[0]).toMatchObject({
    targeting: 'include_aliases',
    externalIds: [externalId],
    idempotencyKey: key,
    appUrl: `intellifin://accounts/${accountId}/reconnect?provider=mono`,
    webUrl: `https://app.example.test/accounts/${accountId}/reconnect?provider=mono`,
    data: { type: 'reauth_required', provider: 'mono', account_id: accountId, kind: 'reauth' },
    delivery: 'delivered',
  });
  expect(sent[0].headings.en).toBe('Reconnect Zanaco Current');
  expect(sent[0].contents.en).toMatch(/sign in again before we can update Zanaco Current.*Mono/);
  const posts = env.seen.filter((s) => s.method === 'POST' && s.body.include_aliases?.external_id?.[0] === externalId);
  expect(posts.every((p) => p.authorization === `Key ${API_KEY}` && p.body.target_channel === 'push')).toBe(true);
  expect(row).toMatchObject({ status: 'delivered', idempotency_key: key, onesignal_id: sent[0].id, provider: 'mono' });
  // The push continues the worker's trace (stored from the event's traceparent).
  expect(row.traceparent).toContain(TRACE_ID);
  const send = env
    .spans()
    .find(
      (s) => s.name === 'notifier send push' && s.attributes['intellifin.push.kind'] === 'reauth' && s.spanContext().traceId === TRACE_ID,
    );
  expect(send).toBeDefined();
  expect((await attemptRows(env, accountId)).map((a) => a.outcome)).toEqual(['delivered']);
  // Reminders are queued for the episode, not sent.
  expect((await notificationRows(env, accountId)).map((r) => [r.kind, r.status])).toEqual([
    ['reauth', 'delivered'],
    ['reminder_1', 'pending'],
    ['reminder_2', 'pending'],
  ]);
});

test('429 then 502 then a reset after creation: retried with the same key, Retry-After respected, ends delivered once', async () => {
  const { accountId, externalId } = await env.account({ displayName: 'Stanbic Savings' });
  const faults = [
    { route: 'POST /notifications', account: externalId, kind: 'status', status: 429, retryAfter: 30, requests: [1] },
    { route: 'POST /notifications', account: externalId, kind: 'status', status: 502, requests: [2] },
    { route: 'POST /notifications', account: externalId, kind: 'reset', phase: 'after', requests: [3] },
  ];
  await fetch(`${env.sim.url}/__sandbox/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ faults }),
  });
  await env.publishAuth({ kind: 'reauth_required', accountId });
  const postsFor = () => env.seen.filter((s) => s.method === 'POST' && s.body.include_aliases?.external_id?.[0] === externalId);
  await waitFor(() => postsFor().length === 1, 'the first request (429)');
  const first = await waitFor(async () => (await attemptRows(env, accountId))[0], 'the first attempt stored');
  expect(first).toMatchObject({ outcome: 'retry', http_status: 429, retry_after_ms: 30_000 });

  // Nothing is sent again before Retry-After has passed on the clock.
  await env.passes(3);
  env.advance(29_000);
  await env.passes(3);
  expect(postsFor()).toHaveLength(1);
  env.advance(1_000);
  await waitFor(() => postsFor().length === 2, 'the retry after Retry-After (502)');
  // 502: backoff (cap 5 s), then the request that is created but whose answer is lost, then the replay.
  for (let i = 0; i < 6 && (await notificationRows(env, accountId))[0].status !== 'delivered'; i++) {
    await env.passes(2);
    env.advance(5_000);
  }
  const [row] = await notificationRows(env, accountId);
  expect(row.status).toBe('delivered');
  const keys = new Set(postsFor().map((p) => p.body.idempotency_key));
  expect(keys).toEqual(new Set([row.idempotency_key]));
  expect(postsFor()).toHaveLength(4);
  const attempts = await attemptRows(env, accountId);
  expect(attempts.map((a) => [a.outcome, a.http_status])).toEqual([
    ['retry', 429],
    ['retry', 502],
    ['retry', null],
    ['delivered', 200],
  ]);
  expect(attempts[3].replayed).toBe(true);
  const sent = (await env.simNotifications()).filter((n) => n.externalIds.includes(externalId));
  expect(sent).toHaveLength(1);
  expect(sent[0]).toMatchObject({ idempotencyKey: row.idempotency_key, replays: 1, delivery: 'delivered' });
});

test('an unsubscribed user is recorded undeliverable after one request, with no retry loop', async () => {
  const { accountId, externalId } = await env.account();
  await fetch(`${env.sim.url}/__sandbox/users/${externalId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ state: 'unsubscribed' }),
  });
  await env.publishAuth({ kind: 'reauth_required', accountId });
  await waitFor(async () => (await notificationRows(env, accountId))[0]?.status === 'undeliverable', 'undeliverable');
  for (let i = 0; i < 3; i++) {
    env.advance(10 * 60_000);
    await env.passes(2);
  }
  const attempts = await attemptRows(env, accountId);
  expect(attempts.map((a) => [a.outcome, a.http_status])).toEqual([['undeliverable', 200]]);
  expect(attempts[0].error).toMatch(/not subscribed/);
  expect((await notificationRows(env, accountId))[0]).toMatchObject({ status: 'undeliverable', attempts: 1 });
});

test('the OneSignal API key never appears in the captured log output (including a 403)', async () => {
  const { accountId } = await env.account();
  await fetch(`${env.sim.url}/__sandbox/accounts/${'5eb5a37e-b458-11e3-ac11-000c2940e62c'}/revoke`, { method: 'POST' });
  await env.publishAuth({ kind: 'reauth_required', accountId });
  await waitFor(async () => (await notificationRows(env, accountId))[0]?.status === 'failed', 'failed on 403');
  await fetch(`${env.sim.url}/__sandbox/accounts/${'5eb5a37e-b458-11e3-ac11-000c2940e62c'}/repair`, { method: 'POST' });
  const log = env.logLines.join('');
  expect(log).toContain('push settled');
  expect(log).toContain('HTTP 403');
  expect(log.length).toBeGreaterThan(1000);
  expect(log).not.toContain(API_KEY);
  expect(log).not.toContain(API_KEY.slice(10));
});
