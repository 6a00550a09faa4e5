/**
 * One scenario, Jepsen style: fresh database and JetStream state, fresh simulators (the truth) with
 * seeded faults and consent, the services started through the fault proxies, the nemesis acting for
 * the fault window, then quiescence and the checker.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { CheckContext, CheckReport, InvariantResult, PoisonAccount } from './checker/types';
import { loadChecker } from './report';
import { TIMERS, type Profile } from './config';
import { freshDatabase, listAccounts, type SeededAccount } from './env/database';
import { startProxies, type Proxies } from './env/proxies';
import { portOpen, type Servers } from './env/servers';
import { driveReferences, planReferences, type ReferenceDriver } from './env/references';
import { Fleet } from './env/services';
import { driveTaps, planTaps, userTokenMinter, type TapDriver, type TapStats } from './env/taps';
import { applyConsent, expireTokens, planConsent, providerFaultRules, startSimulators, type Simulators } from './env/simulators';
import { createRng, type Rng } from './prng';
import { awaitQuiescence, describe, isQuiet, readState } from './quiescence';
import { criterion, pause, type NemesisContext, type Scenario } from './scenarios/types';

export interface ScenarioRun {
  report: CheckReport;
  /** Harness figures: timings, peak RSS per process (MiB), respawns, nemesis actions. */
  figures: {
    seed: number;
    /** Worker counters summed over every process incarnation (fenced rejections, lease losses, settle outcomes). */
    counters: Record<string, number>;
    setupMs: number;
    quiescenceMs: number | null;
    accounts: number;
    actions: Record<string, number>;
    respawns: number;
    peakRssMiB: Record<string, number>;
    /** The "Sync now" taps (`env/taps.ts`): answers by status, taps sent during a running sync, skipped. */
    taps: TapStats | null;
  };
}

export interface RunOptions {
  root: string;
  dir: string;
  profile: Profile;
  seed: number;
  runner: 'tsx' | 'dist';
  servers: Servers;
  log: (line: string) => void;
}

async function resetNatsAndRedis(servers: Servers): Promise<void> {
  const nc = await connect({ servers: servers.urls.nats, timeout: 5_000 });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const s of jsm.streams.list()) await jsm.streams.delete(s.config.name);
  } finally {
    await nc.close();
  }
  const redis = new Redis(servers.urls.redis, { maxRetriesPerRequest: 1 });
  try {
    await redis.flushall();
  } finally {
    redis.disconnect();
  }
}

/** Makes sure a previous scenario's nemesis left every server up (and none paused). */
async function ensureServersUp(servers: Servers): Promise<void> {
  for (const s of [servers.nats, servers.redis, servers.postgres]) {
    s.resume();
    if (!(await portOpen(s.port))) await s.start();
  }
}

function pickPoison(rng: Rng, accounts: SeededAccount[], share: { throw: number; crash: number }): PoisonAccount[] {
  const shuffled = rng.shuffle(accounts);
  const nThrow = Math.max(1, Math.round(accounts.length * share.throw));
  const nCrash = Math.max(1, Math.round(accounts.length * share.crash));
  return [
    ...shuffled.slice(0, nThrow).map((a) => ({ accountId: a.id, provider: a.provider, kind: 'throw' as const })),
    ...shuffled.slice(nThrow, nThrow + nCrash).map((a) => ({ accountId: a.id, provider: a.provider, kind: 'crash' as const })),
  ];
}

async function redisDelFn(url: string): Promise<(pattern: string, max: number) => Promise<number>> {
  return async (pattern, max) => {
    const redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2_000, commandTimeout: 3_000, lazyConnect: true });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      const [, keys] = await redis.scan('0', 'MATCH', pattern, 'COUNT', 1000);
      const victims = keys.slice(0, max);
      return victims.length ? await redis.del(...victims) : 0;
    } catch {
      return 0;
    } finally {
      redis.disconnect();
    }
  };
}

export async function runScenario(scenario: Scenario, o: RunOptions): Promise<ScenarioRun> {
  const t0 = Date.now();
  // One stream of randomness per scenario, derived from the run's seed and the scenario id.
  const rng = createRng(o.seed).fork(scenario.id);
  const log = (line: string) => o.log(`[${scenario.id}] ${line}`);
  const logDir = join(o.dir, 'logs', scenario.id);
  mkdirSync(logDir, { recursive: true });

  await ensureServersUp(o.servers);
  const pgUrl = await freshDatabase(o.servers.urls.pg);
  await resetNatsAndRedis(o.servers);

  let sims: Simulators | undefined;
  let proxies: Proxies | undefined;
  let fleet: Fleet | undefined;
  let references: ReferenceDriver | undefined;
  let taps: TapDriver | undefined;
  const extra: InvariantResult[] = [];
  try {
    sims = await startSimulators(o.root, {
      seed: o.seed,
      accounts: o.profile.accounts,
      monoTransactionsPerAccount: o.profile.monoTransactionsPerAccount,
    });
    const listings = { mono: await sims.accounts('mono'), momo: await sims.accounts('momo'), airtel: await sims.accounts('airtel') };
    const consent = planConsent(rng.fork('consent'), listings);
    await applyConsent(sims, consent);
    for (const p of ['mono', 'momo', 'airtel', 'onesignal'] as const) await sims.control(p, 'faults', { faults: providerFaultRules() });
    const accounts = await listAccounts(pgUrl);
    if (accounts.length !== listings.mono.length + listings.momo.length + listings.airtel.length)
      throw new Error(`the database holds ${accounts.length} accounts, the simulators list a different number`);
    const poison = scenario.poison ? pickPoison(rng.fork('poison'), accounts, scenario.poison) : [];
    log(
      `${accounts.length} accounts (revoked: ${Object.values(consent.revoked).flat().length}, token-expiring: ${Object.values(consent.expiring).flat().length}, poison: ${poison.length})`,
    );

    proxies = await startProxies(o.servers.urls, sims.urls);
    const env: Record<string, string> = {
      DATABASE_URL: proxies.url('postgres', pgUrl),
      REDIS_URL: proxies.url('redis', o.servers.urls.redis),
      NATS_URL: proxies.url('nats', o.servers.urls.nats),
      MONO_BASE_URL: proxies.url('mono', sims.urls.mono).replace(/\/$/, ''),
      MOMO_BASE_URL: proxies.url('momo', sims.urls.momo).replace(/\/$/, ''),
      AIRTEL_BASE_URL: proxies.url('airtel', sims.urls.airtel).replace(/\/$/, ''),
      ONESIGNAL_BASE_URL: proxies.url('onesignal', sims.urls.onesignal).replace(/\/$/, ''),
      ...(poison.length
        ? { INTELLIFIN_CHAOS_HOOKS: 'enabled', CHAOS_POISON: poison.map((p) => `${p.accountId}:${p.kind}`).join(',') }
        : {}),
      ...(scenario.env ?? {}),
    };
    fleet = new Fleet({
      root: o.root,
      logDir,
      runner: o.runner,
      env,
      workersPerProvider: o.profile.workersPerProvider,
      schedulers: scenario.schedulers ?? 1,
      rng: rng.fork('fleet'),
      log,
    });
    fleet.watchRss('nats-server', () => o.servers.nats.pid());
    fleet.watchRss('redis-server', () => o.servers.redis.pid());
    fleet.watchRss('postgres (postmaster)', () => o.servers.postgres.pid());
    fleet.watchRss('simulators', () => sims?.pid());
    // Every reference the simulators seeded for a share of the wallet accounts, registered through
    // sync-api while the load (and then the nemesis) runs.
    const refPlan = await planReferences(rng.fork('references'), {
      pgUrl,
      simulators: sims.urls,
      exclude: new Set(poison.map((p) => p.accountId)),
      settleHorizonMs: o.profile.settleHorizonMs,
    });
    // A share of every provider's users tap "Sync now" during and after their account's first sync.
    const tapPlan = await planTaps(rng.fork('taps'), {
      pgUrl,
      exclude: new Set(poison.map((p) => p.accountId)),
      revoked: new Set(Object.values(consent.revoked).flat()),
    });
    const setupMs = Date.now() - t0;
    const startedAt = new Date();
    await fleet.startAll();
    log(`services started (${fleet.slots.length} processes, runner ${o.runner}); setup took ${(setupMs / 1000).toFixed(1)} s`);
    references = driveReferences(refPlan, {
      pgUrl,
      until: Date.now() + 180_000 + o.profile.faultWindowMs + o.profile.quiescenceTimeoutMs,
      log,
    });
    log(
      `registering ${refPlan.length} wallet references of ${new Set(refPlan.map((r) => r.registration.accountId)).size} accounts through sync-api`,
    );

    // The nemesis acts on a running system: a fault during start-up only tests the fail-fast start
    // (a service that cannot reach its servers at start exits 1 and is restarted), which is not the point.
    const readyStart = Date.now();
    await fleet.waitReady(180_000).catch((err: unknown) => log(String(err)));
    log(`services ready after ${((Date.now() - readyStart) / 1000).toFixed(1)} s`);
    taps = driveTaps(tapPlan, {
      pgUrl,
      readyAt: Date.now(),
      until: Date.now() + o.profile.faultWindowMs + o.profile.quiescenceTimeoutMs,
      mint: userTokenMinter(),
      log,
    });
    log(`${tapPlan.length} users tap "Sync now" (twice each) through sync-api's public route`);
    let quiet = false;
    const quietUrls = {
      pg: pgUrl,
      redis: o.servers.urls.redis,
      natsMonitor: o.servers.urls.natsMonitor,
      references: references.outstanding,
      taps: taps.outstanding,
    };
    const actions: Record<string, number> = {};
    const until = Date.now() + o.profile.faultWindowMs;
    const ctx: NemesisContext = {
      rng: rng.fork('nemesis'),
      servers: o.servers,
      proxies,
      sims,
      fleet,
      until,
      quiet: () => quiet,
      log,
      actions,
      redisDel: await redisDelFn(o.servers.urls.redis),
    };
    // Tokens of ~2 % of the wallet accounts are expired every 10 s while the nemesis acts.
    const expiring = (async () => {
      for (let i = 0; i < 200 && Date.now() < until && !quiet; i++) {
        await pause(10_000, until);
        await expireTokens(sims!, consent).catch(() => undefined);
      }
    })();
    // The nemesis stops early once the load is done (nothing left to break).
    let nemesisDone = false;
    const watcher = (async () => {
      for (let i = 0; i < 1_000 && !nemesisDone && Date.now() < until; i++) {
        await pause(3_000, until);
        const s = await readState(quietUrls).catch(() => undefined);
        if (s && isQuiet(s)) quiet = true;
        if (quiet) return;
      }
    })();
    if (scenario.nemesis) await scenario.nemesis(ctx).catch((err: unknown) => log(`nemesis failed: ${String(err)}`));
    nemesisDone = true;
    await watcher;
    quiet = false;
    if (scenario.nemesis) {
      log(
        `nemesis done: ${
          Object.entries(actions)
            .map(([k, v]) => `${k} ×${v}`)
            .join(', ') || 'nothing'
        }`,
      );
      proxies.passAll();
      await ensureServersUp(o.servers);
      for (const s of fleet.slots) if (s.paused) fleet.signal(s, 'SIGCONT');
    }
    const q = await awaitQuiescence(quietUrls, o.profile.quiescenceTimeoutMs, (s) => log(`waiting for quiescence: ${describe(s)}`));
    quiet = true;
    await expiring;
    references.stop();
    const refStats = await references.done;
    taps.stop();
    const tapStats = await taps.done;
    if (tapStats.errors.length)
      extra.push(
        criterion(
          'taps answered as the app expects (harness)',
          false,
          tapStats.errors.length,
          `${tapStats.errors.slice(0, 3).join('; ')}${tapStats.errors.length > 3 ? `; +${tapStats.errors.length - 3} more` : ''}`,
        ),
      );
    log(
      `references: ${refStats.accepted} registered, ${refStats.refused} refused, ${refStats.backgroundRequests} background sync requests`,
    );
    const finishedAt = new Date();
    const quiescenceMs = finishedAt.getTime() - startedAt.getTime();
    extra.push(
      criterion(
        'quiescence reached',
        q.quiet,
        1,
        q.quiet
          ? `in ${(quiescenceMs / 1000).toFixed(1)} s`
          : `not within ${o.profile.quiescenceTimeoutMs / 1000} s: ${q.state ? describe(q.state) : (q.error ?? 'no state')}`,
      ),
    );
    log(q.quiet ? `quiescent after ${(quiescenceMs / 1000).toFixed(1)} s` : `NOT quiescent: ${q.state ? describe(q.state) : q.error}`);

    const report = await check(scenario, {
      pgUrl,
      natsUrl: o.servers.urls.nats,
      natsMonitorUrl: o.servers.urls.natsMonitor,
      redisUrl: o.servers.urls.redis,
      simulators: sims.urls,
      poison,
      startedAt,
      finishedAt,
      scenario: scenario.id,
      ...(scenario.allowOverlaps ? { allowOverlaps: true } : {}),
    });
    await fleet.scrapeMetrics();
    const counters = fleet.counters();
    const respawns = fleet.respawnCount;
    const unplanned = fleet.unplannedExits();
    if (!scenario.expectCrashes) {
      const byProcess = new Map<string, string[]>();
      for (const e of unplanned) byProcess.set(e.id, [...(byProcess.get(e.id) ?? []), e.how]);
      extra.push(
        criterion(
          'no service exits by itself',
          unplanned.length === 0,
          unplanned.length,
          unplanned.length
            ? [...byProcess].map(([id, hows]) => `${id}: ${hows.join(', ')}`).join('; ') + ` (logs: ${logDir})`
            : 'every exit was the nemesis’ own (kill -9, SIGTERM)',
        ),
      );
    }
    report.invariants.unshift(...extra, ...(scenario.criteria?.(report, { actions, respawns, counters }) ?? []));
    await fleet.stopAll(TIMERS.shutdownDeadlineMs + 4_000);
    const peakRssMiB = Object.fromEntries([...fleet.peakRssKb].map(([k, v]) => [k, Math.round(v / 1024)]));
    return {
      report,
      figures: {
        seed: o.seed,
        counters,
        setupMs,
        quiescenceMs: q.quiet ? quiescenceMs : null,
        accounts: accounts.length,
        actions,
        respawns,
        peakRssMiB,
        taps: tapStats,
      },
    };
  } finally {
    references?.stop();
    taps?.stop();
    await fleet?.stopAll(2_000).catch(() => undefined);
    await proxies?.close().catch(() => undefined);
    await sims?.stop().catch(() => undefined);
  }
}

async function check(scenario: Scenario, ctx: CheckContext): Promise<CheckReport> {
  try {
    return await loadChecker().checkInvariants(ctx);
  } catch (err) {
    return {
      scenario: scenario.id,
      invariants: [
        criterion('checker ran', false, 1, `the checker failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300)),
      ],
      measurements: {
        quiescenceMs: ctx.finishedAt.getTime() - ctx.startedAt.getTime(),
        amplification: {},
        redeliveries: null,
        naksByReason: {},
        fencedRejections: 0,
        runsByOutcome: {},
        overlaps: 0,
        dlqMessages: 0,
        extra: {},
      },
    };
  }
}
