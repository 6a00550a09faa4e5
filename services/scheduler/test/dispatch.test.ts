import { Registry } from '@intellifin/core';
import { RateBudget } from '@intellifin/persistence';
import { createTestRedis, type TestRedis } from '@intellifin/testing';
import { markGroup } from '../src/adapters/accounts-plan.repo';
import { dispatchDue } from '../src/app/dispatch';
import { executeDueSlots } from '../src/app/plan-slots';
import { schedulerMetrics } from '../src/app/metrics';
import { jitterOffsetMs } from '../src/domain/jitter';
import { harness, instance, lusaka, MIN, seedAccount, seedOrg, silentLogger, type Harness } from './helpers';

describe('dispatch', () => {
  let h: Harness;
  let r: TestRedis;
  let org: string;

  beforeAll(async () => {
    h = await harness(lusaka('2026-03-25', '08:00'));
    r = createTestRedis();
    org = await seedOrg(h.pool);
  });
  afterAll(async () => {
    await r.cleanup();
    await h.close();
  });
  beforeEach(async () => {
    await h.pool.query('DELETE FROM accounts');
    await h.pool.query('DELETE FROM sync_due');
  });

  const group = (provider: 'mono' | 'momo') => ({
    provider,
    scope: { orgId: null, accountId: null },
    excludeOrgIds: [],
    excludeAccountIds: [],
  });

  it('spreads a slot over its window with the per-account offset (SQL and TypeScript agree)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) ids.push(await seedAccount(h.pool, org, 'mono'));
    const slot = lusaka('2026-03-25', '09:00');
    const spreadMs = 20 * MIN;
    await markGroup(h.servicePool, {
      group: group('mono'),
      slot,
      base: slot,
      spreadMs,
      mode: 'transactions',
      trigger: 'scheduled',
      errorBackoffMs: [],
    });
    const { rows } = await h.pool.query<{ id: string; due_at: Date; planned_slot: Date }>(
      'SELECT account_id AS id, due_at, planned_slot FROM sync_due',
    );
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    for (const row of rows) {
      expect(row.due_at.getTime() - slot.getTime()).toBe(jitterOffsetMs(row.id, spreadMs));
      expect(row.planned_slot.toISOString()).toBe(slot.toISOString());
    }
    const minutes = new Set(rows.map((x) => Math.floor((x.due_at.getTime() - slot.getTime()) / MIN)));
    expect(minutes.size).toBeGreaterThanOrEqual(15); // of 20
  });

  it('a planning pass that marks ≥ 10k accounts refreshes the statistics of sync_due (dispatch reads it next)', async () => {
    const inst = instance(h);
    expect(await inst.elector.poll()).toBe(true);
    const fence = inst.elector.fence!;
    const deps = {
      pool: h.servicePool,
      logger: silentLogger(),
      metrics: schedulerMetrics(new Registry()),
      errorBackoff: { baseMs: 30 * MIN, capMs: 24 * 60 * MIN },
    };
    const lastAnalyze = async () =>
      (await h.pool.query<{ t: Date | null }>(`SELECT last_analyze AS t FROM pg_stat_user_tables WHERE relname = 'sync_due'`)).rows[0]!.t;
    // A few accounts: planned, no ANALYZE.
    for (let i = 0; i < 5; i++) await seedAccount(h.pool, org, 'mono');
    const before = await lastAnalyze();
    const small = await executeDueSlots(deps, fence, lusaka('2026-03-25', '09:00'));
    expect(small.reduce((n, e) => n + e.planned, 0)).toBeGreaterThan(0);
    expect(await lastAnalyze()).toEqual(before);
    // A slot that marks 10k accounts: ANALYZE before dispatch.
    await h.pool.query(
      `INSERT INTO accounts (org_id, provider, provider_account_id, type, currency) SELECT $1, 'mono', 'bulk_' || g, 'bank', 'ZMW' FROM generate_series(1, 10000) g`,
      [org],
    );
    const big = await executeDueSlots(deps, fence, lusaka('2026-03-25', '10:00'));
    expect(big.reduce((n, e) => n + e.planned, 0)).toBeGreaterThanOrEqual(10_000);
    const after = await lastAnalyze();
    expect(after).not.toBeNull();
    expect(after!.getTime()).toBeGreaterThan(before?.getTime() ?? 0);
    await inst.elector.stop();
  });

  it('a re-run of the same slot publishes nothing new (Nats-Msg-Id = account:slot)', async () => {
    for (let i = 0; i < 25; i++) await seedAccount(h.pool, org, 'momo');
    const inst = instance(h);
    expect(await inst.elector.poll()).toBe(true);
    const fence = inst.elector.fence!;
    const slot = lusaka('2026-03-25', '10:00');
    const mark = () =>
      markGroup(h.servicePool, {
        group: group('momo'),
        slot,
        base: slot,
        spreadMs: 0,
        mode: 'transactions',
        trigger: 'scheduled',
        errorBackoffMs: [],
      });
    const deps = {
      pool: h.servicePool,
      publisher: inst.publisher,
      topology: h.topology,
      logger: silentLogger(),
      metrics: schedulerMetrics(new Registry()),
      pageSize: 10,
      maxInFlight: 4,
      maxPerPass: 1000,
    };
    const storedBefore = await h.storedCommands();
    expect(await mark()).toBe(25);
    const first = await dispatchDue(deps, fence, slot);
    expect(first).toMatchObject({ due: 25, published: 25, duplicates: 0, cleared: 25 });
    expect(await mark()).toBe(25); // the same slot planned again (e.g. a crash before its state was saved)
    const again = await dispatchDue(deps, fence, slot);
    expect(again).toMatchObject({ due: 25, published: 0, duplicates: 25, cleared: 25 });
    expect((await h.storedCommands()) - storedBefore).toBe(25);
    const cmd = inst.publisher.sent[0]!.command;
    expect(cmd).toMatchObject({
      provider: 'momo',
      trigger: 'scheduled',
      mode: 'transactions',
      realtime: false,
      plannedSlot: slot.toISOString(),
    });
    expect(inst.publisher.sent[0]!.msgId).toBe(`${cmd.accountId}:${slot.toISOString()}`);
    expect(inst.publisher.sent[0]!.subject).toBe(h.topology.commandSubject('momo', cmd.accountId));
    await inst.scheduler.stop();
  });

  it('takes budget per provider leaving the reserve for user-triggered syncs, and holds a paused provider', async () => {
    for (let i = 0; i < 20; i++) await seedAccount(h.pool, org, 'mono');
    for (let i = 0; i < 5; i++) await seedAccount(h.pool, org, 'momo');
    const limits = {
      mono: { ratePerSecond: 0.001, burst: 10 },
      momo: { ratePerSecond: 0.001, burst: 10 },
      airtel: { ratePerSecond: 0.001, burst: 10 },
    };
    const budget = new RateBudget(r.redis, limits, `${r.prefix}sched:`);
    const requests = new RateBudget(r.redis, limits, r.prefix);
    const inst = instance(h);
    expect(await inst.elector.poll()).toBe(true);
    const slot = lusaka('2026-03-25', '11:00');
    for (const p of ['mono', 'momo'] as const) {
      await markGroup(h.servicePool, {
        group: group(p),
        slot,
        base: slot,
        spreadMs: 0,
        mode: 'transactions',
        trigger: 'scheduled',
        errorBackoffMs: [],
      });
    }
    const deps = {
      pool: h.servicePool,
      publisher: inst.publisher,
      topology: h.topology,
      logger: silentLogger(),
      metrics: schedulerMetrics(new Registry()),
      pageSize: 100,
      maxInFlight: 10,
      maxPerPass: 1000,
      budget,
      reserve: { mono: 4, momo: 4 },
      budgetChunk: 1,
      pauses: requests,
    };
    const rep = await dispatchDue(deps, inst.elector.fence!, slot);
    // mono: burst 10 − reserve 4 = 6 published, 14 stay due; momo: 5 within its own budget.
    expect(rep).toMatchObject({ due: 25, published: 11, deferred: 14 });
    expect(inst.publisher.sent.filter((s) => s.command.provider === 'mono')).toHaveLength(6);
    const { rows } = await h.pool.query(`SELECT provider, count(*)::int AS n FROM sync_due GROUP BY provider`);
    expect(rows).toEqual([{ provider: 'mono', n: 14 }]);
    // The reserve is still there for a manual sync (taken without a reserve)...
    expect(await budget.take('mono', { cost: 4 })).toEqual({ granted: true });
    // ...and a provider paused by a 429 gets no scheduled commands until the pause ends.
    await markGroup(h.servicePool, {
      group: group('momo'),
      slot,
      base: slot,
      spreadMs: 0,
      mode: 'transactions',
      trigger: 'scheduled',
      errorBackoffMs: [],
    });
    await requests.pause('momo', 60_000);
    const paused = await dispatchDue({ ...deps, budget: undefined }, inst.elector.fence!, slot);
    expect(paused).toMatchObject({ published: 14, deferred: 5 });
    expect(inst.publisher.sent.filter((s) => s.command.provider === 'momo')).toHaveLength(5);
    await inst.scheduler.stop();
  });

  it('merges plans firing together for one account into one command with the wider mode', async () => {
    const id = await seedAccount(h.pool, org, 'mono');
    const slot = lusaka('2026-03-25', '12:00');
    await markGroup(h.servicePool, {
      group: group('mono'),
      slot,
      base: slot,
      spreadMs: 10 * MIN,
      mode: 'balance',
      trigger: 'balance',
      errorBackoffMs: [],
    });
    await markGroup(h.servicePool, {
      group: group('mono'),
      slot,
      base: slot,
      spreadMs: 20 * MIN,
      mode: 'transactions',
      trigger: 'scheduled',
      errorBackoffMs: [],
    });
    const { rows } = await h.pool.query('SELECT due_at, mode, trigger FROM sync_due WHERE account_id = $1', [id]);
    expect(rows[0].mode).toBe('full');
    expect(rows[0].trigger).toBe('balance'); // the first plan's trigger: its slot is the one the command carries
    expect(rows[0].due_at.getTime()).toBe(slot.getTime() + Math.min(jitterOffsetMs(id, 10 * MIN), jitterOffsetMs(id, 20 * MIN)));
  });
});
