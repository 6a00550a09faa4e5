/**
 * Composition root of airtel-worker, on the service kit (config, logging, tracing, metrics + health
 * on 9104, Postgres, Redis and NATS with bounded waits, ordered shutdown): its own parts are the
 * JetStream topology, the Airtel api on the shared wallet layer, the sync worker and the intake
 * consumer (reference registrations and callbacks). Shutdown: mark unready → stop intake and
 * pulling, in-flight runs stop at a page boundary or are handed back, leases released → NATS
 * drained → Redis, Postgres closed → traces → health server.
 */
import { runService, type ServiceDefinition } from '@intellifin/service-kit';
import { startWalletWorker, walletWorkerConnections } from '@intellifin/wallet-sync';
import { createAirtelWorker } from './app';
import { loadAirtelWorkerConfig, type AirtelWorkerConfig } from './config';

export const airtelWorkerService: ServiceDefinition<AirtelWorkerConfig> = {
  name: 'airtel-worker',
  loadConfig: loadAirtelWorkerConfig,
  connections: walletWorkerConnections,
  start(kit) {
    const { config } = kit;
    return startWalletWorker(kit, (deps) =>
      createAirtelWorker({
        ...deps,
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
      }),
    );
  },
};

if (require.main === module) runService(airtelWorkerService);
