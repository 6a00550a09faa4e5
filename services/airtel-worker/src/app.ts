import type { Logger, Registry, Tracer } from '@intellifin/core';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Redis } from 'ioredis';
import type { Publisher, SettledEvent, Topology } from '@intellifin/messaging';
import { CredentialsCipher, RateBudget, RedisTokenCache, type Pool } from '@intellifin/persistence';
import { budgetGate, engineMetrics, providerRequestObserver, SyncWorker, type SyncWorkerOptions } from '@intellifin/sync-engine';
import { startPendingGauge, WalletIntake, WalletProvider, walletMetrics } from '@intellifin/wallet-sync';
import { AirtelApi, type AirtelCredential } from './provider/airtel.api';
import { AirtelClient } from './provider/airtel.client';
import { AirtelHttp } from './provider/airtel.http';

export interface AirtelWorkerDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  topology: Topology;
  publisher: Publisher;
  /** Postgres as `intellifin_worker`. */
  pool: Pool;
  redis: Redis;
  logger: Logger;
  registry?: Registry;
  tracer?: Tracer;
  workerId: string;
  /** `CREDENTIALS_ENCRYPTION_KEY`. */
  credentialsKeyRing: string;
  airtel: {
    baseUrl: string;
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
  /** Engine and worker settings beyond the above (outbox relay, maximum run duration, lanes, outage handling, readiness). */
  engine?: Pick<SyncWorkerOptions, 'outboxRelay' | 'maxRunMs' | 'priorityConcurrency' | 'outageProbeMs' | 'outageNakDelayMs' | 'readiness'>;
}

export interface AirtelWorker {
  worker: SyncWorker;
  intake: WalletIntake;
  http: AirtelHttp;
  tokens: RedisTokenCache;
  start(): Promise<void>;
  stop(deadlineMs?: number): Promise<void>;
}

/** Wires the Airtel api into the shared wallet layer and engine (used by main.ts, the tests and the bench). */
export function createAirtelWorker(d: AirtelWorkerDeps): AirtelWorker {
  const metrics = d.registry ? engineMetrics(d.registry) : undefined;
  const wallet = d.registry ? walletMetrics(d.registry) : undefined;
  const budget = new RateBudget(d.redis, { airtel: d.rate }, d.keyPrefix ?? '');
  const http = new AirtelHttp({
    baseUrl: d.airtel.baseUrl,
    gate: budgetGate(budget, 'airtel'),
    observe: providerRequestObserver(metrics, 'airtel'),
    ...(d.airtel.timeoutMs ? { timeoutMs: d.airtel.timeoutMs } : {}),
    ...(d.airtel.attempts ? { attempts: d.airtel.attempts } : {}),
    ...(d.clock ? { clock: d.clock } : {}),
  });
  const api = new AirtelApi(new AirtelClient(http, d.tracer));
  const tokens = new RedisTokenCache(d.redis, {
    keyPrefix: d.keyPrefix ?? '',
    refreshBeforeMs: d.airtel.tokenRefreshBeforeMs ?? 30_000,
    ...(d.registry ? { registry: d.registry } : {}),
  });
  const reauthUrl = d.airtel.reauthUrl ?? 'intellifin://wallets/airtel/{accountId}/relink';
  const adapter = new WalletProvider<AirtelCredential>({
    api,
    pool: d.pool,
    cipher: new CredentialsCipher(d.credentialsKeyRing),
    tokens,
    reauthLink: (account) => reauthUrl.replace('{accountId}', account.id),
    logger: d.logger,
    ...(d.airtel.pageSize ? { pageSize: d.airtel.pageSize } : {}),
    ...(d.airtel.lookupConcurrency ? { lookupConcurrency: d.airtel.lookupConcurrency } : {}),
    ...(d.airtel.notFoundGraceMs ? { notFoundGraceMs: d.airtel.notFoundGraceMs } : {}),
    ...(wallet ? { metrics: wallet } : {}),
  });
  const worker = new SyncWorker({
    provider: 'airtel',
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
    provider: 'airtel',
    api,
    pool: d.pool,
    publisher: d.publisher,
    topology: d.topology,
    nc: d.nc,
    js: d.js,
    logger: d.logger,
    concurrency: d.intakeConcurrency ?? 8,
    ...(d.registry ? { registry: d.registry } : {}),
    ...(wallet ? { metrics: wallet } : {}),
  });
  const gauge = wallet ? startPendingGauge({ pool: d.pool, provider: 'airtel', metrics: wallet, logger: d.logger }) : undefined;
  return {
    worker,
    intake,
    http,
    tokens,
    async start() {
      await intake.start();
      await worker.start();
    },
    async stop(deadlineMs) {
      gauge?.stop();
      await intake.stop(deadlineMs);
      await worker.stop(deadlineMs);
      await http.close();
    },
  };
}
