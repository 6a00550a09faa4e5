import type { Logger, Registry } from '@intellifin/core';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Redis } from 'ioredis';
import type { MonoWindowOptions } from '@intellifin/domain';
import type { Publisher, SettledEvent, Topology } from '@intellifin/messaging';
import { RateBudget, type Pool } from '@intellifin/persistence';
import { budgetGate, engineMetrics, providerRequestObserver, SyncWorker, type SyncWorkerOptions } from '@intellifin/sync-engine';
import { MonoClient, monoStatementMetrics, MonoProvider } from '@intellifin/providers';

export interface MonoWorkerDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  topology: Topology;
  publisher: Publisher;
  pool: Pool;
  redis: Redis;
  logger: Logger;
  registry?: Registry;
  workerId: string;
  mono: {
    baseUrl: string;
    secretKey: string;
    timeoutMs?: number;
    pageSize?: number;
    realtime?: boolean;
    attempts?: number;
    reauthLinkTtlMs?: number;
  };
  rate: { ratePerSecond: number; burst: number };
  leaseTtlMs: number;
  concurrency?: number;
  /** Prefix of lease and budget keys (tests isolate with it; production: none, shared with the scheduler). */
  keyPrefix?: string;
  monoWindow?: MonoWindowOptions;
  reauthRedirectUrl?: string;
  /** Tests pin the engine to the sandbox's clock. */
  clock?: () => Date;
  backoff?: { baseMs: number; capMs: number };
  fencedNakDelayMs?: number;
  leaseBusyDelayMs?: number;
  onSettled?: (e: SettledEvent) => void;
  /** Engine and worker settings beyond the above (outbox relay, maximum run duration, lanes, outage handling, readiness). */
  engine?: Pick<SyncWorkerOptions, 'outboxRelay' | 'maxRunMs' | 'priorityConcurrency' | 'outageProbeMs' | 'outageNakDelayMs' | 'readiness'>;
}

export interface MonoWorker {
  worker: SyncWorker;
  client: MonoClient;
  start(): Promise<void>;
  stop(deadlineMs?: number): Promise<void>;
}

/** Wires the Mono adapter into the shared engine and the consumer runner (used by main.ts and the tests). */
export function createMonoWorker(d: MonoWorkerDeps): MonoWorker {
  const metrics = d.registry ? engineMetrics(d.registry) : undefined;
  const budget = new RateBudget(d.redis, { mono: d.rate }, d.keyPrefix ?? '');
  const client = new MonoClient({
    baseUrl: d.mono.baseUrl,
    secretKey: d.mono.secretKey,
    gate: budgetGate(budget, 'mono'),
    observe: providerRequestObserver(metrics, 'mono'),
    ...(d.mono.timeoutMs ? { timeoutMs: d.mono.timeoutMs } : {}),
    ...(d.mono.attempts ? { attempts: d.mono.attempts } : {}),
    ...(d.clock ? { clock: d.clock } : {}),
  });
  const adapter = new MonoProvider({
    client,
    logger: d.logger,
    ...(d.mono.pageSize ? { pageSize: d.mono.pageSize } : {}),
    ...(d.mono.realtime !== undefined ? { realtime: d.mono.realtime } : {}),
    ...(d.monoWindow ? { window: d.monoWindow } : {}),
    ...(d.mono.reauthLinkTtlMs ? { reauthLinkTtlMs: d.mono.reauthLinkTtlMs } : {}),
    ...(d.registry ? { metrics: monoStatementMetrics(d.registry) } : {}),
    ...(d.clock ? { clock: d.clock } : {}),
  });
  const worker = new SyncWorker({
    provider: 'mono',
    adapter,
    consentProbe: adapter,
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
    ...(d.reauthRedirectUrl ? { reauthRedirectUrl: d.reauthRedirectUrl } : {}),
    ...(d.clock ? { clock: d.clock } : {}),
    ...(d.backoff ? { backoff: d.backoff } : {}),
    ...(d.fencedNakDelayMs !== undefined ? { fencedNakDelayMs: d.fencedNakDelayMs } : {}),
    ...(d.leaseBusyDelayMs !== undefined ? { leaseBusyDelayMs: d.leaseBusyDelayMs } : {}),
    ...(d.onSettled ? { onSettled: d.onSettled } : {}),
    ...d.engine,
    concurrency: d.concurrency ?? 8,
  });
  return {
    worker,
    client,
    start: () => worker.start(),
    async stop(deadlineMs) {
      await worker.stop(deadlineMs);
      await client.close();
    },
  };
}
