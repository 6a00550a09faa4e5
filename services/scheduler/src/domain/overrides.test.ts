import { resolvePlanGroups, type ScheduleSetting } from './overrides';

const row = (r: Partial<ScheduleSetting> & Pick<ScheduleSetting, 'plan'>): ScheduleSetting => ({
  provider: 'mono',
  orgId: null,
  accountId: null,
  cron: null,
  timezone: 'Africa/Lusaka',
  enabled: true,
  settings: {},
  ...r,
});

const find = (
  groups: ReturnType<typeof resolvePlanGroups>,
  plan: string,
  orgId: string | null,
  accountId: string | null,
  provider = 'mono',
) => groups.find((g) => g.plan === plan && g.provider === provider && g.scope.orgId === orgId && g.scope.accountId === accountId)!;

describe('override resolution', () => {
  it('uses the built-in defaults without rows: one provider group per plan', () => {
    const groups = resolvePlanGroups([]);
    expect(groups).toHaveLength(3 * 4);
    const tx = find(groups, 'transactions', null, null);
    expect(tx.definition).toMatchObject({ cron: '0 * * * *', timezone: 'Africa/Lusaka', mode: 'transactions', trigger: 'scheduled' });
    expect(tx.definition.settings.window).toEqual({ start: '08:00', end: '20:00' });
    expect(tx.enabled).toBe(true);
  });

  it('account > org > provider, field by field; a row without cron inherits cron and zone', () => {
    const groups = resolvePlanGroups([
      row({ plan: 'transactions', cron: '0 */2 * * *', settings: { spreadMinutes: 5 } }),
      row({ plan: 'transactions', orgId: 'o1', cron: '0 * * * *', timezone: 'Europe/London', settings: { window: null } }),
      row({ plan: 'transactions', orgId: 'o1', accountId: 'a1', settings: { spreadMinutes: 1 } }),
    ]);
    const provider = find(groups, 'transactions', null, null);
    expect(provider.excludeOrgIds).toEqual(['o1']);
    expect(provider.excludeAccountIds).toEqual(['a1']);
    expect(provider.definition).toMatchObject({ cron: '0 */2 * * *', timezone: 'Africa/Lusaka' });
    const org = find(groups, 'transactions', 'o1', null);
    expect(org.definition).toMatchObject({ cron: '0 * * * *', timezone: 'Europe/London' });
    expect(org.definition.settings).toMatchObject({ window: null, spreadMinutes: 5 });
    expect(org.excludeAccountIds).toEqual(['a1']);
    const acct = find(groups, 'transactions', 'o1', 'a1');
    expect(acct.definition).toMatchObject({ cron: '0 * * * *', timezone: 'Europe/London' });
    expect(acct.definition.settings).toMatchObject({ window: null, spreadMinutes: 1 });
  });

  it('lets a narrower row re-enable a plan but never undo a kill switch', () => {
    const groups = resolvePlanGroups([
      row({ plan: 'balance', enabled: false }),
      row({ plan: 'balance', orgId: 'o1', enabled: true }),
      row({ plan: '*', provider: 'airtel', enabled: false }),
      row({ plan: 'balance', provider: 'airtel', orgId: 'o1', enabled: true }),
      row({ plan: '*', orgId: 'o2', enabled: false }),
    ]);
    expect(find(groups, 'balance', null, null).enabled).toBe(false);
    expect(find(groups, 'balance', 'o1', null).enabled).toBe(true);
    expect(groups.filter((g) => g.provider === 'airtel').every((g) => !g.enabled)).toBe(true);
    for (const plan of ['transactions', 'balance', 'nightly', 'stale']) {
      expect(find(groups, plan, 'o2', null)).toMatchObject({ enabled: false, reason: 'organisation switched off' });
      expect(find(groups, plan, null, null).excludeOrgIds).toContain('o2');
    }
  });

  it('flags unusable rows instead of failing the pass', () => {
    const groups = resolvePlanGroups([
      row({ plan: 'nightly', orgId: 'o1', cron: 'not a cron' }),
      row({ plan: 'stale', orgId: 'o2', settings: { spreadMinutes: -3 } }),
      row({ plan: 'balance', orgId: 'o3', cron: '0 * * * *', timezone: 'Nowhere/City' }),
    ]);
    expect(find(groups, 'nightly', 'o1', null)).toMatchObject({ enabled: false, invalid: expect.stringMatching(/invalid cron/) });
    expect(find(groups, 'stale', 'o2', null)).toMatchObject({ enabled: false, invalid: expect.stringMatching(/spreadMinutes/) });
    expect(find(groups, 'balance', 'o3', null)).toMatchObject({ enabled: false, invalid: expect.stringMatching(/time zone/) });
    expect(find(groups, 'nightly', null, null).enabled).toBe(true);
  });
});
