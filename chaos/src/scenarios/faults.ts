/**
 * The nemesis' fault actions, one function each, shared by the scenarios and the S12 soak. Each
 * action heals what it broke before it resolves (restart, SIGCONT, pass), bounded in time.
 */
import { TIMERS } from '../config';
import type { ProcessSlot } from '../env/services';
import { bump, pause, sleep, type NemesisContext } from './types';

function liveWorkers(ctx: NemesisContext): ProcessSlot[] {
  return ctx.fleet.workers().filter((s) => s.child && !s.child.exit && !s.paused && !s.held);
}

/** kill -9 one random running worker (the supervisor respawns it after 0.5–1 s). */
export async function killRandomWorker(ctx: NemesisContext): Promise<void> {
  const live = liveWorkers(ctx);
  if (!live.length) return;
  const victim = ctx.rng.pick(live);
  if (ctx.fleet.signal(victim, 'SIGKILL')) bump(ctx.actions, 'worker kill -9');
}

/** SIGTERM one random running worker: the graceful shutdown path; the supervisor starts it again. */
export async function terminateRandomWorker(ctx: NemesisContext): Promise<void> {
  const live = liveWorkers(ctx);
  if (!live.length) return;
  const victim = ctx.rng.pick(live);
  if (ctx.fleet.signal(victim, 'SIGTERM')) bump(ctx.actions, 'worker SIGTERM');
}

/** SIGSTOP a random worker past its lease TTL and AckWait, then SIGCONT. */
export async function pauseRandomWorker(ctx: NemesisContext): Promise<void> {
  const live = liveWorkers(ctx);
  if (!live.length) return;
  const victim = ctx.rng.pick(live);
  const ms = TIMERS.leaseTtlMs + TIMERS.ackWaitMs + ctx.rng.int(2_000, 5_000);
  if (!ctx.fleet.signal(victim, 'SIGSTOP')) return;
  bump(ctx.actions, 'worker SIGSTOP');
  ctx.log(`SIGSTOP ${victim.id} for ${ms} ms`);
  await sleep(ms);
  ctx.fleet.signal(victim, 'SIGCONT');
}

/** kill -9 nats-server, restart it after 1–3 s. */
export async function killNats(ctx: NemesisContext): Promise<void> {
  await ctx.servers.nats.kill9();
  bump(ctx.actions, 'nats kill -9');
  await sleep(ctx.rng.int(1_000, 3_000));
  await ctx.servers.nats.start();
}

/** SIGSTOP nats-server for `ms`, then SIGCONT. */
export async function pauseNats(ctx: NemesisContext, ms: number): Promise<void> {
  ctx.servers.nats.pause();
  bump(ctx.actions, 'nats SIGSTOP');
  await sleep(ms);
  ctx.servers.nats.resume();
}

/** kill -9 redis-server (no persistence: every lease and budget is gone), restart after 0.5–2 s. */
export async function killRedis(ctx: NemesisContext): Promise<void> {
  await ctx.servers.redis.kill9();
  bump(ctx.actions, 'redis kill -9');
  await sleep(ctx.rng.int(500, 2_000));
  await ctx.servers.redis.start();
}

/** Lock theft: DEL of a few random lease keys, so another worker can take an account mid-run. */
export async function stealLeases(ctx: NemesisContext, redisDel: (pattern: string, max: number) => Promise<number>): Promise<void> {
  const n = await redisDel('*lease:acct:*', ctx.rng.int(1, 3));
  if (n) bump(ctx.actions, 'lease theft', n);
}

/** `pg_ctl stop -m immediate` (crash recovery at the next start), restart after 1–3 s. */
export async function crashPostgres(ctx: NemesisContext): Promise<void> {
  await ctx.servers.postgres.stopImmediate();
  bump(ctx.actions, 'postgres stop -m immediate');
  await sleep(ctx.rng.int(1_000, 3_000));
  await ctx.servers.postgres.start();
}

/** Proxy faults (S9): NATS latency, Redis connection resets, a provider black hole; healed at the end. */
export async function proxyFaults(ctx: NemesisContext, ms: number): Promise<void> {
  const end = Math.min(ctx.until, Date.now() + ms);
  const provider = ctx.rng.pick(['mono', 'momo', 'airtel'] as const);
  ctx.proxies.get('nats').delay(200, { jitterMs: 100 });
  ctx.proxies.get(provider).blackhole();
  bump(ctx.actions, 'nats latency 200±100 ms');
  bump(ctx.actions, `${provider} black hole`);
  try {
    let resets = 0;
    while (Date.now() < end && resets < 120) {
      ctx.proxies.get('redis').resetConnections();
      resets++;
      await pause(1_000, end);
    }
    bump(ctx.actions, 'redis connection resets', resets);
  } finally {
    ctx.proxies.get('nats').pass();
    ctx.proxies.get(provider).pass();
  }
}
