/**
 * Composition root of momo-worker, on the service kit (config, logging, tracing, metrics + health
 * on 9103, Postgres, Redis and NATS with bounded waits, ordered shutdown): its own parts are the
 * JetStream topology, the MoMo api on the shared wallet layer, the sync worker and the intake
 * consumer (reference registrations and callbacks). Shutdown: mark unready → stop intake and
 * pulling, in-flight runs stop at a page boundary or are handed back, leases released → NATS
 * drained → Redis, Postgres closed → traces → health server.
 */
import { runService, type ServiceDefinition } from '@intellifin/service-kit';
import { startWalletWorker, walletWorkerConnections } from '@intellifin/wallet-sync';
import { createMomoWorker } from './app';
import { loadMomoWorkerConfig, type MomoWorkerConfig } from './config';

export const momoWorkerService: ServiceDefinition<MomoWorkerConfig> = {
  name: 'momo-worker',
  loadConfig: loadMomoWorkerConfig,
  connections: walletWorkerConnections,
  start(kit) {
    const { config } = kit;
    return startWalletWorker(kit, (deps) =>
      createMomoWorker({
        ...deps,
        momo: {
          baseUrl: config.MOMO_BASE_URL,
          targetEnvironment: config.MOMO_TARGET_ENVIRONMENT,
          timeoutMs: config.MOMO_TIMEOUT_MS,
          pageSize: config.MOMO_PAGE_SIZE,
          lookupConcurrency: config.MOMO_LOOKUP_CONCURRENCY,
          notFoundGraceMs: config.MOMO_NOT_FOUND_GRACE_MS,
          tokenRefreshBeforeMs: config.MOMO_TOKEN_REFRESH_BEFORE_MS,
          reauthUrl: config.MOMO_REAUTH_URL,
        },
        rate: { ratePerSecond: config.MOMO_RATE_PER_SECOND, burst: config.MOMO_RATE_BURST },
      }),
    );
  },
};

if (require.main === module) runService(momoWorkerService);
