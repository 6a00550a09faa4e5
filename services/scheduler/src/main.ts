/**
 * Composition root of the scheduler: configuration, logging, tracing, metrics, Postgres (with
 * migrations when MIGRATE_ON_START), NATS + JetStream topology, Redis budgets, the leader elector
 * and the planner, the health server, and an ordered shutdown.
 *
 * Run with `node --stack-trace-limit=0` in production: the NATS client builds an Error per
 * publish, and without stack capture publishing is about twice as fast (TOOLCHAIN.md).
 */
import { Redis } from 'ioredis';
import {
  ConfigError,
  createLogger,
  createMetricsRegistry,
  HealthServer,
  ShutdownRegistry,
  startTracing,
  traceLogFields,
} from '@intellifin/core';
import { connectNats, createTopology, ensureTopology, jetstreamManager, Publisher } from '@intellifin/messaging';
import { createPool, migrate, RateBudget } from '@intellifin/persistence';
import { loadSchedulerConfig, type SchedulerConfig } from './config';
import { systemClock } from './domain/clock';
import { LeaderElector } from './app/leader';
import { schedulerMetrics } from './app/metrics';
import { Scheduler } from './app/scheduler';

const SERVICE = 'scheduler';

export async function main(config: SchedulerConfig): Promise<ShutdownRegistry> {
  const logger = createLogger({ service: SERVICE, level: config.LOG_LEVEL, mixin: traceLogFields });
  const shutdown = new ShutdownRegistry(logger);
  const tracing = startTracing(SERVICE);
  const registry = createMetricsRegistry(SERVICE);
  const metrics = schedulerMetrics(registry);
  const health = new HealthServer({ port: config.HEALTH_PORT, registry });
  const port = await health.start();
  logger.info({ port, instance: config.instanceId }, 'health server listening');

  const pool = createPool(config.DATABASE_URL, { application_name: SERVICE, max: 6 });
  if (config.MIGRATE_ON_START) {
    const { applied } = await migrate(pool);
    logger.info({ applied }, 'migrations checked');
  }

  const nc = await connectNats({ servers: config.NATS_URL, name: SERVICE, logger });
  const jsm = await jetstreamManager(nc);
  const topology = createTopology(config.NATS_NAMESPACE ? { namespace: config.NATS_NAMESPACE } : {});
  await ensureTopology(jsm, topology, { logger });
  const publisher = new Publisher({ nc, topology, registry, logger });

  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 });
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

  health.addReadinessCheck('postgres', async () => {
    await pool.query('SELECT 1');
  });
  health.addReadinessCheck('nats', async () => {
    if (nc.isClosed()) throw new Error('closed');
    await nc.flush();
  });
  health.addReadinessCheck('redis', async () => {
    await redis.ping();
  });

  shutdown.register('mark unready', () => health.markShuttingDown());
  shutdown.register('stop planning and release the lease', () => scheduler.stop(), 30_000);
  shutdown.register('drain nats', () => nc.drain());
  shutdown.register('close redis', async () => {
    await redis.quit();
  });
  shutdown.register('close postgres', () => pool.end());
  shutdown.register('flush traces', () => tracing.shutdown());
  shutdown.register('stop health server', () => health.stop());

  scheduler.start();
  logger.info(
    { instance: config.instanceId, tickMs: config.SCHEDULER_TICK_MS, leaseTtlMs: config.LEADER_LEASE_TTL_MS },
    'scheduler started',
  );
  return shutdown;
}

if (require.main === module) {
  let config: SchedulerConfig;
  try {
    config = loadSchedulerConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  main(config)
    .then((shutdown) => shutdown.installSignalHandlers())
    .catch((err: unknown) => {
      process.stderr.write(`scheduler failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    });
}
