import type { Logger, Registry } from '@intellifin/core';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Redis } from 'ioredis';
import type { Publisher, SettledEvent, Topology } from '@intellifin/messaging';
import { CredentialsCipher, RateBudget, RedisTokenCache, type Pool } from '@intellifin/persistence';
import {
  budgetGate,
  engineMetrics,
  providerRequestObserver,
  SyncWorker,
  type ProviderRequestObserver,
  type SyncWorkerOptions,
} from '@intellifin/sync-engine';
import { startPendingGauge, WalletIntake, WalletProvider, walletMetrics } from '@intellifin/wallet-sync';
import { MomoApi, type MomoCredential } from './provider/momo.api';
import { MomoClient } from './provider/momo.client';

export interface MomoWorkerDeps {
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
  momo: {
    baseUrl: string;
    targetEnvironment: string;
    timeoutMs?: number;
    attempts?: number;
    pageSize?: number;
    lookupConcurrency?: number;
    notFoundGraceMs?: number;
    tokenRefreshBeforeMs?: number;
    /** `{accountId}` is replaced. */
    reauthUrl?: string;
  };
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
  /** Told of every MoMo request as it completes (tests check request order against Retry-After). */
  observeRequests?: ProviderRequestObserver;
  engine?: Pick<SyncWorkerOptions, 'outboxRelay' | 'maxRunMs' | 'priorityConcurrency' | 'outageProbeMs' | 'outageNakDelayMs' | 'readiness'>;
}

export interface MomoWorker {
  worker: SyncWorker;
  intake: WalletIntake;
  client: MomoClient;
  tokens: RedisTokenCache;
  start(): Promise<void>;
  stop(deadlineMs?: number): Promise<void>;
}

/** Wires the MoMo api into the shared wallet layer and engine (used by main.ts, the tests and the bench). */
export function createMomoWorker(d: MomoWorkerDeps): MomoWorker {
  const metrics = d.registry ? engineMetrics(d.registry) : undefined;
  const wallet = d.registry ? walletMetrics(d.registry) : undefined;
  const budget = new RateBudget(d.redis, { momo: d.rate }, d.keyPrefix ?? '');
  const client = new MomoClient({
    baseUrl: d.momo.baseUrl,
    gate: budgetGate(budget, 'momo'),
    observe: observeBoth(providerRequestObserver(metrics, 'momo'), d.observeRequests),
    ...(d.momo.timeoutMs ? { timeoutMs: d.momo.timeoutMs } : {}),
    ...(d.momo.attempts ? { attempts: d.momo.attempts } : {}),
    ...(d.clock ? { clock: d.clock } : {}),
  });
  const api = new MomoApi(client, d.momo.targetEnvironment);
  const tokens = new RedisTokenCache(d.redis, {
    keyPrefix: d.keyPrefix ?? '',
    ...(d.momo.tokenRefreshBeforeMs ? { refreshBeforeMs: d.momo.tokenRefreshBeforeMs } : {}),
    ...(d.registry ? { registry: d.registry } : {}),
  });
  const reauthUrl = d.momo.reauthUrl ?? 'intellifin://wallets/momo/{accountId}/api-key';
  const adapter = new WalletProvider<MomoCredential>({
    api,
    pool: d.pool,
    cipher: new CredentialsCipher(d.credentialsKeyRing),
    tokens,
    reauthLink: (account) => reauthUrl.replace('{accountId}', account.id),
    logger: d.logger,
    ...(d.momo.pageSize ? { pageSize: d.momo.pageSize } : {}),
    ...(d.momo.lookupConcurrency ? { lookupConcurrency: d.momo.lookupConcurrency } : {}),
    ...(d.momo.notFoundGraceMs ? { notFoundGraceMs: d.momo.notFoundGraceMs } : {}),
    ...(wallet ? { metrics: wallet } : {}),
  });
  const worker = new SyncWorker({
    provider: 'momo',
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
    provider: 'momo',
    api,
    pool: d.pool,
    publisher: d.publisher,
    topology: d.topology,
    nc: d.nc,
    js: d.js,
    logger: d.logger,
    concurrency: d.intakeConcurrency ?? 8,
    ...(d.onSettled ? { onSettled: d.onSettled } : {}),
    ...(d.registry ? { registry: d.registry } : {}),
    ...(wallet ? { metrics: wallet } : {}),
  });
  const gauge = wallet ? startPendingGauge({ pool: d.pool, provider: 'momo', metrics: wallet, logger: d.logger }) : undefined;
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
    ? (route, status, seconds) => {
        a(route, status, seconds);
        b(route, status, seconds);
      }
    : a;
}
