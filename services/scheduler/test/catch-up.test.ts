import { upsertSchedule } from '@intellifin/persistence';
import { harness, instance, lusaka, metricValue, MIN, seedAccount, seedOrg, type Harness, type Instance } from './helpers';

const ACCOUNTS = 40;

describe('catch-up after downtime', () => {
  let h: Harness;
  let inst: Instance;
  let accounts: string[];

  beforeAll(async () => {
    h = await harness(lusaka('2026-03-24', '09:00'));
    const org = await seedOrg(h.pool);
    accounts = [];
    for (let i = 0; i < ACCOUNTS; i++)
      accounts.push(
        await seedAccount(h.pool, org, ['mono', 'momo', 'airtel'][i % 3] as 'mono', { lastSuccessAt: lusaka('2026-03-24', '08:30') }),
      );
    for (const provider of ['mono', 'momo', 'airtel'] as const) await upsertSchedule(h.pool, { provider, plan: 'balance', enabled: false });
    inst = instance(h);
    expect(await inst.elector.poll()).toBe(true);
  });
  afterAll(async () => {
    await inst.scheduler.stop();
    await h.close();
  });

  it('after a 5-hour outage, each overdue account gets exactly one command and the missed slots run once', async () => {
    // 09:00 slot executes; the scheduler dies after its 09:05 pass, with part of the slot still pending.
    for (const hhmm of ['09:00', '09:05']) {
      h.clock.set(lusaka('2026-03-24', hhmm));
      await inst.scheduler.tick();
    }
    const beforeOutage = inst.publisher.sent.length;
    expect(beforeOutage).toBeGreaterThan(0);
    expect(beforeOutage).toBeLessThan(ACCOUNTS);
    const pendingFromBefore = new Set(accounts.filter((id) => !inst.publisher.sent.some((s) => s.command.accountId === id)));

    // Back at 14:25: 10:00–14:00 were missed (5 slots). Drive to 14:55.
    for (let t = lusaka('2026-03-24', '14:25').getTime(); t <= lusaka('2026-03-24', '14:55').getTime(); t += 5 * MIN) {
      h.clock.set(t);
      await inst.scheduler.tick();
    }
    const after = inst.publisher.sent.slice(beforeOutage);
    const perAccount = new Map<string, number>();
    for (const s of after) perAccount.set(s.command.accountId, (perAccount.get(s.command.accountId) ?? 0) + 1);
    expect([...perAccount.keys()].sort()).toEqual([...accounts].sort());
    expect([...perAccount.values()].every((n) => n === 1)).toBe(true);
    // Accounts left pending by the crash keep their 09:00 slot; the rest get the 14:00 catch-up slot.
    for (const s of after) {
      const wantSlot = pendingFromBefore.has(s.command.accountId) ? lusaka('2026-03-24', '09:00') : lusaka('2026-03-24', '14:00');
      expect(s.command.plannedSlot).toBe(wantSlot.toISOString());
      // Catch-up spreads from the restart, not from the long-past slot.
      if (!pendingFromBefore.has(s.command.accountId))
        expect(s.at.getTime()).toBeGreaterThanOrEqual(lusaka('2026-03-24', '14:25').getTime());
    }
    expect(
      await metricValue(inst.registry, 'intellifin_sync_scheduler_slots_skipped_total', { plan: 'transactions', provider: 'mono' }),
    ).toBe(4);
    expect(
      await metricValue(inst.registry, 'intellifin_sync_scheduler_slots_executed_total', {
        plan: 'transactions',
        provider: 'mono',
        catch_up: 'true',
      }),
    ).toBe(1);
    const state = await h.pool.query(
      `SELECT last_slot FROM scheduler_slots WHERE plan = 'transactions' AND provider = 'mono' AND org_id IS NULL`,
    );
    expect(state.rows[0].last_slot.toISOString()).toBe(lusaka('2026-03-24', '14:00').toISOString());
    expect(await h.storedCommands()).toBe(inst.publisher.sent.length);
  });

  it('then resumes the normal plan: one command per account for the 15:00 slot', async () => {
    const before = inst.publisher.sent.length;
    for (let t = lusaka('2026-03-24', '15:00').getTime(); t <= lusaka('2026-03-24', '15:25').getTime(); t += 5 * MIN) {
      h.clock.set(t);
      await inst.scheduler.tick();
    }
    const next = inst.publisher.sent.slice(before);
    expect(next.map((s) => s.command.accountId).sort()).toEqual([...accounts].sort());
    expect(new Set(next.map((s) => s.command.plannedSlot))).toEqual(new Set([lusaka('2026-03-24', '15:00').toISOString()]));
  });
});
