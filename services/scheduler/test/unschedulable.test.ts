import { Registry } from '@intellifin/core';
import { enqueueDueSync, withOrgScope, type Pool } from '@intellifin/persistence';
import type { Fence } from '../src/adapters/leader-lease.repo';
import { dispatchDue } from '../src/app/dispatch';
import { schedulerMetrics } from '../src/app/metrics';
import { executeDueSlots } from '../src/app/plan-slots';
import { harness, instance, lusaka, metricValue, seedAccount, seedOrg, silentLogger, type Harness, type Instance } from './helpers';

/**
 * Pending syncs of accounts that became `auth_required` or `disabled` are deleted by the status
 * trigger (migration 0012) whoever sets the status, are not planned again, and dispatch neither
 * publishes nor keeps one that slipped in; an account that is active again is planned by the next slot.
 */
describe('pending syncs of auth_required and disabled accounts', () => {
  let h: Harness;
  let inst: Instance;
  let org: string;
  let fence: Fence;
  let scheduler: Pool;
  let worker: Pool;
  const registry = new Registry();
  const metrics = schedulerMetrics(registry);

  beforeAll(async () => {
    h = await harness(lusaka('2026-03-25', '08:00'));
    org = await seedOrg(h.pool);
    inst = instance(h);
    expect(await inst.elector.poll()).toBe(true);
    fence = inst.elector.fence!;
    scheduler = h.db.poolAs('intellifin_scheduler');
    worker = h.db.poolAs('intellifin_worker');
  });
  afterAll(async () => {
    await inst.elector.stop();
    await h.close();
  });
  beforeEach(async () => {
    await h.pool.query('DELETE FROM sync_due');
    await h.pool.query('DELETE FROM scheduler_slots');
    await h.pool.query('DELETE FROM accounts');
    inst.publisher.sent.length = 0;
  });

  const pending = async (): Promise<string[]> =>
    (await h.pool.query<{ id: string }>('SELECT account_id AS id FROM sync_due ORDER BY 1')).rows.map((r) => r.id);
  const enqueue = (accountId: string) =>
    enqueueDueSync(h.pool, {
      accountId,
      orgId: org,
      provider: 'mono',
      dueAt: lusaka('2026-03-25', '07:50'),
      plannedSlot: lusaka('2026-03-25', '07:50'),
      mode: 'transactions',
      trigger: 'scheduled',
    });
  const plan = (at: Date) =>
    executeDueSlots(
      { pool: scheduler, logger: silentLogger(), metrics, errorBackoff: { baseMs: 30 * 60_000, capMs: 86_400_000 } },
      fence,
      at,
    );
  const dispatch = (at: Date) =>
    dispatchDue(
      {
        pool: scheduler,
        publisher: inst.publisher,
        topology: h.topology,
        logger: silentLogger(),
        metrics,
        pageSize: 2,
        maxInFlight: 10,
        maxPerPass: 1_000,
      },
      fence,
      at,
    );

  it('an UPDATE to auth_required (worker role) or disabled (API role) deletes the pending sync; error and active keep theirs', async () => {
    const [a, b, c, d] = [
      await seedAccount(h.pool, org, 'mono'),
      await seedAccount(h.pool, org, 'mono'),
      await seedAccount(h.pool, org, 'mono'),
      await seedAccount(h.pool, org, 'mono'),
    ];
    for (const id of [a, b, c, d]) expect(await enqueue(id)).toBe(true);
    // Neither role may delete pending syncs itself: the trigger does it as the schema owner.
    await expect(worker.query('DELETE FROM sync_due')).rejects.toThrow(/permission denied/);
    await worker.query(`UPDATE accounts SET status = 'auth_required' WHERE id = $1`, [a]);
    await withOrgScope(h.pool, org, (cl) => cl.query(`UPDATE accounts SET status = 'disabled', updated_at = now() WHERE id = $1`, [b]));
    await worker.query(`UPDATE accounts SET status = 'error', consecutive_failures = 1 WHERE id = $1`, [c]);
    expect(await pending()).toEqual([c, d].sort());
    // Nothing can give them one back while they stay so.
    expect(await enqueue(a)).toBe(false);
    expect(await enqueue(b)).toBe(false);
    expect(await pending()).toEqual([c, d].sort());
  });

  it('a planning pass does not plan them; an account active again is planned by the next slot', async () => {
    const a = await seedAccount(h.pool, org, 'mono', { status: 'auth_required' });
    const b = await seedAccount(h.pool, org, 'mono', { status: 'disabled' });
    const d = await seedAccount(h.pool, org, 'mono');
    await plan(lusaka('2026-03-25', '09:00'));
    expect(await pending()).toEqual([d]);
    await worker.query(`UPDATE accounts SET status = 'active' WHERE id = $1`, [a]);
    expect(await pending()).toEqual([d]); // not before its next slot
    await plan(lusaka('2026-03-25', '10:00'));
    expect(await pending()).toEqual([a, d].sort());
    expect(await pending()).not.toContain(b);
  });

  it('dispatch publishes nothing for a pending sync that slipped in (a mark racing the status change, a deleted account) and deletes it', async () => {
    const a = await seedAccount(h.pool, org, 'mono');
    const b = await seedAccount(h.pool, org, 'mono');
    const gone = '00000000-0000-4000-8000-000000000001';
    await enqueue(a);
    await worker.query(`UPDATE accounts SET status = 'auth_required' WHERE id = $1`, [b]);
    // What a planning pass that read b as active just before the update would have written.
    for (const id of [b, gone]) {
      await h.pool.query(
        `INSERT INTO sync_due (account_id, provider, org_id, due_at, planned_slot, mode, trigger)
         VALUES ($1, 'mono', $2, $3, $3, 'transactions', 'scheduled')`,
        [id, org, lusaka('2026-03-25', '07:40')],
      );
    }
    const first = await dispatch(lusaka('2026-03-25', '08:00'));
    expect(inst.publisher.sent.map((s) => s.command.accountId)).toEqual([a]);
    expect(first).toMatchObject({ due: 1, published: 1, dropped: 2, cleared: 3 });
    expect(await metricValue(registry, 'intellifin_sync_scheduler_due_dropped_total', { provider: 'mono' })).toBe(2);
    expect(await pending()).toEqual([]);
    // The next pass walks none of them again.
    const second = await dispatch(lusaka('2026-03-25', '08:05'));
    expect(second).toMatchObject({ due: 0, published: 0, dropped: 0 });
  });
});
