import { upsertSchedule } from '@intellifin/persistence';
import { readLease, withLeaderFence, LostLeadershipError } from '../src/adapters/leader-lease.repo';
import { executeDueSlots } from '../src/app/plan-slots';
import { schedulerMetrics } from '../src/app/metrics';
import { Registry } from '@intellifin/core';
import { harness, instance, lusaka, MIN, seedAccount, seedOrg, silentLogger, waitFor, type Harness } from './helpers';

const ACCOUNTS = 30;

describe('leadership', () => {
  let h: Harness;
  let accounts: string[];

  beforeEach(async () => {
    h = await harness(lusaka('2026-03-23', '07:55'));
    const org = await seedOrg(h.pool);
    accounts = [];
    for (let i = 0; i < ACCOUNTS; i++)
      accounts.push(await seedAccount(h.pool, org, i % 2 ? 'mono' : 'momo', { lastSuccessAt: lusaka('2026-03-23', '07:00') }));
    // Transactions plan only, to make the expected command count simple.
    for (const provider of ['mono', 'momo'] as const) await upsertSchedule(h.pool, { provider, plan: 'balance', enabled: false });
  });
  afterEach(() => h.close());

  it('two schedulers planning at once publish each (account, slot) once, and only the leader publishes', async () => {
    const a = instance(h, { holder: 'a' });
    const b = instance(h, { holder: 'b' });
    const [la, lb] = await Promise.all([a.elector.poll(), b.elector.poll()]);
    expect([la, lb].filter(Boolean)).toHaveLength(1);

    for (let t = lusaka('2026-03-23', '07:55').getTime(); t <= lusaka('2026-03-23', '10:30').getTime(); t += 5 * MIN) {
      h.clock.set(t);
      await Promise.all([a.elector.poll(), b.elector.poll()]);
      await Promise.all([a.scheduler.tick(), b.scheduler.tick()]);
    }
    const sent = [...a.publisher.sent, ...b.publisher.sent];
    const leader = la ? a : b;
    const follower = la ? b : a;
    expect(follower.publisher.sent).toEqual([]);
    // 08:00, 09:00, 10:00 for every account, each stored once.
    expect(sent).toHaveLength(3 * ACCOUNTS);
    expect(new Set(sent.map((s) => s.msgId)).size).toBe(3 * ACCOUNTS);
    expect(await h.storedCommands()).toBe(3 * ACCOUNTS);
    expect(leader.publisher.sent.every((s) => !s.duplicate)).toBe(true);
    await Promise.all([a.scheduler.stop(), b.scheduler.stop()]);
  });

  it('hands over when the leader dies (its lease runs out): nothing of the slot is lost or doubled', async () => {
    const ttlMs = 600;
    const a = instance(h, { holder: 'a', ttlMs, pollMs: 150 });
    const b = instance(h, { holder: 'b', ttlMs, pollMs: 150 });
    expect(await a.elector.poll()).toBe(true);
    expect(await b.elector.poll()).toBe(false);

    // A executes the 08:00 slot and publishes what is due by 08:05, then dies (no more renewals).
    h.clock.set(lusaka('2026-03-23', '08:00'));
    const first = await a.scheduler.tick();
    const executed = first!.slots.filter((s) => s.plan === 'transactions' && s.enabled);
    expect(executed.map((s) => `${s.provider} ${s.slot.toISOString()}`).sort()).toEqual(
      ['airtel', 'momo', 'mono'].map((p) => `${p} ${lusaka('2026-03-23', '08:00').toISOString()}`),
    );
    h.clock.set(lusaka('2026-03-23', '08:05'));
    await a.scheduler.tick();
    const byA = a.publisher.sent.length;
    expect(byA).toBeGreaterThan(0);
    expect(byA).toBeLessThan(ACCOUNTS);

    // B takes over once A's lease expires (bounded by ttl + poll), with a higher epoch.
    const epochA = (await readLease(h.pool, 'scheduler'))!.epoch;
    await waitFor(() => b.elector.poll(), 'b to take the lease', 10_000);
    const lease = (await readLease(h.pool, 'scheduler'))!;
    expect(lease.holder).toBe('b');
    expect(lease.epoch).toBe(epochA + 1n);
    expect(a.elector.isLeader).toBe(false); // A's local view ran out too
    expect(await a.scheduler.tick()).toBeNull();

    for (let t = lusaka('2026-03-23', '08:10').getTime(); t <= lusaka('2026-03-23', '08:30').getTime(); t += 5 * MIN) {
      h.clock.set(t);
      const r = await b.scheduler.tick();
      // B does not execute the 08:00 slot again: the slot state says it ran.
      expect(r!.slots.filter((s) => s.enabled && s.plan === 'transactions')).toEqual([]);
    }
    const sent = [...a.publisher.sent, ...b.publisher.sent];
    const slot0800 = lusaka('2026-03-23', '08:00').toISOString();
    expect(sent.map((s) => s.command.accountId).sort()).toEqual([...accounts].sort());
    expect(sent.every((s) => s.command.plannedSlot === slot0800)).toBe(true);
    expect(await h.storedCommands()).toBe(ACCOUNTS);
    await Promise.all([a.scheduler.stop(), b.scheduler.stop()]);
  });

  it('fences a deposed leader: its writes are refused after a takeover and change nothing', async () => {
    const a = instance(h, { holder: 'a', ttlMs: 600, pollMs: 150 });
    const b = instance(h, { holder: 'b', ttlMs: 600, pollMs: 150 });
    expect(await a.elector.poll()).toBe(true);
    const staleFence = a.elector.fence!;
    await waitFor(() => b.elector.poll(), 'b to take the lease', 10_000);

    // A paused process wakes up still believing it leads and tries to execute the 08:00 slot.
    h.clock.set(lusaka('2026-03-23', '08:00'));
    const deps = {
      pool: h.servicePool,
      logger: silentLogger(),
      metrics: schedulerMetrics(new Registry()),
      errorBackoff: { baseMs: 60_000, capMs: 3_600_000 },
    };
    await expect(executeDueSlots(deps, staleFence, h.clock.now())).rejects.toBeInstanceOf(LostLeadershipError);
    await expect(withLeaderFence(h.servicePool, staleFence, async () => 'written')).rejects.toBeInstanceOf(LostLeadershipError);
    const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM sync_due');
    expect(rows[0].n).toBe(0);
    const slots = await h.pool.query('SELECT count(*)::int AS n FROM scheduler_slots WHERE epoch = $1', [staleFence.epoch.toString()]);
    expect(slots.rows[0].n).toBe(0);

    // The real leader plans the slot: every account gets its pending sync.
    const r = await b.scheduler.tick();
    expect(r!.slots.filter((s) => s.plan === 'transactions' && s.enabled && s.provider !== 'airtel').map((s) => s.planned)).toEqual([
      ACCOUNTS / 2,
      ACCOUNTS / 2,
    ]);
    await Promise.all([a.scheduler.stop(), b.scheduler.stop()]);
  });

  it('a graceful stop releases the lease so that a follower takes over at its next poll', async () => {
    const a = instance(h, { holder: 'a' });
    const b = instance(h, { holder: 'b' });
    expect(await a.elector.poll()).toBe(true);
    expect(await b.elector.poll()).toBe(false);
    await a.scheduler.stop();
    expect(await b.elector.poll()).toBe(true);
    await b.scheduler.stop();
  });
});
