/**
 * Composition root of sync-api, on the service kit (config, logging, tracing, metrics + health on
 * 9106, Postgres as `intellifin_api`, Redis and NATS with bounded waits, ordered shutdown): its own
 * parts are the REST server on HTTP_PORT (8080), the gRPC server on GRPC_PORT (50051), the
 * application layer under both, the live status feed and one outbox relay publishing the commands
 * it queues. Shutdown: mark unready (gRPC health NOT_SERVING) → end live streams → gRPC
 * tryShutdown, forced after its deadline → REST stops accepting and finishes in-flight requests →
 * stop the relay (its batch settled) → NATS drained → Redis, Postgres closed.
 */
import { runService, type ServiceDefinition } from '@intellifin/service-kit';
import { composeSyncApi } from './compose';
import { loadSyncApiConfig, type SyncApiConfig } from './config';

export const syncApiService: ServiceDefinition<SyncApiConfig> = {
  name: 'sync-api',
  loadConfig: loadSyncApiConfig,
  connections: { postgres: { max: (c) => c.PG_POOL_MAX }, redis: true, nats: true },
  async start(kit) {
    const { config, logger, registry } = kit;
    const { topology } = await kit.ensureTopology();
    const parts = await composeSyncApi({
      config,
      pool: kit.pool,
      redis: kit.redis,
      nc: kit.nc,
      topology,
      logger,
      registry,
      tracer: kit.tracing.tracer,
      readiness: async () => (await kit.health.readiness()).ready,
    });
    try {
      const address = await parts.http.listen({ port: config.HTTP_PORT, host: config.HTTP_HOST });
      logger.info({ address }, 'sync-api REST listening');
      const grpcPort = await parts.grpc.listen(config.HTTP_HOST, config.GRPC_PORT);
      logger.info({ port: grpcPort }, 'sync-api gRPC listening');
    } catch (err) {
      await parts.stop().catch(() => undefined);
      throw err;
    }
    return { stopName: 'stop live streams, gRPC and REST servers, outbox relay', stop: () => parts.stop(), stopTimeoutMs: 15_000 };
  },
};

if (require.main === module) runService(syncApiService);
