/**
 * OneSignal's rate limit is per app (issue #14, finding 6): after a 429 with Retry-After on a
 * create, nothing is sent to the app — any user, any replica — until the window ends; the refused
 * push is retried after it with the same key, and every push is delivered once. Checked on the
 * simulator's request log (its manual clock is the notifier's clock).
 */
import { Registry } from '@intellifin/core';
import type { Dispatcher } from '../src/app/dispatcher';
import { addFaults, APP_ID, attemptRows, notificationRows, startEnv, waitFor, type Env } from './helpers';

let env: Env;
beforeAll(async () => {
  env = await startEnv('2026-03-02T10:00:00.000Z'); // 12:00 in Lusaka: outside quiet hours
});
afterAll(() => env.close());

const RETRY_AFTER_MS = 3_000;

/** Resolves after this dispatcher finished `n` more passes. */
async function passes(d: Dispatcher, n = 3): Promise<void> {
  const target = d.passes + n;
  await waitFor(() => d.passes >= target, `${n} passes`, 20_000, 5);
}

/** Queues a re-auth push for each of `count` new users, leaving them `pending` (the dispatcher is stopped). */
async function queue(count: number): Promise<{ accountId: string; externalId: string }[]> {
  const accounts: { accountId: string; externalId: string }[] = [];
  for (let i = 0; i < count; i++) {
    const a = await env.account();
    accounts.push({ accountId: a.accountId, externalId: a.externalId! });
  }
  for (const a of accounts) await env.publishAuth({ kind: 'reauth_required', accountId: a.accountId });
  await waitFor(
    async () =>
      (await Promise.all(accounts.map(async (a) => (await notificationRows(env, a.accountId))[0]?.status === 'pending'))).every(Boolean),
    `${count} pending pushes`,
  );
  return accounts;
}

async function allDelivered(accounts: { accountId: string }[]): Promise<void> {
  await waitFor(
    async () =>
      (await Promise.all(accounts.map(async (a) => (await notificationRows(env, a.accountId))[0]?.status === 'delivered'))).every(Boolean),
    'every push delivered',
  );
}

/** The creates of these users in the simulator's log, and the one answered 429. */
async function creates(accounts: { externalId: string }[]) {
  const users = new Set(accounts.map((a) => a.externalId));
  const posts = (await env.simRequests({ method: 'POST' })).filter((r) => r.route === '/notifications' && users.has(r.account));
  const refused = posts.filter((r) => r.status === 429);
  expect(refused).toHaveLength(1);
  expect(refused[0].retryAfterMs).toBe(RETRY_AFTER_MS);
  const windowEnd = Date.parse(refused[0].end) + RETRY_AFTER_MS;
  const insideWindow = posts.filter((r) => r.seq > refused[0].seq && Date.parse(r.time) < windowEnd);
  return { posts, refused: refused[0], windowEnd, insideWindow };
}

/** The users of the creates the notifier sent for these accounts (seen by the proxy), in order. */
function postedTo(accounts: { externalId: string }[]): string[] {
  const users = new Set(accounts.map((a) => a.externalId));
  return env.seen
    .filter((s) => s.method === 'POST')
    .map((s) => s.body.include_aliases?.external_id?.[0] as string)
    .filter((u) => users.has(u));
}

/** Each user got exactly one message; the refused one was sent again with its key. */
async function deliveredOnce(accounts: { accountId: string; externalId: string }[], refusedUser: string): Promise<void> {
  const sent = await env.simNotifications();
  for (const a of accounts) {
    const mine = sent.filter((m) => m.externalIds.includes(a.externalId));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ replays: 0, delivery: 'delivered' });
  }
  const refused = accounts.find((a) => a.externalId === refusedUser)!;
  const [row] = await notificationRows(env, refused.accountId);
  const attempts = await attemptRows(env, refused.accountId);
  expect(attempts.map((t) => [t.outcome, t.http_status, t.retry_after_ms])).toEqual([
    ['retry', 429, RETRY_AFTER_MS],
    ['delivered', 200, null],
  ]);
  expect(attempts.map((t) => t.idempotency_key)).toEqual([row.idempotency_key, row.idempotency_key]);
  const keys = env.seen
    .filter((s) => s.method === 'POST' && s.body.include_aliases?.external_id?.[0] === refusedUser)
    .map((s) => s.body.idempotency_key as string);
  expect(keys).toEqual([row.idempotency_key, row.idempotency_key]);
}

test('a 429 with Retry-After holds every push to the app, on another replica too, until the window ends; each is then delivered once', async () => {
  const registry = new Registry();
  const first = await env.startNotifier({ registry });
  await first.dispatcher.stop();
  const accounts = await queue(6);
  const [refusedUser, ...others] = accounts;
  // Only the first push is due now; the five others fall due 1 s (on the clock) into the window.
  await env.db.pool.query(`UPDATE notifications SET next_attempt_at = $2 WHERE account_id = ANY($1::uuid[]) AND kind = 'reauth'`, [
    others.map((a) => a.accountId),
    new Date(env.now().getTime() + 1_000),
  ]);
  await addFaults(env, [
    { route: 'POST /notifications', account: refusedUser!.externalId, kind: 'status', status: 429, retryAfter: 3, requests: [1] },
  ]);
  first.dispatcher.start();
  await waitFor(async () => (await attemptRows(env, refusedUser!.accountId)).length === 1, 'the 429 stored');
  const hold = (await env.db.pool.query('SELECT * FROM onesignal_holds')).rows;
  expect(hold).toEqual([
    expect.objectContaining({
      held_until: new Date(env.now().getTime() + RETRY_AFTER_MS),
      retry_after_ms: RETRY_AFTER_MS,
      action: 'create',
    }),
  ]);
  const holdsStarted = (await registry.getSingleMetric('intellifin_sync_notifier_onesignal_holds_total')!.get()).values;
  expect(holdsStarted).toEqual([expect.objectContaining({ labels: { action: 'create' }, value: 1 })]);
  const until = (await registry.getSingleMetric('intellifin_sync_notifier_onesignal_hold_until_seconds')!.get()).values[0]?.value;
  expect(until).toBe((env.now().getTime() + RETRY_AFTER_MS) / 1000);
  const logged = env.logLines.map((l) => JSON.parse(l)).find((l) => l.msg?.startsWith('OneSignal rate limit (429 with Retry-After)'));
  expect(logged).toMatchObject({ holdMs: RETRY_AFTER_MS, retryAfterMs: RETRY_AFTER_MS, action: 'create' });
  expect(JSON.stringify(logged)).not.toContain(refusedUser!.externalId);

  // The replica that saw the 429 goes away: the other one knows of the hold only through Postgres.
  await first.stop(2_000);
  env.notifiers.splice(env.notifiers.indexOf(first), 1);
  const second = await env.startNotifier();
  env.advance(1_000); // the five others are due, inside the window
  await passes(second.dispatcher);
  env.advance(RETRY_AFTER_MS - 1_000 - 1); // the window's last millisecond
  await passes(second.dispatcher);
  expect(postedTo(accounts)).toEqual([refusedUser!.externalId]);
  env.advance(1);
  await allDelivered(accounts);

  const log = await creates(accounts);
  expect(log.insideWindow).toEqual([]);
  expect(log.posts).toHaveLength(7);
  for (const r of log.posts.filter((p) => p.seq > log.refused.seq)) expect(Date.parse(r.time)).toBeGreaterThanOrEqual(log.windowEnd);
  await deliveredOnce(accounts, refusedUser!.externalId);
});

test('pushes claimed together: after the 429 no new create starts inside the window (only those already in flight), all delivered once after it', async () => {
  const sendConcurrency = 2;
  const registry = new Registry();
  const n = await env.startNotifier({ registry, sendConcurrency });
  for (const other of env.notifiers.filter((x) => x !== n)) await other.dispatcher.stop();
  await n.dispatcher.stop();
  const accounts = await queue(8);
  // Every create takes 100 ms at the simulator, so pushes overlap; the first create of the burst gets the 429.
  await addFaults(env, [
    { route: 'POST /notifications', kind: 'latency', latencyMs: 100, times: 40 },
    { route: 'POST /notifications', kind: 'status', status: 429, retryAfter: 3, times: 1 },
  ]);
  const seenLines = env.logLines.length;
  n.dispatcher.start();
  await waitFor(
    () => env.logLines.slice(seenLines).some((l) => l.includes('OneSignal rate limit (429 with Retry-After)')),
    'the hold started',
  );
  await passes(n.dispatcher);
  env.advance(RETRY_AFTER_MS - 1);
  await passes(n.dispatcher);
  const before = await creates(accounts);
  // Without the hold the six or seven pushes left would all have gone out at once.
  expect(before.insideWindow.length).toBeLessThanOrEqual(sendConcurrency - 1);
  expect(before.posts.length).toBeLessThan(accounts.length);

  env.advance(1);
  await allDelivered(accounts);
  const after = await creates(accounts);
  expect(after.insideWindow).toEqual(before.insideWindow);
  expect(after.posts).toHaveLength(accounts.length + 1);
  expect(postedTo(accounts)).toHaveLength(accounts.length + 1);
  await deliveredOnce(accounts, after.refused.account);
});

test('a push claimed before another replica stored a hold reads it just before its request: no request, back in the queue until the hold ends', async () => {
  for (const other of env.notifiers) await other.dispatcher.stop();
  // The notifier's own pool, with its push's first read (loadPushContext) held up until the test lets it go.
  const real = env.db.poolAs('intellifin_notifier');
  let reached!: () => void;
  let release!: () => void;
  const atGate = new Promise<void>((r) => (reached = r));
  const open = new Promise<void>((r) => (release = r));
  const pool = new Proxy(real, {
    get(target, prop) {
      if (prop === 'query')
        return async (text: unknown, ...rest: unknown[]) => {
          if (typeof text === 'string' && text.includes('AS episode_closed')) {
            reached();
            await open;
          }
          return (target.query as (...a: unknown[]) => unknown)(text, ...rest);
        };
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const registry = new Registry();
  const n = await env.startNotifier({ pool, registry, sendConcurrency: 1 });
  await n.dispatcher.stop();
  const [account] = await queue(1);
  n.dispatcher.start();
  await atGate; // claimed, not sent yet
  const heldUntil = new Date(env.now().getTime() + RETRY_AFTER_MS);
  await env.db.pool.query(
    `INSERT INTO onesignal_holds (app_id, held_until, retry_after_ms, action, set_at, set_by) VALUES ($1, $2, $3, 'create', $4, 'another-replica')
     ON CONFLICT (app_id) DO UPDATE SET held_until = EXCLUDED.held_until, set_at = EXCLUDED.set_at, set_by = EXCLUDED.set_by`,
    [APP_ID, heldUntil, RETRY_AFTER_MS, env.now()],
  );
  release();
  await waitFor(async () => (await notificationRows(env, account!.accountId))[0]?.claimed_by === null, 'the push put back');
  await passes(n.dispatcher);
  const [row] = await notificationRows(env, account!.accountId);
  expect(row).toMatchObject({ status: 'pending', attempts: 0, next_attempt_at: heldUntil });
  expect(row.last_error).toMatch(/^OneSignal rate limit: app held until /);
  expect(await attemptRows(env, account!.accountId)).toEqual([]);
  expect(postedTo([account!])).toEqual([]);
  const held = (await registry.getSingleMetric('intellifin_sync_notifier_onesignal_held_total')!.get()).values;
  expect(held).toEqual([expect.objectContaining({ labels: { action: 'create' }, value: 1 })]);

  env.advance(RETRY_AFTER_MS);
  await allDelivered([account!]);
  expect(postedTo([account!])).toEqual([account!.externalId]);
  expect((await env.simNotifications()).filter((m) => m.externalIds.includes(account!.externalId))).toHaveLength(1);
});
