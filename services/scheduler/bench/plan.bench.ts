/**
 * Plan and publish for 100,000 due accounts, as a scheduler pass does it (`planAndDispatch`): the
 * 08:00 transaction slot is executed provider by provider (a set-based INSERT … ON CONFLICT per
 * group marking every account due, then ANALYZE), and each provider is dispatched as soon as it is
 * marked, while the next is marked — keyset pages of 5,000, budget takes, JetStream publishes with
 * Nats-Msg-Id in bursts with up to 1,000 PubAcks in flight per provider, and a fenced set-based
 * DELETE clearing each page. Spread is set to 0 so that the whole
 * slot is due at once (the worst case: a catch-up after an outage). Three passes (08:00, 09:00,
 * 10:00), each a fresh slot, so every pass really stores 100,000 messages.
 *
 *   npm run bench -w @intellifin/scheduler     (node --stack-trace-limit=0; DATABASE_URL / NATS_URL / REDIS_URL
 *                                               or local servers)
 */
import { createLogger, Registry } from '@intellifin/core';
import { connectNats, createTopology, deleteTopology, ensureTopology, jetstreamManager, Publisher } from '@intellifin/messaging';
import { RateBudget, upsertSchedule } from '@intellifin/persistence';
import {
  createTestDatabase,
  createTestRedis,
  infrastructureUrls,
  provisionTestRoles,
  startInfrastructure,
  uniqueSuffix,
} from '@intellifin/testing';
import { LeaderElector } from '../src/app/leader';
import { schedulerMetrics } from '../src/app/metrics';
import { planAndDispatch } from '../src/app/plan-and-dispatch';
import { executeDueSlots } from '../src/app/plan-slots';

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 100_000);
const PASSES = ['06:00', '07:00', '08:00']; // UTC = 08:00, 09:00, 10:00 Africa/Lusaka

async function main(): Promise<void> {
  await startInfrastructure();
  const db = await createTestDatabase({ poolSize: 6 });
  await provisionTestRoles();
  const pool = db.poolAs('intellifin_scheduler'); // the scheduler's own role; db.pool seeds
  const r = createTestRedis();
  const nc = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'scheduler-bench' });
  const jsm = await jetstreamManager(nc);
  const topology = createTopology({ namespace: `bench${uniqueSuffix(3)}` });
  await ensureTopology(jsm, topology, { deadLetterWatcher: false });
  const logger = createLogger({ service: 'scheduler-bench', level: 'warn' });
  const metrics = schedulerMetrics(new Registry());
  try {
    await db.pool.query(`INSERT INTO organizations (name) SELECT 'org ' || g FROM generate_series(1, 100) g`);
    await db.pool.query(
      `INSERT INTO accounts (org_id, provider, provider_account_id, type, currency, last_success_at)
       SELECT o.id, p.provider, p.provider || '_' || g, CASE p.provider WHEN 'mono' THEN 'bank' ELSE 'mobile_money' END, 'ZMW', now()
         FROM generate_series(1, $1::int) g
         JOIN LATERAL (SELECT (ARRAY['mono','momo','airtel'])[1 + g % 3] AS provider) p ON true
         JOIN LATERAL (SELECT id FROM organizations ORDER BY id OFFSET (g % 100) LIMIT 1) o ON true`,
      [ACCOUNTS],
    );
    await db.pool.query('ANALYZE accounts');
    for (const provider of ['mono', 'momo', 'airtel'] as const) {
      await upsertSchedule(db.pool, { provider, plan: 'transactions', cron: '0 * * * *', settings: { spreadMinutes: 0 } });
      for (const plan of ['balance', 'nightly', 'stale']) await upsertSchedule(db.pool, { provider, plan, enabled: false });
    }
    const limits = {
      mono: { ratePerSecond: 1e6, burst: 1e6 },
      momo: { ratePerSecond: 1e6, burst: 1e6 },
      airtel: { ratePerSecond: 1e6, burst: 1e6 },
    };
    const budget = new RateBudget(r.redis, limits, `${r.prefix}sched:`);
    const pauses = new RateBudget(r.redis, limits, r.prefix);
    const elector = new LeaderElector({ pool, holder: 'bench', ttlMs: 600_000, pollMs: 60_000, logger });
    if (!(await elector.poll())) throw new Error('no lease');
    const fence = elector.fence!;
    const publisher = new Publisher({ nc, topology, logger });
    // Prime the slot state (first sight) an hour before the first pass.
    await executeDueSlots(
      { pool, logger, metrics, errorBackoff: { baseMs: 1_800_000, capMs: 86_400_000 } },
      fence,
      new Date('2026-03-23T05:30:00Z'),
    );

    const results: { total: number; published: number }[] = [];
    for (const hhmm of PASSES) {
      const now = new Date(`2026-03-23T${hhmm}:00Z`);
      const t0 = performance.now();
      const { slots, dispatch: rep } = await planAndDispatch(
        {
          plan: { pool, logger, metrics, errorBackoff: { baseMs: 1_800_000, capMs: 86_400_000 } },
          dispatch: {
            pool,
            publisher,
            topology,
            logger,
            metrics,
            budget,
            pauses,
            reserve: { mono: 100, momo: 100, airtel: 100 },
            pageSize: 5_000,
            maxInFlight: 1_000,
            maxPerPass: 1_000_000,
            budgetChunk: 5_000,
          },
        },
        fence,
        now,
      );
      const total = (performance.now() - t0) / 1000;
      const planned = slots.reduce((s, x) => s + x.planned, 0);
      if (planned !== ACCOUNTS || rep.published !== ACCOUNTS || rep.cleared !== ACCOUNTS) {
        throw new Error(`pass ${hhmm}: planned ${planned}, ${JSON.stringify(rep)}`);
      }
      results.push({ total, published: rep.published });
      console.log(
        `pass ${hhmm}Z: planned and published ${rep.published} in ${total.toFixed(2)} s (${Math.round(rep.published / total)} commands/s)`,
      );
    }
    const info = await jsm.streams.info(topology.streams.commands.name);
    if (Number(info.state.last_seq) !== ACCOUNTS * PASSES.length) throw new Error(`stream stored ${info.state.last_seq}`);
    const sorted = [...results].sort((a, b) => a.total - b.total);
    const med = sorted[Math.floor(sorted.length / 2)]!;
    console.log(
      `median of ${results.length}: plan + dispatch ${med.total.toFixed(2)} s for ${ACCOUNTS} accounts → ${Math.round(ACCOUNTS / med.total)} commands/s end to end; ` +
        `stack-trace-limit=${Error.stackTraceLimit}`,
    );
    await elector.stop();
  } finally {
    await deleteTopology(jsm, topology).catch(() => undefined);
    await nc.close();
    await r.cleanup();
    await db.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
