import type { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  ConfigError,
  createLogger,
  gauge,
  HealthServer,
  createMetricsRegistry,
  ShutdownRegistry,
  startTracing,
  traceLogFields,
  withSpan,
} from '@intellifin/core';
import { createTopology, ensureTopology, jetstreamManager } from '@intellifin/messaging';
import { migrate, type Pool } from '@intellifin/persistence';
import { checkConnectionLimits, type ServiceConfigBase } from './config';
import { openNats, openPostgres, openRedis } from './connections';
import type { ServiceDefinition, ServiceKit } from './service-kit';
import { UnreachableError } from './unreachable';

/** A started service, for tests and for `runService`. `shutdown.shutdown()` stops it in order. */
export interface BootedService<C extends ServiceConfigBase> {
  kit: ServiceKit<C>;
  shutdown: ShutdownRegistry;
}

/** A configuration variable the service needs for a connection it asked for, or ConfigError. */
function required(value: string | undefined, variable: string): string {
  if (value === undefined || value === '') throw new ConfigError([`${variable}: is required but not set`]);
  return value;
}

/**
 * Builds a service on the one skeleton, in order: configuration → logger (with trace ids) →
 * tracing → metrics → health server (readiness 'starting') → the connections the service asked
 * for (Postgres, migrations when MIGRATE_ON_START, Redis, NATS), each bounded and checked → the
 * service's own `start` → readiness opens. The shutdown runs: mark unready → service stop → NATS
 * drain → Redis quit → pool end → traces → health server.
 *
 * Throws ConfigError (bad configuration) or UnreachableError (a server did not answer); whatever
 * was opened is closed first.
 */
export async function bootService<C extends ServiceConfigBase>(def: ServiceDefinition<C>, env = process.env): Promise<BootedService<C>> {
  const config = def.loadConfig(env);
  checkConnectionLimits(config);
  const { name } = def;
  const logger = createLogger({ service: name, level: config.LOG_LEVEL, mixin: traceLogFields });
  const tracing = startTracing(name);
  const registry = createMetricsRegistry(name);
  const startedAt = gauge(registry, 'intellifin_sync_service_start_timestamp_seconds', 'When the service finished starting (unix seconds)');
  const startDuration = gauge(registry, 'intellifin_sync_service_start_duration_seconds', 'Time from process start to ready, by phase', [
    'phase',
  ]);
  const health = new HealthServer({ port: config.HEALTH_PORT, registry });
  const shutdown = new ShutdownRegistry(logger);
  const t0 = process.hrtime.bigint();
  const phaseDone = (phase: string) => startDuration.set({ phase }, Number(process.hrtime.bigint() - t0) / 1e9);

  let pool: Pool | undefined;
  let redis: Redis | undefined;
  let nc: NatsConnection | undefined;
  const closeOpened = async () => {
    await nc?.close().catch(() => undefined);
    redis?.disconnect();
    await pool?.end().catch(() => undefined);
    await health.stop();
    await tracing.shutdown().catch(() => undefined);
  };

  const port = await health.start();
  logger.info({ port }, 'health server listening');
  try {
    await withSpan(tracing.tracer, 'service.connect', { attributes: { 'service.name': name } }, async (span) => {
      const want = def.connections;
      if (want.postgres) {
        const max = typeof want.postgres.max === 'function' ? want.postgres.max(config) : want.postgres.max;
        pool = await openPostgres(required(config.DATABASE_URL, 'DATABASE_URL'), config, { applicationName: name, max }, logger);
        health.addReadinessCheck('postgres', async () => void (await pool!.query('SELECT 1')));
        span.addEvent('postgres connected');
        if (config.MIGRATE_ON_START) {
          const { applied } = await migrate(pool);
          logger.info({ applied }, 'migrations checked');
        }
        phaseDone('postgres');
      }
      if (want.redis) {
        redis = await openRedis(required(config.REDIS_URL, 'REDIS_URL'), config, logger);
        health.addReadinessCheck('redis', async () => void (await redis!.ping()));
        span.addEvent('redis connected');
        phaseDone('redis');
      }
      if (want.nats) {
        nc = await openNats(required(config.NATS_URL, 'NATS_URL'), config, name, logger);
        health.addReadinessCheck('nats', async () => {
          if (nc!.isClosed()) throw new Error('closed');
          await nc!.flush();
        });
        span.addEvent('nats connected');
        phaseDone('nats');
      }
    });
  } catch (err) {
    await closeOpened();
    throw err;
  }

  const missing = (what: string) => () => {
    throw new Error(`${name}: the service did not ask the kit for ${what} (ServiceDefinition.connections)`);
  };
  const kit: ServiceKit<C> = {
    name,
    config,
    logger,
    registry,
    tracing,
    health,
    healthPort: port,
    shutdown,
    get pool() {
      return pool ?? missing('a postgres pool')();
    },
    get redis() {
      return redis ?? missing('a redis connection')();
    },
    get nc() {
      return nc ?? missing('a nats connection')();
    },
    async ensureTopology(opts = {}) {
      const jsm = await jetstreamManager(kit.nc);
      const topology = createTopology({
        ...(config.NATS_NAMESPACE ? { namespace: config.NATS_NAMESPACE } : {}),
        ackWaitMs: config.NATS_ACK_WAIT_MS,
        maxDeliver: config.NATS_MAX_DELIVER,
      });
      await ensureTopology(jsm, topology, { ...opts, logger });
      return { jsm, topology };
    },
  };

  let running;
  try {
    running = await withSpan(tracing.tracer, 'service.start', { attributes: { 'service.name': name } }, () => def.start(kit));
  } catch (err) {
    await closeOpened();
    throw err;
  }

  shutdown.register('mark unready', () => health.markShuttingDown());
  if (running.stop) shutdown.register(running.stopName ?? `stop ${name}`, running.stop, running.stopTimeoutMs ?? 30_000);
  if (nc) shutdown.register('drain nats', () => nc!.drain());
  if (redis) shutdown.register('close redis', async () => void (await redis!.quit()));
  if (pool) shutdown.register('close postgres', () => pool!.end());
  shutdown.register('flush traces', () => tracing.shutdown());
  shutdown.register('stop health server', () => health.stop());

  health.markStarted();
  phaseDone('ready');
  startedAt.setToCurrentTime();
  logger.info({ healthPort: port }, 'service ready');
  return { kit, shutdown };
}

/**
 * The process entry of a service: boots it and installs the signal handlers. A bad configuration
 * prints the ConfigError (naming each variable) and exits 2; a server that does not answer prints
 * one line, `<service>: cannot reach NATS at 127.0.0.1:4999 (NATS_URL): connection refused`, and
 * exits 1; any other start-up failure prints the error and exits 1.
 */
export function runService<C extends ServiceConfigBase>(def: ServiceDefinition<C>, exit: (code: number) => never = process.exit): void {
  bootService(def)
    .then(({ shutdown }) => shutdown.installSignalHandlers(exit))
    .catch((err: unknown) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`${def.name}: ${err.message}\n`);
        exit(2);
      }
      if (err instanceof UnreachableError) {
        process.stderr.write(`${def.name}: ${err.message}\n`);
        exit(1);
      }
      if (err instanceof Error && 'code' in err && err.code === 'EADDRINUSE') {
        process.stderr.write(`${def.name}: cannot listen on HEALTH_PORT: address in use\n`);
        exit(1);
      }
      process.stderr.write(`${def.name} failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      exit(1);
    });
}
