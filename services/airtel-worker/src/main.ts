/**
 * Composition root of airtel-worker, on the service kit (config, logging, tracing, metrics + health
 * on 9104, Postgres, Redis and NATS with bounded waits, ordered shutdown): its own parts are the
 * JetStream topology, the Airtel api on the shared wallet layer, the sync worker and the intake
 * consumer (reference registrations and callbacks). Shutdown: mark unready → stop intake and
 * pulling, in-flight runs stop at a page boundary or are handed back, leases released → NATS
 * drained → Redis, Postgres closed → traces → health server.
 */
import { hostname } from 'node:os';
import { jetstream } from '@nats-io/jetstream';
import { Publisher } from '@intellifin/messaging';
import { runService, type ServiceDefinition } from '@intellifin/service-kit';
import { createAirtelWorker } from './app';
import { loadAirtelWorkerConfig, type AirtelWorkerConfig } from './config';

export const airtelWorkerService: ServiceDefinition<AirtelWorkerConfig> = {
  name: 'airtel-worker',
  loadConfig: loadAirtelWorkerConfig,
  connections: { postgres: { max: (c) => c.WORKER_CONCURRENCY + c.INTAKE_CONCURRENCY + 2 }, redis: true, nats: true },
  async start(kit) {
    const { config, nc, logger, registry } = kit;
    const { topology } = await kit.ensureTopology();
    const worker = createAirtelWorker({
      nc,
      js: jetstream(nc),
      topology,
      publisher: new Publisher({ nc, topology, registry, logger }),
      pool: kit.pool,
      redis: kit.redis,
      logger,
      registry,
      workerId: `${kit.name}@${hostname()}-${process.pid}`,
      credentialsKeyRing: config.CREDENTIALS_ENCRYPTION_KEY,
      airtel: {
        baseUrl: config.AIRTEL_BASE_URL,
        timeoutMs: config.AIRTEL_TIMEOUT_MS,
        pageSize: config.AIRTEL_PAGE_SIZE,
        lookupConcurrency: config.AIRTEL_LOOKUP_CONCURRENCY,
        notFoundGraceMs: config.AIRTEL_NOT_FOUND_GRACE_MS,
        tokenRefreshBeforeMs: config.AIRTEL_TOKEN_REFRESH_BEFORE_MS,
        reauthUrl: config.AIRTEL_REAUTH_URL,
      },
      rate: { ratePerSecond: config.AIRTEL_RATE_PER_SECOND, burst: config.AIRTEL_RATE_BURST },
      leaseTtlMs: config.LEASE_TTL_MS,
      concurrency: config.WORKER_CONCURRENCY,
      intakeConcurrency: config.INTAKE_CONCURRENCY,
      // The engine fails readiness while our own Postgres, Redis or NATS is out.
      engine: { readiness: kit.health },
    });
    await worker.start();
    logger.info({ concurrency: config.WORKER_CONCURRENCY }, 'airtel-worker consuming');
    return {
      stopName: 'stop worker and intake (page boundary, release leases)',
      stop: () => worker.stop(config.SHUTDOWN_DEADLINE_MS),
      stopTimeoutMs: config.SHUTDOWN_DEADLINE_MS + 5_000,
    };
  },
};

if (require.main === module) runService(airtelWorkerService);
