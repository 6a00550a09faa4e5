/**
 * Scenarios S0–S12 (issue #14; reliability-research §5.6). Each is seeded: its nemesis draws from
 * the run's seed, so `--seed N` replays the same faults in the same order (timing on a shared
 * machine still varies). Every nemesis loop is bounded by the fault window and by a count.
 */
import type { CheckReport } from '../checker/types';
import {
  crashPostgres,
  killNats,
  killRandomWorker,
  killRedis,
  pauseNats,
  pauseRandomWorker,
  proxyFaults,
  stealLeases,
  terminateRandomWorker,
} from './faults';
import { bump, criterion, pause, type CriteriaContext, type NemesisContext, type Scenario } from './types';

/** Runs `step` every `everyMs` (± a third, seeded) until the window closes, at most `maxCount` times. */
async function every(ctx: NemesisContext, everyMs: [number, number], maxCount: number, step: () => Promise<void>): Promise<void> {
  for (let i = 0; i < maxCount && Date.now() < ctx.until && !ctx.quiet(); i++) {
    await pause(ctx.rng.int(everyMs[0], everyMs[1]), ctx.until);
    if (Date.now() >= ctx.until || ctx.quiet()) break;
    await step();
  }
}

function amplificationAtMost(report: CheckReport, max: number): ReturnType<typeof criterion> {
  const entries = Object.entries(report.measurements.amplification);
  const over = entries.filter(([, a]) => a && Number.isFinite(a.ratio) && a.ratio > max);
  const figures = entries.map(([p, a]) => `${p} ${a && Number.isFinite(a.ratio) ? a.ratio.toFixed(3) : 'n/a'}`).join(', ');
  return criterion(`amplification ≤ ${max}`, entries.length > 0 && over.length === 0, over.length, figures || 'not measured');
}

/**
 * The lease-loss path was exercised: a run lost its account to a newer fence and was stopped, either
 * by its own lease heartbeat (lease lost) or by the fence check of its write (fenced rejection).
 * With SIGSTOP the heartbeat usually notices first, so both count.
 */
function leaseLossExercised(report: CheckReport, c: CriteriaContext): ReturnType<typeof criterion> {
  const fenced = Math.max(report.measurements.fencedRejections, c.counters['intellifin_sync_fenced_write_rejections_total'] ?? 0);
  const lost = c.counters['intellifin_sync_lease_lost_total'] ?? 0;
  const abandoned = report.measurements.runsByOutcome.failed !== undefined ? (report.measurements.naksByReason.abandoned ?? 0) : 0;
  return criterion(
    'lease loss exercised (fenced or lost > 0)',
    fenced + lost > 0,
    1,
    `${fenced} fenced rejections, ${lost} lease-lost aborts, ${abandoned} runs taken over (abandoned)`,
  );
}

function faultsInjected(actions: Record<string, number>): ReturnType<typeof criterion> {
  const total = Object.values(actions).reduce((a, b) => a + b, 0);
  const what = Object.entries(actions)
    .map(([k, v]) => `${k} ×${v}`)
    .join(', ');
  return criterion('faults injected', total > 0, 1, what || 'the nemesis did nothing before quiescence');
}

export const SCENARIOS: Scenario[] = [
  {
    id: 'S0',
    title: 'baseline: provider faults only',
    criteria: (r) => [amplificationAtMost(r, 1.1)],
  },
  {
    id: 'S1',
    title: 'kill -9 a random worker every 2–4 s',
    nemesis: (ctx) => every(ctx, [2_000, 4_000], 200, () => killRandomWorker(ctx)),
    criteria: (r, c) => [faultsInjected(c.actions), amplificationAtMost(r, 1.5)],
  },
  {
    id: 'S2',
    allowOverlaps: true,
    title: 'SIGSTOP a worker past lease TTL + AckWait, then SIGCONT',
    nemesis: (ctx) => every(ctx, [1_000, 3_000], 20, () => pauseRandomWorker(ctx)),
    criteria: (r, c) => [faultsInjected(c.actions), leaseLossExercised(r, c)],
  },
  {
    id: 'S3',
    title: 'rolling SIGTERM of the workers',
    nemesis: (ctx) => every(ctx, [5_000, 8_000], 60, () => terminateRandomWorker(ctx)),
    criteria: (_r, c) => [faultsInjected(c.actions)],
  },
  {
    id: 'S4',
    title: 'kill -9 nats-server, restart after 1–3 s',
    nemesis: (ctx) => every(ctx, [8_000, 15_000], 20, () => killNats(ctx)),
    criteria: (_r, c) => [faultsInjected(c.actions)],
  },
  {
    id: 'S5',
    title: 'SIGSTOP nats-server for 20 s',
    nemesis: (ctx) => every(ctx, [5_000, 10_000], 5, () => pauseNats(ctx, 20_000)),
    criteria: (_r, c) => [faultsInjected(c.actions)],
  },
  {
    id: 'S6',
    allowOverlaps: true,
    title: 'kill -9 redis-server, plus lease theft',
    nemesis: async (ctx) => {
      const theft = every(ctx, [1_000, 2_000], 300, () => stealLeases(ctx, ctx.redisDel));
      await every(ctx, [8_000, 15_000], 20, () => killRedis(ctx));
      await theft;
    },
    criteria: (r, c) => [faultsInjected(c.actions), leaseLossExercised(r, c)],
  },
  {
    id: 'S7',
    allowOverlaps: true,
    title: 'leases expiring under a slow run (lease TTL 1.5 s, provider latency 300 ms, Redis latency 700 ms)',
    env: { LEASE_TTL_MS: '1500' },
    nemesis: async (ctx) => {
      // Slow runs, and lease renewals that arrive late: the lease expires under a live run.
      for (const p of ['mono', 'momo', 'airtel'] as const) ctx.proxies.get(p).delay(300, { jitterMs: 200 });
      ctx.proxies.get('redis').delay(700, { jitterMs: 300 });
      bump(ctx.actions, 'provider latency 300±200 ms');
      bump(ctx.actions, 'redis latency 700±300 ms');
      try {
        await pause(ctx.until - Date.now(), ctx.until);
      } finally {
        for (const p of ['mono', 'momo', 'airtel', 'redis'] as const) ctx.proxies.get(p).pass();
      }
    },
    criteria: (r, c) => [faultsInjected(c.actions), leaseLossExercised(r, c)],
  },
  {
    id: 'S8',
    title: 'pg_ctl stop -m immediate, restart after 1–3 s',
    nemesis: (ctx) => every(ctx, [10_000, 18_000], 10, () => crashPostgres(ctx)),
    criteria: (_r, c) => [faultsInjected(c.actions)],
  },
  {
    id: 'S9',
    allowOverlaps: true,
    title: 'proxy: NATS latency, Redis connection resets, a provider black hole for 30 s',
    nemesis: async (ctx) => {
      await pause(ctx.rng.int(2_000, 5_000), ctx.until);
      await proxyFaults(ctx, 30_000);
    },
    criteria: (_r, c) => [faultsInjected(c.actions)],
  },
  {
    id: 'S10',
    title: 'poison commands: 0.5 % throw, 0.1 % crash the worker',
    poison: { throw: 0.005, crash: 0.001 },
    expectCrashes: true,
    criteria: (r) => [
      criterion(
        'DLQ holds the poison',
        r.measurements.dlqMessages > 0,
        1,
        `${r.measurements.dlqMessages} DLQ messages (exact match is the checker's 'dlq' invariant)`,
      ),
    ],
  },
  {
    id: 'S11',
    title: 'two schedulers at once, then one killed',
    schedulers: 2,
    nemesis: async (ctx) => {
      await pause(ctx.rng.int(5_000, 12_000), ctx.until);
      const victim = ctx.rng.pick(ctx.fleet.slots.filter((s) => s.service === 'scheduler'));
      await ctx.fleet.kill(victim, 'SIGKILL');
      bump(ctx.actions, 'scheduler kill -9');
    },
    criteria: (_r, c) => [faultsInjected(c.actions)],
  },
  {
    id: 'S12',
    allowOverlaps: true,
    title: 'soak: rotating random faults (S1/S2/S4/S6/S8/S9), 25 % quiet periods',
    nemesis: async (ctx) => {
      const faults: [string, () => Promise<void>][] = [
        ['S1', () => every({ ...ctx, until: Math.min(ctx.until, Date.now() + 20_000) }, [2_000, 4_000], 10, () => killRandomWorker(ctx))],
        ['S2', () => pauseRandomWorker(ctx)],
        ['S4', () => killNats(ctx)],
        ['S6', () => killRedis(ctx)],
        ['S8', () => crashPostgres(ctx)],
        ['S9', () => proxyFaults(ctx, 15_000)],
      ];
      for (let period = 0; period < 100 && Date.now() < ctx.until; period++) {
        if (ctx.rng.next() < 0.25) {
          bump(ctx.actions, 'quiet period');
          await pause(20_000, ctx.until);
          continue;
        }
        const [name, run] = ctx.rng.pick(faults);
        ctx.log(`soak period ${period}: ${name}`);
        await run();
        await pause(ctx.rng.int(3_000, 8_000), ctx.until);
      }
    },
    criteria: (_r, c) => [faultsInjected(c.actions)],
  },
];

export function scenarioById(id: string): Scenario {
  const s = SCENARIOS.find((x) => x.id.toLowerCase() === id.toLowerCase());
  if (!s) throw new Error(`unknown scenario "${id}" (known: ${SCENARIOS.map((x) => x.id).join(', ')})`);
  return s;
}
