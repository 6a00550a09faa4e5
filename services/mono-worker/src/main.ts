/**
 * Composition root of mono-worker, on the service kit (config, logging, tracing, metrics + health
 * on 9102, Postgres, Redis and NATS with bounded waits, ordered shutdown): its own parts are the
 * JetStream topology, the Mono adapter and the worker on the shared sync engine. Shutdown: mark
 * unready → stop pulling, in-flight runs stop at a page boundary or are handed back, leases
 * released → NATS drained → Redis, Postgres closed → traces → health server.
 */
import { hostname } from 'node:os';
import { jetstream } from '@nats-io/jetstream';
import { Publisher } from '@intellifin/messaging';
import { runService, type ServiceDefinition } from '@intellifin/service-kit';
import { syncWorkerSettings } from '@intellifin/sync-engine';
import { createMonoWorker } from './app';
import { loadMonoWorkerConfig, type MonoWorkerConfig } from './config';

export const monoWorkerService: ServiceDefinition<MonoWorkerConfig> = {
  name: 'mono-worker',
  loadConfig: loadMonoWorkerConfig,
  connections: { postgres: { max: (c) => c.WORKER_CONCURRENCY + 2 }, redis: true, nats: true },
  async start(kit) {
    const { config, nc, logger, registry } = kit;
    const { topology } = await kit.ensureTopology();
    const settings = syncWorkerSettings(config);
    const worker = createMonoWorker({
      nc,
      js: jetstream(nc),
      topology,
      publisher: new Publisher({ nc, topology, registry, logger }),
      pool: kit.pool,
      redis: kit.redis,
      logger,
      registry,
      workerId: `${kit.name}@${hostname()}-${process.pid}`,
      mono: {
        baseUrl: config.MONO_BASE_URL,
        secretKey: config.MONO_SECRET_KEY,
        timeoutMs: config.MONO_TIMEOUT_MS,
        pageSize: config.MONO_PAGE_SIZE,
        realtime: config.MONO_REALTIME,
        reauthLinkTtlMs: config.MONO_REAUTH_LINK_TTL_MS,
      },
      rate: { ratePerSecond: config.MONO_RATE_PER_SECOND, burst: config.MONO_RATE_BURST },
      leaseTtlMs: settings.leaseTtlMs,
      concurrency: settings.concurrency,
      monoWindow: {
        overlapDays: config.MONO_OVERLAP_DAYS,
        historyDays: config.MONO_HISTORY_DAYS,
        pendingWatchDays: config.MONO_PENDING_WATCH_DAYS,
      },
      ...(config.MONO_REAUTH_REDIRECT_URL ? { reauthRedirectUrl: config.MONO_REAUTH_REDIRECT_URL } : {}),
      // The engine fails readiness while our own Postgres, Redis or NATS is out.
      engine: { readiness: kit.health, maxRunMs: settings.maxRunMs, priorityConcurrency: settings.priorityConcurrency },
    });
    await worker.start();
    logger.info({ concurrency: config.WORKER_CONCURRENCY }, 'mono-worker consuming');
    return {
      stopName: 'stop worker (page boundary, release leases)',
      stop: () => worker.stop(config.SHUTDOWN_DEADLINE_MS),
      stopTimeoutMs: config.SHUTDOWN_DEADLINE_MS + 5_000,
    };
  },
};

if (require.main === module) runService(monoWorkerService);
