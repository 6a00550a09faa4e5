import { Registry } from '@intellifin/core';
import type { Pool, PoolClient } from '@intellifin/persistence';
import type { Fence } from '../src/adapters/leader-lease.repo';
import { schedulerMetrics } from '../src/app/metrics';
import { executeDueSlots, type PlanSlotsDeps } from '../src/app/plan-slots';
import { jitterOffsetMs } from '../src/domain/jitter';
import { harness, instance, lusaka, metricValue, MIN, seedOrg, silentLogger, type Harness, type Instance } from './helpers';

/** A pool whose every statement (pool.query and the queries of checked-out clients) is counted. */
function countingPool(pool: Pool): { pool: Pool; statements: () => number } {
  let n = 0;
  const countClient = (c: PoolClient): PoolClient =>
    new Proxy(c, {
      get(target, prop) {
        if (prop === 'query') {
          return (...args: unknown[]) => {
            n++;
            return (target.query as (...a: unknown[]) => unknown)(...args);
          };
        }
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  const wrapped = new Proxy(pool, {
    get(target, prop) {
      if (prop === 'query') {
        return (...args: unknown[]) => {
          n++;
          return (target.query as (...a: unknown[]) => unknown)(...args);
        };
      }
      if (prop === 'connect') return async () => countClient(await target.connect());
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { pool: wrapped, statements: () => n };
}

const OVERRIDES = 2_000;

/**
 * 2,000 per-account overrides (and a few org overrides) of mono's transaction plan: a planning pass
 * issues a bounded number of statements (not one or more per override), and plans exactly what
 * executing the same groups one by one plans.
 */
describe('a planning pass with thousands of per-account overrides', () => {
  let h: Harness;
  let inst: Instance;
  let fence: Fence;
  let accounts: { id: string; orgId: string }[];
  const orgs: string[] = [];

  beforeAll(async () => {
    h = await harness(lusaka('2026-03-25', '08:00'));
    for (let i = 0; i < 10; i++) orgs.push(await seedOrg(h.pool, `Org ${i}`));
    // 2,400 mono accounts over 10 organisations, plus 50 momo accounts (no overrides).
    const { rows } = await h.pool.query<{ id: string; orgId: string }>(
      `INSERT INTO accounts (org_id, provider, provider_account_id, type, currency, last_success_at)
       SELECT ($1::uuid[])[1 + g % 10], 'mono', 'mono_' || g, 'bank', 'ZMW', now() FROM generate_series(1, 2400) g
       RETURNING id, org_id AS "orgId"`,
      [orgs],
    );
    accounts = rows.sort((a, b) => (a.id < b.id ? -1 : 1));
    await h.pool.query(
      `INSERT INTO accounts (org_id, provider, provider_account_id, type, currency)
       SELECT $1, 'momo', 'momo_' || g, 'mobile_money', 'ZMW' FROM generate_series(1, 50) g`,
      [orgs[0]],
    );
    // Overrides of the transaction plan: 1,000 accounts spread over 5 minutes, 600 running at 09:00
    // only, 400 switched off; the org overrides of orgs 0 and 1 spread over 10 minutes; an
    // account-wide kill switch for 5 accounts.
    const overridden = accounts.slice(0, OVERRIDES);
    const insert = (rows: { id: string; orgId: string }[], cron: string | null, enabled: boolean, settings: object) =>
      h.pool.query(
        `INSERT INTO sync_schedules (provider, plan, org_id, account_id, cron, timezone, enabled, settings)
         SELECT 'mono', 'transactions', o, a, $3, 'Africa/Lusaka', $4, $5::jsonb FROM unnest($1::uuid[], $2::uuid[]) AS x(o, a)`,
        [rows.map((r) => r.orgId), rows.map((r) => r.id), cron, enabled, JSON.stringify(settings)],
      );
    await insert(overridden.slice(0, 1_000), null, true, { spreadMinutes: 5 });
    await insert(overridden.slice(1_000, 1_600), '0 9 * * *', true, {});
    await insert(overridden.slice(1_600, 2_000), null, false, {});
    for (const orgId of orgs.slice(0, 2)) {
      await h.pool.query(
        `INSERT INTO sync_schedules (provider, plan, org_id, enabled, settings) VALUES ('mono', 'transactions', $1, true, '{"spreadMinutes": 10}')`,
        [orgId],
      );
    }
    for (const a of accounts.slice(2_300, 2_305)) {
      await h.pool.query(`INSERT INTO sync_schedules (provider, plan, org_id, account_id, enabled) VALUES ('mono', '*', $1, $2, false)`, [
        a.orgId,
        a.id,
      ]);
    }
    // Only the transaction plan marks mono accounts at 09:00 (balance would merge into the same rows).
    await h.pool.query(`UPDATE sync_schedules SET enabled = false WHERE provider = 'mono' AND plan = 'balance' AND org_id IS NULL`);
    inst = instance(h);
    expect(await inst.elector.poll()).toBe(true);
    fence = inst.elector.fence!;
  }, 180_000);
  afterAll(async () => {
    await inst.elector.stop();
    await h.close();
  });

  const deps = (pool: Pool, registry: Registry, extra: Partial<PlanSlotsDeps> = {}): PlanSlotsDeps => ({
    pool,
    logger: silentLogger(),
    metrics: schedulerMetrics(registry),
    errorBackoff: { baseMs: 30 * MIN, capMs: 24 * 60 * MIN },
    ...extra,
  });
  const snapshot = async () => ({
    due: (
      await h.pool.query<{ row: string }>(
        `SELECT concat_ws(' ', account_id, due_at::text, planned_slot::text, mode, trigger) AS row FROM sync_due ORDER BY account_id`,
      )
    ).rows.map((r) => r.row),
    slots: (
      await h.pool.query<{ row: string }>(
        `SELECT concat_ws(' ', plan, provider, org_id, account_id, last_slot::text) AS row FROM scheduler_slots ORDER BY 1`,
      )
    ).rows.map((r) => r.row),
  });
  const reset = async () => {
    await h.pool.query('DELETE FROM sync_due');
    await h.pool.query('DELETE FROM scheduler_slots');
  };
  // 08:58: first sight of every group (no slot inside its spread window yet); 09:00: the slot fires.
  const passes = async (d: PlanSlotsDeps) => {
    await executeDueSlots(d, fence, lusaka('2026-03-25', '08:58'));
    return executeDueSlots(d, fence, lusaka('2026-03-25', '09:00'));
  };

  it('issues a bounded number of statements and plans what group-by-group execution plans', async () => {
    await reset();
    const registry = new Registry();
    const counted = countingPool(h.pool);
    const executed = await passes(deps(counted.pool, registry));
    const statements = counted.statements();

    const slot = lusaka('2026-03-25', '09:00');
    // Every override group ran (enabled or not): 2,000 account groups + 5 kill switches of the plan.
    expect(executed.filter((e) => e.plan === 'transactions' && e.scope.accountId !== null)).toHaveLength(OVERRIDES + 5);
    // Two passes over 3 providers × 4 plans with 2,000+ override groups: a few dozen statements (81 when
    // written: about 20 for the first-sight pass, 60 for the slot), where one group per statement takes 17,819.
    expect(statements).toBeLessThan(120);
    // Account groups marked by three statements: spread 5; 09:00 with the org's spread 10; 09:00 with the default 20.
    expect(await metricValue(registry, 'intellifin_sync_scheduler_plan_mark_statements_total', { scope: 'account' })).toBe(3);
    expect(await metricValue(registry, 'intellifin_sync_scheduler_plan_mark_statements_total', { scope: 'org' })).toBe(1);

    const batched = await snapshot();
    const byId = new Map(
      (await h.pool.query<{ id: string; due: Date }>('SELECT account_id AS id, due_at AS due FROM sync_due')).rows.map((r) => [
        r.id,
        r.due,
      ]),
    );
    // Spot checks against the settings of each kind of group.
    const at = (a: { id: string }) => byId.get(a.id)?.getTime();
    const spreadOf = (a: { orgId: string }) => (orgs.slice(0, 2).includes(a.orgId) ? 10 : 20);
    for (const a of accounts.slice(0, 1_000)) expect(at(a)).toBe(slot.getTime() + jitterOffsetMs(a.id, 5 * MIN));
    for (const a of accounts.slice(1_000, 1_600)) expect(at(a)).toBe(slot.getTime() + jitterOffsetMs(a.id, spreadOf(a) * MIN));
    for (const a of accounts.slice(1_600, 2_000)) expect(at(a)).toBeUndefined();
    for (const a of [...accounts.slice(2_000, 2_300), ...accounts.slice(2_305)]) {
      expect(at(a)).toBe(slot.getTime() + jitterOffsetMs(a.id, spreadOf(a) * MIN));
    }
    for (const a of accounts.slice(2_300, 2_305)) expect(at(a)).toBeUndefined();
    expect(byId.size).toBe(2_000 - 400 + 300 + 95 + 50);

    // The same passes, one group per statement (how they were executed before): the same result.
    await reset();
    const oneByOne = countingPool(h.pool);
    await passes(deps(oneByOne.pool, new Registry(), { maxGroupsPerStatement: 1 }));
    expect(oneByOne.statements()).toBeGreaterThan(OVERRIDES);
    expect(await snapshot()).toEqual(batched);
  }, 300_000);
});
