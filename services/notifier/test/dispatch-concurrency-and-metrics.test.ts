/**
 * The dispatcher sends at most `sendConcurrency` pushes at once (NOTIFIER_SEND_CONCURRENCY), and
 * notifications_total counts the pushes a repair cancels in its own transaction.
 */
import { Registry } from '@intellifin/core';
import { addFaults, notificationRows, startEnv, waitFor, type Env } from './helpers';

let env: Env;
const registry = new Registry();
beforeAll(async () => {
  env = await startEnv('2026-03-02T10:00:00.000Z'); // 12:00 in Lusaka: outside quiet hours
});
afterAll(() => env.close());

test('six due pushes with a send concurrency of 2: never more than two requests at OneSignal at once, all six delivered', async () => {
  const n = await env.startNotifier({ sendConcurrency: 2, registry });
  await n.dispatcher.stop(); // queue all six first, so one pass finds them due together
  const accounts: { accountId: string }[] = [];
  for (let i = 0; i < 6; i++) accounts.push(await env.account());
  for (const a of accounts) await env.publishAuth({ kind: 'reauth_required', accountId: a.accountId });
  await waitFor(
    async () =>
      (await Promise.all(accounts.map(async (a) => (await notificationRows(env, a.accountId))[0]?.status === 'pending'))).every(Boolean),
    'six pending pushes',
  );
  // Each create is held 300 ms at the simulator, so the pushes of a pass overlap.
  await addFaults(env, [{ route: 'POST /notifications', kind: 'latency', latencyMs: 300 }]);
  n.dispatcher.start();
  await waitFor(
    async () =>
      (await Promise.all(accounts.map(async (a) => (await notificationRows(env, a.accountId))[0]?.status === 'delivered'))).every(Boolean),
    'six delivered',
  );
  expect(env.posts.max).toBe(2);
  expect(env.seen.filter((s) => s.method === 'POST')).toHaveLength(6);
});

test('pushes canceled by the repair transaction are counted in notifier_notifications_total (outcome canceled)', async () => {
  const count = async (kind: string, outcome: string) =>
    (await registry.getSingleMetric('intellifin_sync_notifier_notifications_total')!.get()).values.find(
      (v) => v.labels.provider === 'mono' && v.labels.kind === kind && v.labels.outcome === outcome,
    )?.value ?? 0;
  const { accountId } = await env.account();
  await env.publishAuth({ kind: 'reauth_required', accountId });
  await waitFor(async () => (await notificationRows(env, accountId))[0]?.status === 'delivered', 'first push');
  const delivered = await count('reauth', 'delivered');
  expect(delivered).toBeGreaterThanOrEqual(1);
  expect(await count('reminder', 'canceled')).toBe(0);
  await env.publishAuth({ kind: 'repaired', accountId });
  await waitFor(
    async () => (await notificationRows(env, accountId)).filter((r) => r.status === 'canceled').length === 2,
    'reminders canceled',
  );
  await waitFor(async () => (await count('reminder', 'canceled')) === 2, 'two canceled reminders counted', 10_000);
  expect(await count('reauth', 'canceled')).toBe(0);
});
