import type { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import type { Logger, Registry, Tracer } from '@intellifin/core';
import { jetstreamManager, Publisher, type Topology } from '@intellifin/messaging';
import { CredentialsCipher, OutboxRelay, type Pool } from '@intellifin/persistence';
import type { NatsConnection } from '@nats-io/transport-node';
import { ProviderLinkGateway, type LinkProviders } from './app/link-providers';
import { LinkingApi, type LinkingOptions } from './app/linking';
import { ManualSyncLimiter } from './app/manual-sync-limiter';
import { OperatorApi } from './app/operator';
import { RepairApi } from './app/repair';
import { SyncApi } from './app/sync-api';
import { OrgReports } from './app/org-reports';
import { SyncSettings } from './app/settings';
import { TransactionChanges } from './app/transaction-changes';
import type { SyncApiConfig } from './config';
import { JwtVerifier } from './http/auth';
import { composeIngress, type IngressParts } from './ingress.compose';
import { buildHttpServer } from './http/server';
import { StatusFeed } from './app/status-feed';
import { GrpcTransport } from './grpc/server';

export interface SyncApiDeps {
  config: SyncApiConfig;
  /** Connected as `intellifin_api`. */
  pool: Pool;
  redis: Redis;
  nc: NatsConnection;
  topology: Topology;
  logger: Logger;
  registry: Registry;
  tracer?: Tracer;
  /** Redis key prefix (tests isolate by it). */
  keyPrefix?: string;
  /** The process' readiness (the service kit's health server); gRPC health follows it. */
  readiness?: () => Promise<boolean>;
  /** The providers linking and repair ask (default: the real clients on the configured URLs). */
  linkProviders?: LinkProviders;
}

export interface SyncApiParts {
  api: SyncApi;
  ops: OperatorApi;
  http: FastifyInstance;
  relay: OutboxRelay;
  feed: StatusFeed;
  grpc: GrpcTransport;
  ingress: IngressParts;
  stop(): Promise<void>;
}

/**
 * Builds sync-api's parts over connections the caller owns: the application layer, the REST
 * server (not yet listening) and the outbox relay that publishes the commands it queues (started).
 * Used by main.ts and by the tests.
 */
export async function composeSyncApi(d: SyncApiDeps): Promise<SyncApiParts> {
  const publisher = new Publisher({ nc: d.nc, topology: d.topology, registry: d.registry, logger: d.logger });
  const relay = new OutboxRelay({
    pool: d.pool,
    logger: d.logger,
    registry: d.registry,
    ...(d.tracer ? { tracer: d.tracer } : {}),
    publish: (rows) => publisher.publishBatch(rows.map((r) => ({ subject: r.subject, payload: r.payload, msgId: r.eventId }))),
  });
  const api = new SyncApi({
    pool: d.pool,
    limiter: new ManualSyncLimiter(d.redis, d.config.MANUAL_SYNC_INTERVAL_MS, d.keyPrefix ?? ''),
    commandSubject: (provider, accountId) => d.topology.commandSubjectFor({ provider, accountId, trigger: 'manual' }),
    statusEventSubject: (provider, accountId) => d.topology.eventSubject('status', provider, accountId),
    onQueued: () => relay.kick(),
    registry: d.registry,
    ...(d.tracer ? { tracer: d.tracer } : {}),
    queuedTtlMs: d.config.QUEUED_TTL_MS,
    historyDays: d.config.HISTORY_DAYS,
    consentExpiryWarningDays: d.config.CONSENT_EXPIRY_WARNING_DAYS,
  });
  const ops = new OperatorApi({
    pool: d.pool,
    jsm: await jetstreamManager(d.nc),
    topology: d.topology,
    logger: d.logger,
    onQueued: () => relay.kick(),
    registry: d.registry,
    ...(d.tracer ? { tracer: d.tracer } : {}),
    queuedTtlMs: d.config.QUEUED_TTL_MS,
    orgSyncIntervalMs: d.config.ORG_SYNC_INTERVAL_MS,
    orgSyncBatchSize: d.config.ORG_SYNC_BATCH_SIZE,
  });
  const verifier = new JwtVerifier({
    issuer: d.config.JWT_ISSUER,
    audience: d.config.JWT_AUDIENCE,
    secret: d.config.JWT_SECRET,
    jwksUrl: d.config.JWT_JWKS_URL,
    clockToleranceS: d.config.JWT_CLOCK_TOLERANCE_S,
  });
  const feed = new StatusFeed({
    nc: d.nc,
    topology: d.topology,
    pool: d.pool,
    logger: d.logger,
    registry: d.registry,
    bufferSize: d.config.STATUS_FEED_BUFFER,
  });
  await feed.start();
  const obs = { registry: d.registry, ...(d.tracer ? { tracer: d.tracer } : {}) };
  const data = {
    changes: new TransactionChanges({ pool: d.pool, ...obs }),
    settings: new SyncSettings({ pool: d.pool, ...obs }),
    reports: new OrgReports({ pool: d.pool, ...(d.tracer ? { tracer: d.tracer } : {}) }),
  };
  const ingress = composeIngress(d, () => relay.kick());
  const providers = d.linkProviders ?? linkProvidersOf(d);
  const linkingOptions: LinkingOptions = {
    pool: d.pool,
    cipher: new CredentialsCipher(d.config.CREDENTIALS_ENCRYPTION_KEY),
    providers,
    commandSubject: (provider, accountId, trigger) => d.topology.commandSubjectFor({ provider, accountId, trigger }),
    authEventSubject: (provider, accountId) => d.topology.eventSubject('auth', provider, accountId),
    statusEventSubject: (provider, accountId) => d.topology.eventSubject('status', provider, accountId),
    onQueued: () => relay.kick(),
    registry: d.registry,
    logger: d.logger.child({ component: 'linking' }),
    ...(d.tracer ? { tracer: d.tracer } : {}),
    providerTimeoutMs: d.config.LINK_PROVIDER_TIMEOUT_MS,
    queuedTtlMs: d.config.QUEUED_TTL_MS,
    historyDays: d.config.HISTORY_DAYS,
    consentExpiryWarningDays: d.config.CONSENT_EXPIRY_WARNING_DAYS,
  };
  const linking = { linking: new LinkingApi(linkingOptions), repair: new RepairApi(linkingOptions) };
  const http = await buildHttpServer({
    api,
    ops,
    linking,
    verifier,
    logger: d.logger,
    registry: d.registry,
    bodyLimitBytes: d.config.BODY_LIMIT_BYTES,
    data,
    events: { feed, heartbeatMs: d.config.SSE_HEARTBEAT_MS },
    ingress: ingress.routes,
  });
  const grpc = new GrpcTransport({
    api,
    ops,
    verifier,
    feed,
    logger: d.logger,
    registry: d.registry,
    ...(d.tracer ? { tracer: d.tracer } : {}),
    ...(d.readiness ? { readiness: d.readiness } : {}),
  });
  relay.start();
  ingress.processor.start();
  let stopped: Promise<void> | undefined;
  return {
    api,
    ops,
    http,
    relay,
    feed,
    grpc,
    ingress,
    stop() {
      // Live streams end first (they would hold both servers open), then gRPC (deadline, then
      // forced), then REST, then the relay. Idempotent.
      stopped ??= (async () => {
        await feed.stop();
        await grpc.stop();
        await http.close();
        await ingress.processor.stop();
        await relay.stop();
        await providers.close();
      })();
      return stopped;
    },
  };
}

/** The real provider clients linking and repair use, on the configured URLs and shared budgets. */
function linkProvidersOf(d: SyncApiDeps): LinkProviders {
  const c = d.config;
  return new ProviderLinkGateway(
    {
      mono: { baseUrl: c.MONO_BASE_URL, secretKey: c.MONO_SECRET_KEY, reauthRedirectUrl: c.MONO_REAUTH_REDIRECT_URL },
      momo: { baseUrl: c.MOMO_BASE_URL, targetEnvironment: c.MOMO_TARGET_ENVIRONMENT },
      airtel: { baseUrl: c.AIRTEL_BASE_URL },
      timeoutMs: c.LINK_PROVIDER_TIMEOUT_MS,
      rates: {
        mono: { ratePerSecond: c.MONO_RATE_PER_SECOND, burst: c.MONO_RATE_BURST },
        momo: { ratePerSecond: c.MOMO_RATE_PER_SECOND, burst: c.MOMO_RATE_BURST },
        airtel: { ratePerSecond: c.AIRTEL_RATE_PER_SECOND, burst: c.AIRTEL_RATE_BURST },
      },
    },
    { redis: d.redis, logger: d.logger, registry: d.registry, ...(d.keyPrefix ? { keyPrefix: d.keyPrefix } : {}) },
  );
}
