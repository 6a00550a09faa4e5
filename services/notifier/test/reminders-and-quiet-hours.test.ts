/**
 * Acceptance (issue #12) on a controllable clock (the simulator's, shared with the notifier):
 * reminders after the delay that stop at the repair, and quiet hours in Africa/Lusaka that become
 * OneSignal's send_after and are cancelled by a repair before they go out.
 */
import { attemptRows, HOUR, notificationRows, startEnv, waitFor, type Env } from './helpers';

describe('reminders', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv('2026-03-02T10:00:00.000Z'); // 12:00 in Lusaka
    await env.startNotifier();
  });
  afterAll(() => env.close());

  test('a reminder goes out after 24 h on the clock, and none once the account is repaired', async () => {
    const { accountId, externalId } = await env.account({ displayName: 'FNB Cheque' });
    await env.publishAuth({ kind: 'reauth_required', accountId });
    await waitFor(async () => (await notificationRows(env, accountId))[0]?.status === 'delivered', 'first push');
    const sentTo = async () => (await env.simNotifications()).filter((n) => n.externalIds.includes(externalId));

    env.advance(24 * HOUR - 60_000);
    await env.passes(3);
    expect(await sentTo()).toHaveLength(1);
    env.advance(60_000);
    await waitFor(async () => (await sentTo()).length === 2, 'the 24 h reminder');
    const reminder = (await sentTo())[1];
    expect(reminder.headings.en).toBe('FNB Cheque is still disconnected');
    expect(reminder.data).toMatchObject({ kind: 'reminder_1' });

    await env.publishAuth({ kind: 'repaired', accountId });
    await waitFor(async () => (await notificationRows(env, accountId)).some((r) => r.status === 'canceled'), 'reminder_2 canceled');
    env.advance(72 * HOUR);
    await env.passes(3);
    expect(await sentTo()).toHaveLength(2);
    expect((await notificationRows(env, accountId)).map((r) => [r.kind, r.status])).toEqual([
      ['reauth', 'delivered'],
      ['reminder_1', 'delivered'],
      ['reminder_2', 'canceled'],
    ]);
    const ep = (await env.db.pool.query('SELECT closed_at FROM notification_episodes WHERE account_id = $1', [accountId])).rows;
    expect(ep).toHaveLength(1);
    expect(ep[0].closed_at).not.toBeNull();
  });

  test('an opted-out user: the episode is recorded as suppressed and nothing is sent', async () => {
    const { accountId, externalId, userId } = await env.account();
    await env.db.pool.query(
      `INSERT INTO notification_preferences (org_id, user_id, provider, reauth_push) VALUES ($1, $2, 'mono', false)`,
      [env.orgId, userId],
    );
    await env.publishAuth({ kind: 'reauth_required', accountId });
    await waitFor(async () => (await notificationRows(env, accountId))[0]?.status === 'suppressed', 'suppressed');
    await env.passes(3);
    expect((await env.simNotifications()).filter((n) => n.externalIds.includes(externalId))).toHaveLength(0);
    expect(await attemptRows(env, accountId)).toHaveLength(0);
  });

  test('a consent expiring within the warning window gets one "reconnect soon" push with the same deep link', async () => {
    const { accountId, externalId } = await env.account({ displayName: 'Absa Gold', status: 'active' });
    await env.db.pool.query('UPDATE accounts SET consent_expires_at = $2 WHERE id = $1', [
      accountId,
      new Date(env.now().getTime() + 5 * 24 * HOUR),
    ]);
    const sent = await waitFor(async () => {
      const s = (await env.simNotifications()).filter((n) => n.externalIds.includes(externalId));
      return s.length ? s : undefined;
    }, 'reconnect-soon push');
    await env.passes(3);
    expect((await env.simNotifications()).filter((n) => n.externalIds.includes(externalId))).toHaveLength(1);
    expect(sent[0].headings.en).toBe('Reconnect Absa Gold soon');
    expect(sent[0].contents.en).toMatch(/ends in 5 days/);
    expect(sent[0].appUrl).toBe(`intellifin://accounts/${accountId}/reconnect?provider=mono`);
  });
});

describe('quiet hours', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv('2026-03-02T21:00:00.000Z'); // 23:00 in Lusaka (UTC+2)
    await env.startNotifier();
  });
  afterAll(() => env.close());

  test('an event at 23:00 Lusaka is scheduled for 07:00; a repair at 02:00 cancels it and it is never delivered', async () => {
    const { accountId, externalId } = await env.account();
    await env.publishAuth({ kind: 'reauth_required', accountId });
    const [row] = await waitFor(async () => {
      const rows = await notificationRows(env, accountId);
      return rows[0]?.status === 'scheduled' ? rows : undefined;
    }, 'scheduled push');
    expect(row.scheduled_for.toISOString()).toBe('2026-03-03T05:00:00.000Z'); // 07:00 in Lusaka
    let [sim] = (await env.simNotifications()).filter((n) => n.externalIds.includes(externalId));
    expect(sim).toMatchObject({ sendAfter: '2026-03-03T05:00:00.000Z', delivery: 'scheduled' });

    env.advance(3 * HOUR); // 02:00 in Lusaka
    await env.publishAuth({ kind: 'repaired', accountId });
    await waitFor(async () => (await notificationRows(env, accountId))[0]?.status === 'canceled', 'canceled');
    env.advance(8 * HOUR); // past 07:00
    [sim] = (await env.simNotifications()).filter((n) => n.externalIds.includes(externalId));
    expect(sim).toMatchObject({ delivery: 'canceled', deliveredAt: null, canceled: true });
    expect((await attemptRows(env, accountId)).map((a) => [a.action, a.outcome])).toEqual([
      ['create', 'scheduled'],
      ['cancel', 'canceled'],
    ]);
  });
});
