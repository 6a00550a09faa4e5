/**
 * Pushes scheduled in quiet hours (OneSignal send_after), on the simulator clock: an invalid user
 * time zone falls back to the default, a cancel that fails is retried or leaves the push honestly
 * `scheduled`, and once the send time has passed each scheduled push is confirmed with a view
 * (GET /notifications/:id), one view per clock second and after a 429's Retry-After.
 */
import { addFaults, attemptRows, HOUR, notificationRows, startEnv, waitFor, type Env } from './helpers';

let env: Env;
beforeAll(async () => {
  env = await startEnv('2026-03-02T21:00:00.000Z'); // 23:00 in Lusaka: quiet hours until 05:00Z
  await env.startNotifier();
});
afterAll(() => env.close());

const status = async (accountId: string) => (await notificationRows(env, accountId))[0]?.status;
const views = () => env.seen.filter((s) => s.method === 'GET' && s.path.startsWith('/notifications/'));
const deletes = () => env.seen.filter((s) => s.method === 'DELETE');

let badZone: { accountId: string; externalId: string | null };
let refused: { accountId: string; externalId: string | null };

test('an invalid users.time_zone falls back to the default zone with a warning (no personal data), and the push goes out', async () => {
  badZone = await env.account({ timeZone: 'Mars/Olympus_Mons' });
  await env.publishAuth({ kind: 'reauth_required', accountId: badZone.accountId });
  await waitFor(async () => (await status(badZone.accountId)) === 'scheduled', 'scheduled with the default zone', 15_000);
  const [row] = await notificationRows(env, badZone.accountId);
  expect(row.scheduled_for.toISOString()).toBe('2026-03-03T05:00:00.000Z'); // 07:00 in Africa/Lusaka
  expect((await attemptRows(env, badZone.accountId)).map((a) => a.outcome)).toEqual(['scheduled']);
  const warning = env.logLines.find((l) => l.includes('not a valid IANA zone'));
  expect(warning).toBeDefined();
  expect(JSON.parse(warning!)).toMatchObject({ level: expect.anything(), notification: row.id, fallback: 'Africa/Lusaka' });
  expect(warning).not.toContain('Mars/Olympus_Mons');
  expect(warning).not.toContain(badZone.externalId);
});

test('a cancel answered 503 more often than NOTIFIER_MAX_ATTEMPTS allows is retried until it is done: canceled, never failed', async () => {
  const { accountId, externalId } = await env.account();
  await env.publishAuth({ kind: 'reauth_required', accountId });
  await waitFor(async () => (await status(accountId)) === 'scheduled', 'scheduled');
  await addFaults(env, [{ route: 'DELETE /notifications/:id', kind: 'status', status: 503, times: 6 }]);
  await env.publishAuth({ kind: 'repaired', accountId });
  await waitFor(async () => (await status(accountId)) !== 'scheduled', 'the repair handled');
  for (let i = 0; i < 20 && (await status(accountId)) !== 'canceled'; i++) {
    expect(await status(accountId)).toBe('cancelling');
    await env.passes(2);
    env.advance(5_000); // the backoff cap in the helpers
  }
  expect(await status(accountId)).toBe('canceled');
  const attempts = await attemptRows(env, accountId);
  expect(attempts.map((a) => [a.action, a.outcome, a.http_status])).toEqual([
    ['create', 'scheduled', 200],
    ...Array.from({ length: 6 }, () => ['cancel', 'retry', 503]),
    ['cancel', 'canceled', 200],
  ]);
  const [sim] = (await env.simNotifications()).filter((n) => n.externalIds.includes(externalId));
  expect(sim).toMatchObject({ canceled: true, delivery: 'canceled' });
});

test('a cancel refused (404) is not recorded as a cancel or a failure: the push stays scheduled, as it is at OneSignal', async () => {
  refused = await env.account();
  await env.publishAuth({ kind: 'reauth_required', accountId: refused.accountId });
  await waitFor(async () => (await status(refused.accountId)) === 'scheduled', 'scheduled');
  const before = deletes().length;
  await addFaults(env, [{ route: 'DELETE /notifications/:id', kind: 'status', status: 404, times: 1 }]);
  await env.publishAuth({ kind: 'repaired', accountId: refused.accountId });
  await waitFor(async () => (await attemptRows(env, refused.accountId)).length === 2, 'the cancel attempt');
  await env.passes(3);
  const [row] = await notificationRows(env, refused.accountId);
  expect(row).toMatchObject({ status: 'scheduled', canceled_at: null });
  expect(row.last_error).toMatch(/cancel refused: HTTP 404.*OneSignal will still deliver it/);
  expect((await attemptRows(env, refused.accountId)).map((a) => [a.action, a.outcome, a.http_status])).toEqual([
    ['create', 'scheduled', 200],
    ['cancel', 'failed', 404],
  ]);
  expect(deletes().length).toBe(before + 1); // not cancelled again and again
  const [sim] = (await env.simNotifications()).filter((n) => n.externalIds.includes(refused.externalId));
  expect(sim).toMatchObject({ canceled: false, delivery: 'scheduled' });
});

test('after the send time each scheduled push is confirmed with a view: one view per clock second, none before a 429 Retry-After', async () => {
  expect(views()).toHaveLength(0);
  await addFaults(env, [{ route: 'GET /notifications/:id', kind: 'status', status: 429, retryAfter: 30, times: 1 }]);
  // 05:00Z: the simulator delivers both pushes still scheduled there; the first check is a minute later.
  const toSendTime = new Date('2026-03-03T05:00:00.000Z').getTime() - env.now().getTime();
  env.advance(toSendTime + 30_000);
  await env.passes(3);
  expect(views()).toHaveLength(0);
  env.advance(30_000); // 05:01:00
  await waitFor(() => views().length === 1, 'the first view (429)');
  await env.passes(3);
  env.advance(29_000);
  await env.passes(3);
  expect(views()).toHaveLength(1); // Retry-After: 30 s not over
  env.advance(1_000);
  await waitFor(() => views().length === 2, 'the view after Retry-After');
  await env.passes(3);
  expect(views()).toHaveLength(2); // one per second
  env.advance(1_000);
  await waitFor(() => views().length === 3, 'the next second');
  await waitFor(
    async () => (await status(badZone.accountId)) === 'delivered' && (await status(refused.accountId)) === 'delivered',
    'both confirmed delivered',
    15_000,
  );
  env.advance(HOUR);
  await env.passes(3);
  expect(views()).toHaveLength(3); // settled: never viewed again
  expect((await notificationRows(env, refused.accountId))[0].last_error).toBeNull();
  const sims = (await env.simNotifications()).filter((n) =>
    [badZone.externalId, refused.externalId].some((e) => n.externalIds.includes(e)),
  );
  expect(sims.map((s) => s.delivery)).toEqual(['delivered', 'delivered']);
});
