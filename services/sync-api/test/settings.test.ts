import { Registry } from '@intellifin/core';
import { tryAcquireLease } from '@intellifin/scheduler/src/adapters/leader-lease.repo';
import { schedulerMetrics } from '@intellifin/scheduler/src/app/metrics';
import { executeDueSlots } from '@intellifin/scheduler/src/app/plan-slots';
import { bearer, logger, seedOrg, startApi, token, type ApiEnv, type Org } from './helpers';

/** Org schedule settings (admin) and account settings (user), and the scheduler planning with them. */
describe('sync settings', () => {
  let env: ApiEnv;
  let a: Org;
  let b: Org;
  let adminA: string;
  let adminB: string;
  let userA: string;

  beforeAll(async () => {
    env = await startApi();
    a = await seedOrg(env.db, 'Org A', 1);
    b = await seedOrg(env.db, 'Org B', 1);
    adminA = await token({ orgId: a.orgId, sub: 'admin-1', roles: ['admin'] });
    adminB = await token({ orgId: b.orgId, sub: 'admin-1', roles: ['admin'] });
    userA = await token({ orgId: a.orgId, sub: 'user-1' });
  });
  afterAll(async () => env?.close());

  const call = (method: string, url: string, auth: string | null, payload?: unknown) =>
    env.http({ method, url, headers: auth ? bearer(auth) : {}, ...(payload !== undefined ? { payload } : {}) });

  const orgBody = {
    accountIntervalMinutes: { min: 30, max: 240 },
    overrides: [
      { provider: 'mono', plan: 'balance', cron: '*/15 * * * *', timezone: 'Africa/Lusaka', settings: { spreadMinutes: 5 } },
      { provider: 'momo', plan: '*', cron: null, enabled: false },
    ],
  };

  describe('GET/PUT /v1/settings/sync', () => {
    it('shows the provider defaults and built-in bounds, to admins only', async () => {
      const res = await call('GET', '/v1/settings/sync', adminA);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.defaults).toHaveLength(12); // 3 providers x 4 plans (migration 0003)
      expect(body.defaults).toContainEqual(
        expect.objectContaining({ provider: 'mono', plan: 'transactions', cron: '0 * * * *', timezone: 'Africa/Lusaka' }),
      );
      expect(body.overrides).toEqual([]);
      expect(body.accountIntervalMinutes).toMatchObject({ min: 60, max: 720 });
      expect((await call('GET', '/v1/settings/sync', userA)).statusCode).toBe(403);
      const operator = await token({ orgId: a.orgId, sub: 'op-1', roles: ['operator'] });
      expect((await call('PUT', '/v1/settings/sync', operator, orgBody)).statusCode).toBe(403);
      expect((await call('PUT', '/v1/settings/sync', userA, orgBody)).statusCode).toBe(403);
      expect((await call('GET', '/v1/settings/sync', null)).statusCode).toBe(401);
    });

    it('replaces the organisation’s overrides and bounds; another organisation sees none of them', async () => {
      const res = await call('PUT', '/v1/settings/sync', adminA, orgBody);
      expect(res.statusCode).toBe(200);
      expect(res.json().accountIntervalMinutes).toMatchObject({ min: 30, max: 240 });
      expect(res.json().overrides).toEqual([
        { provider: 'momo', plan: '*', cron: null, timezone: 'Africa/Lusaka', enabled: false, settings: {} },
        {
          provider: 'mono',
          plan: 'balance',
          cron: '*/15 * * * *',
          timezone: 'Africa/Lusaka',
          enabled: true,
          settings: { spreadMinutes: 5 },
        },
      ]);
      const stored = await env.db.pool.query('SELECT provider, plan FROM sync_schedules WHERE org_id = $1 ORDER BY provider', [a.orgId]);
      expect(stored.rows).toEqual([
        { provider: 'momo', plan: '*' },
        { provider: 'mono', plan: 'balance' },
      ]);
      const other = (await call('GET', '/v1/settings/sync', adminB)).json();
      expect(other.overrides).toEqual([]);
      expect(other.accountIntervalMinutes).toMatchObject({ min: 60, max: 720 });
      // A second PUT replaces (the momo kill switch goes).
      const again = await call('PUT', '/v1/settings/sync', adminA, { ...orgBody, overrides: [orgBody.overrides[0]] });
      expect(again.json().overrides.map((o: { plan: string }) => o.plan)).toEqual(['balance']);
    });

    it('refuses invalid schedules with the scheduler’s own rules, naming the field', async () => {
      const override = orgBody.overrides[0]!;
      const cases: [unknown, string][] = [
        [{ ...orgBody, overrides: [{ ...override, settings: { spreadMinutes: -1 } }] }, 'body.overrides.0.settings.spreadMinutes'],
        [
          { ...orgBody, overrides: [{ ...override, settings: { window: { start: '25:00', end: '20:00' } } }] },
          'body.overrides.0.settings.window.start',
        ],
        [{ ...orgBody, overrides: [{ ...override, settings: { every: 5 } }] }, 'body.overrides.0.settings.every'],
        [{ ...orgBody, overrides: [{ ...override, timezone: 'Mars/Olympus' }] }, 'body.overrides.0.timezone'],
        [{ ...orgBody, overrides: [{ ...override, cron: 'every minute' }] }, 'body.overrides.0.cron'],
        [{ ...orgBody, overrides: [{ ...override, cron: '0 24 * * *' }] }, 'body.overrides.0.cron'],
        [{ ...orgBody, overrides: [{ ...override, cron: '*/0 * * * *' }] }, 'body.overrides.0.cron'],
        [{ ...orgBody, overrides: [{ ...override, plan: 'hourly' }] }, 'body.overrides.0.plan'],
        [{ ...orgBody, overrides: [override, override] }, 'body.overrides.1'],
        [{ ...orgBody, accountIntervalMinutes: { min: 240, max: 30 } }, 'body.accountIntervalMinutes.max'],
        [{ ...orgBody, accountIntervalMinutes: { min: 25, max: 240 } }, 'body.accountIntervalMinutes.min'],
        [{ overrides: [] }, 'body.accountIntervalMinutes'],
      ];
      for (const [payload, field] of cases) {
        const res = await call('PUT', '/v1/settings/sync', adminA, payload);
        expect([field, res.statusCode]).toEqual([field, 400]);
        expect(res.json().message).toContain(field);
      }
      // Nothing changed.
      expect((await call('GET', '/v1/settings/sync', adminA)).json().overrides).toHaveLength(1);
    });
  });

  describe('GET/PUT /v1/accounts/:id/settings', () => {
    const url = () => `/v1/accounts/${a.accounts[0]}/settings`;

    it('reads the defaults: the organisation’s schedule, its bounds, pushes on', async () => {
      const res = await call('GET', url(), userA);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        accountId: a.accounts[0],
        provider: 'mono',
        syncIntervalMinutes: null,
        bounds: { min: 30, max: 240 },
        reauthPush: true,
      });
    });

    it('refuses an interval outside the organisation’s bounds with a 400 naming the bound', async () => {
      const low = await call('PUT', url(), userA, { syncIntervalMinutes: 15 });
      expect(low.statusCode).toBe(400);
      expect(low.json().message).toMatch(/body\.syncIntervalMinutes: must be at least 30 minutes \(accountIntervalMinutes\.min/);
      const high = await call('PUT', url(), userA, { syncIntervalMinutes: 480 });
      expect(high.statusCode).toBe(400);
      expect(high.json().message).toMatch(/at most 240 minutes \(accountIntervalMinutes\.max/);
      for (const payload of [{ syncIntervalMinutes: 25 }, { syncIntervalMinutes: '30' }, {}, { reauthPush: 'no' }, { colour: 'red' }]) {
        const res = await call('PUT', url(), userA, payload);
        expect([payload, res.statusCode]).toEqual([payload, 400]);
      }
      const rows = await env.db.pool.query('SELECT 1 FROM sync_schedules WHERE account_id = $1', [a.accounts[0]]);
      expect(rows.rowCount).toBe(0);
    });

    it('sets the interval and the re-auth push opt-out; scoped to the owner and the organisation', async () => {
      const res = await call('PUT', url(), userA, { syncIntervalMinutes: 30, reauthPush: false });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ syncIntervalMinutes: 30, reauthPush: false });
      const row = await env.db.pool.query('SELECT org_id, cron, timezone, enabled FROM sync_schedules WHERE account_id = $1', [
        a.accounts[0],
      ]);
      expect(row.rows).toEqual([{ org_id: a.orgId, cron: '*/30 * * * *', timezone: 'Africa/Lusaka', enabled: true }]);
      const pref = await env.db.pool.query('SELECT provider, reauth_push FROM notification_preferences WHERE user_id = $1', [
        a.users['user-1'],
      ]);
      expect(pref.rows).toEqual([{ provider: 'mono', reauth_push: false }]);
      // user-2 does not own it; org B's admin cannot see it; no token is 401.
      const user2 = await token({ orgId: a.orgId, sub: 'user-2' });
      expect((await call('GET', url(), user2)).statusCode).toBe(404);
      expect((await call('PUT', url(), adminB, { reauthPush: true })).statusCode).toBe(404);
      expect((await call('GET', url(), null)).statusCode).toBe(401);
      expect((await call('GET', '/v1/accounts/nope/settings', userA)).statusCode).toBe(400);
      // The organisation's admin may read it.
      expect((await call('GET', url(), adminA)).json()).toMatchObject({ syncIntervalMinutes: 30, reauthPush: false });
    });

    it('the scheduler plans the account with its own interval (planner in-process)', async () => {
      const pool = env.db.poolAs('intellifin_scheduler');
      const lease = await tryAcquireLease(pool, 'scheduler', 'settings-test', 600_000);
      const fence = { name: 'scheduler', holder: 'settings-test', epoch: lease!.epoch };
      const deps = {
        pool,
        logger: logger(),
        metrics: schedulerMetrics(new Registry()),
        errorBackoff: { baseMs: 1_800_000, capMs: 86_400_000 },
      };
      const lusaka = (hhmm: string) => new Date(`2026-03-25T${hhmm}:00+02:00`);
      await executeDueSlots(deps, fence, lusaka('10:00'));
      await env.db.pool.query('DELETE FROM sync_due');
      const executed = await executeDueSlots(deps, fence, lusaka('10:30'));
      const transactions = executed.filter((e) => e.plan === 'transactions');
      // Half past: only the account's own */30 group fires for the transactions plan; the hourly default does not.
      expect(transactions).toEqual([
        expect.objectContaining({
          provider: 'mono',
          scope: { orgId: a.orgId, accountId: a.accounts[0] },
          planned: 1,
          slot: lusaka('10:30'),
        }),
      ]);
      const due = await env.db.pool.query<{ account_id: string; mode: string }>(
        'SELECT account_id, mode FROM sync_due WHERE account_id = ANY($1)',
        [[a.accounts[0], a.accounts[1]]],
      );
      const byAccount = Object.fromEntries(due.rows.map((r) => [r.account_id, r.mode]));
      // Both got the balance plan at :30 (org A's */15 override); only the first also its transactions sync.
      expect(byAccount).toEqual({ [a.accounts[0]!]: 'full', [a.accounts[1]!]: 'balance' });
    });

    it('null goes back to the organisation’s schedule', async () => {
      const res = await call('PUT', url(), userA, { syncIntervalMinutes: null });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ syncIntervalMinutes: null, reauthPush: false });
      const rows = await env.db.pool.query('SELECT 1 FROM sync_schedules WHERE account_id = $1', [a.accounts[0]]);
      expect(rows.rowCount).toBe(0);
    });
  });
});
