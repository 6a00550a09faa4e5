import { setProviderEnabled, upsertSchedule } from '@intellifin/persistence';
import { harness, HOUR, instance, lusaka, metricValue, MIN, seedAccount, seedOrg, type Harness, type Instance, type Sent } from './helpers';

/**
 * A simulated week (Mon 23 – Sun 29 March 2026) driven slot by slot with a manual clock in 5-minute
 * steps. Africa/Lusaka is UTC+2 without DST; one organisation runs its transaction plan on
 * Europe/London time, which springs forward on Sunday 29 March at 01:00 UTC.
 */
const START = lusaka('2026-03-23', '00:00');
const END = lusaka('2026-03-30', '00:00');
const STEP = 5 * MIN;
const DAYS = ['2026-03-23', '2026-03-24', '2026-03-25', '2026-03-26', '2026-03-27', '2026-03-28', '2026-03-29'];

let h: Harness;
let inst: Instance;
const ids: Record<string, string> = {};
const maintenanceAt: Date[] = [];

function sentTo(name: string): Sent[] {
  return inst.publisher.sent.filter((s) => s.command.accountId === ids[name]);
}

/** `<plannedSlot ISO> <mode>` of every command an account got, sorted. */
function plan(name: string): string[] {
  return sentTo(name)
    .map((s) => `${s.command.plannedSlot} ${s.command.mode}`)
    .sort();
}

function expected(entries: [Date, string][]): string[] {
  return entries.map(([d, m]) => `${d.toISOString()} ${m}`).sort();
}

function halfHours(day: string, from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = lusaka(day, from).getTime(); t <= lusaka(day, to).getTime(); t += 30 * MIN) {
    out.push(new Date(t + 2 * HOUR).toISOString().slice(11, 16));
  }
  return out;
}

beforeAll(async () => {
  h = await harness(START);
  const orgA = await seedOrg(h.pool, 'Chanda Hardware');
  const orgLondon = await seedOrg(h.pool, 'Mwale Imports (London office)');
  const orgS = await seedOrg(h.pool, 'Stale Ltd');
  const recent = lusaka('2026-03-22', '23:00');
  const longAgo = new Date('2026-03-01T00:00:00Z');
  ids.L1 = await seedAccount(h.pool, orgA, 'mono', { lastSuccessAt: recent, createdAt: longAgo });
  ids.M1 = await seedAccount(h.pool, orgA, 'momo', { lastSuccessAt: recent, createdAt: longAgo });
  ids.X1 = await seedAccount(h.pool, orgA, 'mono', { lastSuccessAt: recent, createdAt: longAgo });
  ids.AR = await seedAccount(h.pool, orgA, 'mono', { status: 'auth_required', createdAt: longAgo });
  ids.D = await seedAccount(h.pool, orgA, 'mono', { status: 'disabled', createdAt: longAgo });
  ids.E = await seedAccount(h.pool, orgA, 'mono', { status: 'error', consecutiveFailures: 5, lastAttemptAt: recent, createdAt: longAgo });
  ids.A1 = await seedAccount(h.pool, orgA, 'airtel', { lastSuccessAt: recent, createdAt: longAgo });
  ids.LN1 = await seedAccount(h.pool, orgLondon, 'mono', { lastSuccessAt: recent, createdAt: longAgo });
  ids.S1 = await seedAccount(h.pool, orgS, 'mono', { createdAt: longAgo });

  // Overrides and disables.
  await upsertSchedule(h.pool, {
    provider: 'mono',
    plan: 'transactions',
    orgId: orgA,
    accountId: ids.X1,
    cron: '0 12 * * *',
    timezone: 'Africa/Lusaka',
  });
  await upsertSchedule(h.pool, { provider: 'mono', plan: 'transactions', orgId: orgLondon, cron: '0 * * * *', timezone: 'Europe/London' });
  await upsertSchedule(h.pool, { provider: 'mono', plan: 'balance', orgId: orgLondon, enabled: false });
  for (const p of ['transactions', 'balance', 'nightly']) {
    await upsertSchedule(h.pool, { provider: 'mono', plan: p, orgId: orgS, accountId: ids.S1, enabled: false });
  }
  await setProviderEnabled(h.pool, 'airtel', false);

  // Retention candidates for the 03:00 maintenance.
  await h.pool.query(
    `INSERT INTO sync_runs (org_id, account_id, provider, trigger, fence, outcome, started_at) VALUES
       ($1, $2, 'mono', 'scheduled', 0, 'succeeded', '2025-11-01T00:00:00Z'),
       ($1, $2, 'mono', 'scheduled', 0, 'succeeded', '2026-03-20T00:00:00Z')`,
    [orgA, ids.L1],
  );
  await h.pool.query(
    `INSERT INTO webhook_events (provider, event_id, event_type, payload, received_at, processed_at) VALUES
       ('mono', 'old-done', 'mono.events.account_updated', '{}', '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z'),
       ('mono', 'old-open', 'mono.events.account_updated', '{}', '2026-01-01T00:00:00Z', NULL),
       ('mono', 'new-done', 'mono.events.account_updated', '{}', '2026-03-20T00:00:00Z', '2026-03-20T00:00:01Z')`,
  );
  // A pending sync left behind by an account that was deleted after it was planned.
  await h.pool.query(
    `INSERT INTO sync_due (account_id, provider, org_id, due_at, planned_slot, mode, trigger)
     VALUES (gen_random_uuid(), 'mono', $1, '2030-01-01T00:00:00Z', '2030-01-01T00:00:00Z', 'transactions', 'scheduled')`,
    [orgA],
  );

  // The lease is never renewed here (ticks are driven by hand): a TTL far above the test's run time,
  // so that a slow, shared machine does not depose the only scheduler mid-week.
  inst = instance(h, { ttlMs: 3_600_000, overrides: { dlqSize: async () => 4 } });
  expect(await inst.elector.poll()).toBe(true);

  // Drive the week. A fake worker records success for what was published (except the accounts
  // meant to stay failing) so that the stale sweep only finds the account that never succeeds.
  const failing = new Set([ids.E, ids.S1]);
  for (let t = START.getTime(); t < END.getTime(); t += STEP) {
    h.clock.set(t);
    const before = inst.publisher.sent.length;
    const report = await inst.scheduler.tick();
    if (!report) throw new Error('the only scheduler lost leadership');
    if (report.maintenance) maintenanceAt.push(report.at);
    const ok = inst.publisher.sent
      .slice(before)
      .map((s) => s.command.accountId)
      .filter((id) => !failing.has(id));
    if (ok.length) await h.pool.query('UPDATE accounts SET last_success_at = $2 WHERE id = ANY($1::uuid[])', [ok, new Date(t)]);
  }
}, 300_000); // 2,016 passes: well under a minute on an idle box, minutes on a loaded shared one

afterAll(async () => {
  await inst?.scheduler.stop();
  await h?.close();
});

describe('a simulated week', () => {
  it('plans a default Lusaka account: nightly full at 02:00, hourly transactions 08:00–20:00 merged with the half-hourly balance, nothing else', () => {
    for (const name of ['L1', 'M1']) {
      const want: [Date, string][] = [];
      for (const day of DAYS) {
        want.push([lusaka(day, '02:00'), 'full']);
        for (const hhmm of halfHours(day, '08:00', '20:00')) want.push([lusaka(day, hhmm), hhmm.endsWith(':00') ? 'full' : 'balance']);
      }
      expect(plan(name)).toEqual(expected(want));
    }
  });

  it('respects the business-hours window edges: nothing at 07:xx, a sync at 08:00 and at 20:00, nothing at 20:30 or 21:00', () => {
    const localTimes = new Set(
      sentTo('L1').map((s) => new Date(new Date(s.command.plannedSlot!).getTime() + 2 * HOUR).toISOString().slice(11, 16)),
    );
    expect(localTimes.has('08:00')).toBe(true);
    expect(localTimes.has('20:00')).toBe(true);
    for (const none of ['07:00', '07:30', '20:30', '21:00', '23:00', '03:00']) expect(localTimes.has(none)).toBe(false);
  });

  it('publishes each command within its slot spread window, never before the slot', () => {
    const spreadMin: Record<string, number> = { scheduled: 20, balance: 10, nightly: 120, stale: 30 };
    for (const s of inst.publisher.sent.filter((x) => x.command.accountId !== ids.E)) {
      const lag = s.at.getTime() - new Date(s.command.plannedSlot!).getTime();
      expect(lag).toBeGreaterThanOrEqual(0);
      expect(lag).toBeLessThan(spreadMin[s.command.trigger]! * MIN + STEP);
    }
  });

  it('applies an account-level cron override (transactions only at 12:00) while the balance plan still runs', () => {
    const want: [Date, string][] = [];
    for (const day of DAYS) {
      want.push([lusaka(day, '02:00'), 'full']);
      for (const hhmm of halfHours(day, '08:00', '20:00')) want.push([lusaka(day, hhmm), hhmm === '12:00' ? 'full' : 'balance']);
    }
    expect(plan('X1')).toEqual(expected(want));
  });

  it('runs an org override in Europe/London business hours across the spring-forward change, with its balance plan disabled', () => {
    const want: [Date, string][] = [];
    for (const day of DAYS) {
      want.push([lusaka(day, '02:00'), 'full']);
      const utcOffsetH = day === '2026-03-29' ? 1 : 0; // BST from 01:00 UTC on Sunday 29 March
      for (let hh = 8; hh <= 20; hh++) {
        want.push([new Date(Date.parse(`${day}T${String(hh).padStart(2, '0')}:00:00Z`) - utcOffsetH * HOUR), 'transactions']);
      }
    }
    expect(plan('LN1')).toEqual(expected(want));
  });

  it('never schedules auth_required or disabled accounts, nor a switched-off provider', () => {
    expect(sentTo('AR')).toEqual([]);
    expect(sentTo('D')).toEqual([]);
    expect(sentTo('A1')).toEqual([]);
  });

  it('re-issues commands for an account without success for 6 h every 4 hours (stale sweep)', () => {
    const want: [Date, string][] = [];
    for (const day of DAYS) for (const hh of ['00', '04', '08', '12', '16', '20']) want.push([lusaka(day, `${hh}:00`), 'full']);
    expect(plan('S1')).toEqual(expected(want));
    expect(new Set(sentTo('S1').map((s) => s.command.trigger))).toEqual(new Set(['stale']));
  });

  it('backs an error account off by its consecutive failures (5 failures → 8 h after the last attempt)', () => {
    const first = sentTo('E')[0]!;
    const notBefore = lusaka('2026-03-22', '23:00').getTime() + 8 * HOUR;
    expect(first.at.getTime()).toBeGreaterThanOrEqual(notBefore);
    expect(first.at.getTime()).toBeLessThan(notBefore + STEP);
    // L1 (active) meanwhile had its nightly sync.
    expect(sentTo('L1')[0]!.at.getTime()).toBeLessThan(notBefore);
    // After the backoff the error account follows the plans again.
    expect(sentTo('E').some((s) => s.command.plannedSlot === lusaka('2026-03-24', '12:00').toISOString())).toBe(true);
  });

  it('runs maintenance daily at 03:00: prunes old finished runs, processed events and orphaned pending syncs, reports the DLQ size', async () => {
    expect(maintenanceAt.map((d) => d.toISOString())).toEqual(DAYS.map((day) => lusaka(day, '03:00').toISOString()));
    const runs = await h.pool.query<{ started_at: Date }>('SELECT started_at FROM sync_runs ORDER BY started_at');
    expect(runs.rows.map((r) => r.started_at.toISOString())).toEqual(['2026-03-20T00:00:00.000Z']);
    const events = await h.pool.query<{ event_id: string }>('SELECT event_id FROM webhook_events ORDER BY event_id');
    expect(events.rows.map((r) => r.event_id)).toEqual(['new-done', 'old-open']);
    expect(await metricValue(inst.registry, 'intellifin_sync_dlq_messages')).toBe(4);
    const orphans = await h.pool.query(
      'SELECT count(*)::int AS n FROM sync_due d WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = d.account_id)',
    );
    expect(orphans.rows[0].n).toBe(0);
    expect(await metricValue(inst.registry, 'intellifin_sync_scheduler_pruned_rows_total', { table: 'sync_due' })).toBe(1);
  });

  it('stored every command once: JetStream accepted as many messages as were sent, none were duplicates', async () => {
    expect(inst.publisher.sent.every((s) => !s.duplicate)).toBe(true);
    expect(new Set(inst.publisher.sent.map((s) => s.msgId)).size).toBe(inst.publisher.sent.length);
    expect(await h.storedCommands()).toBe(inst.publisher.sent.length);
  });
});
