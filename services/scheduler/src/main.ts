/**
 * Composition root of the scheduler, on the service kit (config, logging, tracing, metrics +
 * health on 9101, Postgres with migrations when MIGRATE_ON_START, Redis and NATS with bounded
 * waits, ordered shutdown): its own parts are the JetStream topology, the Redis budgets, the
 * leader elector and the planner.
 *
 * Run with `node --stack-trace-limit=0` in production: the NATS client builds an Error per
 * publish, and without stack capture publishing is about twice as fast (TOOLCHAIN.md).
 */
import { Publisher } from '@intellifin/messaging';
import { RateBudget } from '@intellifin/persistence';
import { runService, type ServiceDefinition } from '@intellifin/service-kit';
import { loadSchedulerConfig, type SchedulerConfig } from './config';
import { systemClock } from './domain/clock';
import { LeaderElector } from './app/leader';
import { schedulerMetrics } from './app/metrics';
import { Scheduler } from './app/scheduler';

export const schedulerService: ServiceDefinition<SchedulerConfig> = {
  name: 'scheduler',
  loadConfig: loadSchedulerConfig,
  connections: { postgres: { max: 6 }, redis: true, nats: true },
  async start(kit) {
    const { config, pool, redis, nc, logger, registry, tracing } = kit;
    const metrics = schedulerMetrics(registry);
    const { jsm, topology } = await kit.ensureTopology();
    const publisher = new Publisher({ nc, topology, registry, logger });

    const budgets = { mono: config.SCHEDULER_BUDGET_MONO, momo: config.SCHEDULER_BUDGET_MOMO, airtel: config.SCHEDULER_BUDGET_AIRTEL };
    const limits = Object.fromEntries(Object.entries(budgets).map(([p, b]) => [p, { ratePerSecond: b.ratePerSecond, burst: b.burst }]));
    // Scheduled commands per provider (shared by replicas and by the API's manual triggers, which
    // take without a reserve); the provider request budget of the workers is only read for pauses.
    const commandBudget = new RateBudget(redis, limits, 'sched:');
    const requestBudget = new RateBudget(redis, limits);

    const elector = new LeaderElector({
      pool,
      holder: config.instanceId,
      ttlMs: config.LEADER_LEASE_TTL_MS,
      pollMs: config.LEADER_POLL_MS,
      logger,
      metrics,
    });
    const scheduler = new Scheduler({
      pool,
      publisher,
      topology,
      logger,
      metrics,
      tracer: tracing.tracer,
      clock: systemClock,
      elector,
      budget: commandBudget,
      reserve: { mono: budgets.mono.reserve, momo: budgets.momo.reserve, airtel: budgets.airtel.reserve },
      // Tokens are taken in chunks no larger than any provider can ever grant above its reserve.
      budgetChunk: Math.max(1, Math.min(250, ...Object.values(budgets).map((b) => b.burst - b.reserve))),
      pauses: requestBudget,
      pageSize: config.DISPATCH_PAGE_SIZE,
      maxInFlight: config.PUBLISH_MAX_IN_FLIGHT,
      maxPerPass: config.DISPATCH_MAX_PER_PASS,
      errorBackoff: { baseMs: config.ERROR_BACKOFF_BASE_MINUTES * 60_000, capMs: config.ERROR_BACKOFF_CAP_MINUTES * 60_000 },
      maintenance: {
        cron: config.MAINTENANCE_CRON,
        timezone: config.MAINTENANCE_TIMEZONE,
        syncRunsRetentionDays: config.SYNC_RUNS_RETENTION_DAYS,
        webhookEventsRetentionDays: config.WEBHOOK_EVENTS_RETENTION_DAYS,
      },
      dlqSize: async () => (await jsm.streams.info(topology.streams.deadLetters.name)).state.messages,
      tickMs: config.SCHEDULER_TICK_MS,
    });

    scheduler.start();
    logger.info(
      { instance: config.instanceId, tickMs: config.SCHEDULER_TICK_MS, leaseTtlMs: config.LEADER_LEASE_TTL_MS },
      'scheduler started',
    );
    return { stopName: 'stop planning and release the lease', stop: () => scheduler.stop(), stopTimeoutMs: 30_000 };
  },
};

if (require.main === module) runService(schedulerService);
