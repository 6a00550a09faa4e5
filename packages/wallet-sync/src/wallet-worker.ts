import type { Logger, Registry } from '@intellifin/core';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Redis } from 'ioredis';
import type { Publisher, SettledEvent, Topology } from '@intellifin/messaging';
import { CredentialsCipher, RateBudget, RedisTokenCache, type Pool, type WalletProviderId } from '@intellifin/persistence';
import {
  budgetGate,
  engineMetrics,
  providerRequestObserver,
  SyncWorker,
  type ProviderRequestObserver,
  type RequestGate,
  type SyncWorkerOptions,
} from '@intellifin/sync-engine';
import type { WalletApi } from './wallet-api';
import { WalletProvider } from './wallet-provider';
import { WalletIntake } from './intake-consumer';
import { startPendingGauge, walletMetrics } from './metrics';

/** What the wallet layer hands a provider's HTTP client: the shared rate budget's gate and the request observer. */
export interface WalletClientWiring {
  gate: RequestGate;
  observe: ProviderRequestObserver;
}

/** The settings every wallet worker (MoMo, Airtel) shares; the provider's own client settings stay in its service. */
export interface WalletWorkerCommonDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  topology: Topology;
  publisher: Publisher;
  /** Postgres as `intellifin_worker`. */
  pool: Pool;
  redis: Redis;
  logger: Logger;
  registry?: Registry;
  workerId: string;
  /** `CREDENTIALS_ENCRYPTION_KEY`. */
  credentialsKeyRing: string;
  rate: { ratePerSecond: number; burst: number };
  leaseTtlMs: number;
  concurrency?: number;
  intakeConcurrency?: number;
  /** Prefix of lease, budget and token keys (tests isolate with it; production: none). */
  keyPrefix?: string;
  /** Tests pin the engine to the sandbox's clock. */
  clock?: () => Date;
  backoff?: { baseMs: number; capMs: number };
  fencedNakDelayMs?: number;
  leaseBusyDelayMs?: number;
  onSettled?: (e: SettledEvent) => void;
  /** Engine and worker settings beyond the above (outbox relay, maximum run duration, lanes, outage handling, readiness). */
  engine?: Pick<SyncWorkerOptions, 'outboxRelay' | 'maxRunMs' | 'priorityConcurrency' | 'outageProbeMs' | 'outageNakDelayMs' | 'readiness'>;
}

export interface WalletWorkerDeps<C, T extends { close(): Promise<void> }> extends WalletWorkerCommonDeps {
  provider: WalletProviderId;
  /** Builds the provider's HTTP client on the shared budget gate and observer (closed on stop). */
  client: (wiring: WalletClientWiring) => T;
  /** The provider's `WalletApi` over that client. */
  api: (client: T) => WalletApi<C>;
  /** Template of the re-auth link; `{accountId}` is replaced. */
  reauthUrl: string;
  pageSize?: number;
  lookupConcurrency?: number;
  notFoundGraceMs?: number;
  /** Refresh a token this long before it expires (unset: the token cache's default). */
  tokenRefreshBeforeMs?: number;
  /** Also told of every provider request as it completes (tests). */
  observeRequests?: ProviderRequestObserver;
  /** Told of every settled intake message (registrations, callbacks). */
  onIntakeSettled?: (e: SettledEvent) => void;
}

export interface WalletWorker<T> {
  worker: SyncWorker;
  intake: WalletIntake;
  client: T;
  tokens: RedisTokenCache;
  start(): Promise<void>;
  stop(deadlineMs?: number): Promise<void>;
}

/**
 * Wires a provider's `WalletApi` into the shared wallet layer and engine: the rate budget, the token
 * cache, the `WalletProvider` on a `SyncWorker`, the intake consumer and the pending gauge. Start:
 * intake, then the worker; stop: gauge, intake, worker, then the provider's client.
 */
export function createWalletWorker<C, T extends { close(): Promise<void> }>(d: WalletWorkerDeps<C, T>): WalletWorker<T> {
  const metrics = d.registry ? engineMetrics(d.registry) : undefined;
  const wallet = d.registry ? walletMetrics(d.registry) : undefined;
  const budget = new RateBudget(d.redis, { [d.provider]: d.rate }, d.keyPrefix ?? '');
  const client = d.client({
    gate: budgetGate(budget, d.provider),
    observe: observeBoth(providerRequestObserver(metrics, d.provider), d.observeRequests),
  });
  const api = d.api(client);
  const tokens = new RedisTokenCache(d.redis, {
    keyPrefix: d.keyPrefix ?? '',
    ...(d.tokenRefreshBeforeMs ? { refreshBeforeMs: d.tokenRefreshBeforeMs } : {}),
    ...(d.registry ? { registry: d.registry } : {}),
  });
  const adapter = new WalletProvider<C>({
    api,
    pool: d.pool,
    cipher: new CredentialsCipher(d.credentialsKeyRing),
    tokens,
    reauthLink: (account) => d.reauthUrl.replace('{accountId}', account.id),
    logger: d.logger,
    ...(d.pageSize ? { pageSize: d.pageSize } : {}),
    ...(d.lookupConcurrency ? { lookupConcurrency: d.lookupConcurrency } : {}),
    ...(d.notFoundGraceMs ? { notFoundGraceMs: d.notFoundGraceMs } : {}),
    ...(wallet ? { metrics: wallet } : {}),
  });
  const worker = new SyncWorker({
    provider: d.provider,
    adapter,
    nc: d.nc,
    js: d.js,
    topology: d.topology,
    publisher: d.publisher,
    pool: d.pool,
    redis: d.redis,
    logger: d.logger,
    workerId: d.workerId,
    leaseTtlMs: d.leaseTtlMs,
    ...(d.registry ? { registry: d.registry } : {}),
    ...(metrics ? { metrics } : {}),
    ...(d.keyPrefix ? { keyPrefix: d.keyPrefix } : {}),
    ...(d.clock ? { clock: d.clock } : {}),
    ...(d.backoff ? { backoff: d.backoff } : {}),
    ...(d.fencedNakDelayMs !== undefined ? { fencedNakDelayMs: d.fencedNakDelayMs } : {}),
    ...(d.leaseBusyDelayMs !== undefined ? { leaseBusyDelayMs: d.leaseBusyDelayMs } : {}),
    ...(d.onSettled ? { onSettled: d.onSettled } : {}),
    ...d.engine,
    concurrency: d.concurrency ?? 8,
  });
  const intake = new WalletIntake({
    provider: d.provider,
    api,
    pool: d.pool,
    publisher: d.publisher,
    topology: d.topology,
    nc: d.nc,
    js: d.js,
    logger: d.logger,
    concurrency: d.intakeConcurrency ?? 8,
    ...(d.onIntakeSettled ? { onSettled: d.onIntakeSettled } : {}),
    ...(d.registry ? { registry: d.registry } : {}),
    ...(wallet ? { metrics: wallet } : {}),
  });
  const gauge = wallet ? startPendingGauge({ pool: d.pool, provider: d.provider, metrics: wallet, logger: d.logger }) : undefined;
  return {
    worker,
    intake,
    client,
    tokens,
    async start() {
      await intake.start();
      await worker.start();
    },
    async stop(deadlineMs) {
      gauge?.stop();
      await intake.stop(deadlineMs);
      await worker.stop(deadlineMs);
      await client.close();
    },
  };
}

function observeBoth(a: ProviderRequestObserver, b: ProviderRequestObserver | undefined): ProviderRequestObserver {
  return b
    ? (route, status, seconds, retryAfterMs) => {
        a(route, status, seconds, retryAfterMs);
        b(route, status, seconds, retryAfterMs);
      }
    : a;
}
