/**
 * Composition root of mono-worker: configuration, logging, tracing, metrics + health (9102),
 * Postgres, Redis, NATS + topology, the Mono adapter on the shared sync engine, and an ordered
 * graceful shutdown (stop pulling → in-flight runs stop at a page boundary or are handed back →
 * leases released → NATS drained → pools closed → health server).
 */
import { hostname } from 'node:os';
import { jetstream } from '@nats-io/jetstream';
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
import { createPool, migrate } from '@intellifin/persistence';
import { createMonoWorker } from './app';
import { loadMonoWorkerConfig, type MonoWorkerConfig } from './config';

const SERVICE = 'mono-worker';

export async function main(config: MonoWorkerConfig): Promise<ShutdownRegistry> {
  const logger = createLogger({ service: SERVICE, level: config.LOG_LEVEL, mixin: traceLogFields });
  const shutdown = new ShutdownRegistry(logger);
  const tracing = startTracing(SERVICE);
  const registry = createMetricsRegistry(SERVICE);
  const health = new HealthServer({ port: config.HEALTH_PORT, registry });
  await health.start();

  const pool = createPool(config.DATABASE_URL, { application_name: SERVICE, max: config.WORKER_CONCURRENCY + 2 });
  if (config.MIGRATE_ON_START) await migrate(pool);
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 });
  const nc = await connectNats({ servers: config.NATS_URL, name: SERVICE, logger });
  const jsm = await jetstreamManager(nc);
  const topology = createTopology(config.NATS_NAMESPACE ? { namespace: config.NATS_NAMESPACE } : {});
  await ensureTopology(jsm, topology, { logger });
  const js = jetstream(nc);
  const publisher = new Publisher({ nc, topology, registry, logger });

  const worker = createMonoWorker({
    nc,
    js,
    topology,
    publisher,
    pool,
    redis,
    logger,
    registry,
    workerId: `${SERVICE}@${hostname()}-${process.pid}`,
    mono: {
      baseUrl: config.MONO_BASE_URL,
      secretKey: config.MONO_SECRET_KEY,
      timeoutMs: config.MONO_TIMEOUT_MS,
      pageSize: config.MONO_PAGE_SIZE,
      realtime: config.MONO_REALTIME,
    },
    rate: { ratePerSecond: config.MONO_RATE_PER_SECOND, burst: config.MONO_RATE_BURST },
    leaseTtlMs: config.LEASE_TTL_MS,
    concurrency: config.WORKER_CONCURRENCY,
    monoWindow: { overlapDays: config.MONO_OVERLAP_DAYS, historyDays: config.MONO_HISTORY_DAYS },
    ...(config.MONO_REAUTH_REDIRECT_URL ? { reauthRedirectUrl: config.MONO_REAUTH_REDIRECT_URL } : {}),
  });
  health.addReadinessCheck('postgres', async () => void (await pool.query('SELECT 1')));
  health.addReadinessCheck('redis', async () => void (await redis.ping()));
  health.addReadinessCheck('nats', async () => {
    if (nc.isClosed()) throw new Error('nats connection closed');
  });
  await worker.start();
  logger.info({ concurrency: config.WORKER_CONCURRENCY }, 'mono-worker consuming');

  shutdown.register('mark unready', () => health.markShuttingDown());
  shutdown.register(
    'stop worker (page boundary, release leases)',
    () => worker.stop(config.SHUTDOWN_DEADLINE_MS),
    config.SHUTDOWN_DEADLINE_MS + 5_000,
  );
  shutdown.register('drain nats', () => nc.drain());
  shutdown.register('close redis', async () => void (await redis.quit()));
  shutdown.register('close postgres', () => pool.end());
  shutdown.register('flush traces', () => tracing.shutdown());
  shutdown.register('stop health server', () => health.stop());
  return shutdown;
}

if (require.main === module) {
  let config: MonoWorkerConfig;
  try {
    config = loadMonoWorkerConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  main(config)
    .then((shutdown) => shutdown.installSignalHandlers())
    .catch((err: unknown) => {
      process.stderr.write(`mono-worker failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    });
}
