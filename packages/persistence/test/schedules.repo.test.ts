import { createTestDatabase, type TestDatabase } from '@intellifin/testing';
import { deleteSchedule, insertAccount, insertOrganization, listSchedules, setProviderEnabled, upsertSchedule } from '../src';

describe('sync_schedules repository', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('migration 0003 seeds the provider-level default plans', async () => {
    const rows = await listSchedules(db.pool);
    expect(rows.map((r) => `${r.provider}/${r.plan}/${r.cron}`).sort()).toEqual(
      ['airtel', 'momo', 'mono']
        .flatMap((p) => [`${p}/balance/*/30 * * * *`, `${p}/nightly/0 2 * * *`, `${p}/stale/0 */4 * * *`, `${p}/transactions/0 * * * *`])
        .sort(),
    );
    expect(rows.every((r) => r.orgId === null && r.accountId === null && r.enabled && r.timezone === 'Africa/Lusaka')).toBe(true);
    expect(rows.find((r) => r.provider === 'mono' && r.plan === 'transactions')!.settings).toEqual({
      window: { start: '08:00', end: '20:00' },
      spreadMinutes: 20,
    });
  });

  it('creates, replaces and deletes per-org and per-account overrides, one row per scope', async () => {
    const org = await insertOrganization(db.pool, 'Banda Traders');
    const acct = await insertAccount(db.pool, {
      orgId: org,
      provider: 'momo',
      providerAccountId: 'momo-1',
      type: 'mobile_money',
      currency: 'ZMW',
    });
    await upsertSchedule(db.pool, {
      provider: 'momo',
      plan: 'transactions',
      orgId: org,
      cron: '0 */2 * * *',
      settings: { spreadMinutes: 5 },
    });
    const replaced = await upsertSchedule(db.pool, {
      provider: 'momo',
      plan: 'transactions',
      orgId: org,
      cron: '0 */3 * * *',
      timezone: 'Africa/Harare',
    });
    expect(replaced).toMatchObject({ cron: '0 */3 * * *', timezone: 'Africa/Harare', settings: {}, enabled: true, accountId: null });
    await upsertSchedule(db.pool, { provider: 'momo', plan: 'transactions', orgId: org, accountId: acct.id, enabled: false });
    const momo = await listSchedules(db.pool, { provider: 'momo' });
    expect(momo.filter((r) => r.plan === 'transactions').map((r) => [r.orgId, r.accountId, r.cron, r.enabled])).toEqual([
      [null, null, '0 * * * *', true],
      [org, null, '0 */3 * * *', true],
      [org, acct.id, null, false],
    ]);
    expect(await deleteSchedule(db.pool, { provider: 'momo', plan: 'transactions', orgId: org, accountId: acct.id })).toBe(true);
    expect(await deleteSchedule(db.pool, { provider: 'momo', plan: 'transactions', orgId: org, accountId: acct.id })).toBe(false);
    expect((await listSchedules(db.pool, { provider: 'momo' })).filter((r) => r.accountId !== null)).toEqual([]);
  });

  it('switches a provider off and on with its kill-switch row', async () => {
    await setProviderEnabled(db.pool, 'airtel', false);
    expect((await listSchedules(db.pool, { provider: 'airtel' })).find((r) => r.plan === '*')).toMatchObject({
      enabled: false,
      orgId: null,
    });
    await setProviderEnabled(db.pool, 'airtel', false); // idempotent
    await setProviderEnabled(db.pool, 'airtel', true);
    expect((await listSchedules(db.pool, { provider: 'airtel' })).find((r) => r.plan === '*')).toBeUndefined();
  });
});
