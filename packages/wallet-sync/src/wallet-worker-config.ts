import { hostname } from 'node:os';
import { z } from 'zod';
import { boolVar, positiveIntVar, type Logger, type Registry } from '@intellifin/core';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import type { Redis } from 'ioredis';
import { Publisher, type Topology } from '@intellifin/messaging';
import type { Pool } from '@intellifin/persistence';
import { syncWorkerEnv, syncWorkerSettings, type SyncWorkerEnv, type SyncWorkerOptions } from '@intellifin/sync-engine';
import type { WalletWorkerCommonDeps } from './wallet-worker';

/**
 * The environment every wallet worker (momo-, airtel-worker) shares, spread into its zod schema beside
 * its provider's own client settings: the engine's lanes, lease and run bounds (`syncWorkerEnv`), the
 * intake consumer and the credentials key ring.
 */
export const walletWorkerEnv = {
  ...syncWorkerEnv,
  /** Key ring of provider_credentials (`<id>:<base64 32 bytes>,…`). */
  CREDENTIALS_ENCRYPTION_KEY: z.string().min(1),
  /** Intake messages (reference registrations, callbacks) handled at once. */
  INTAKE_CONCURRENCY: positiveIntVar(8),
  MIGRATE_ON_START: boolVar(false),
};

export interface WalletWorkerEnv extends SyncWorkerEnv {
  CREDENTIALS_ENCRYPTION_KEY: string;
  INTAKE_CONCURRENCY: number;
  SHUTDOWN_DEADLINE_MS: number;
}

/** The connections a wallet worker asks the service kit for: a pool sized for both consumers, Redis, NATS. */
export const walletWorkerConnections = {
  postgres: { max: (c: WalletWorkerEnv) => c.WORKER_CONCURRENCY + c.INTAKE_CONCURRENCY + 2 },
  redis: true,
  nats: true,
};

/** The part of the service kit a wallet worker's `start` uses (structurally `ServiceKit<C>`). */
export interface WalletWorkerKit {
  name: string;
  config: WalletWorkerEnv;
  logger: Logger;
  registry: Registry;
  health: NonNullable<SyncWorkerOptions['readiness']>;
  readonly pool: Pool;
  readonly redis: Redis;
  readonly nc: NatsConnection;
  ensureTopology(): Promise<{ topology: Topology }>;
}

/** What a wallet service's own factory receives: everything but its provider's client settings and rate. */
export type WalletWorkerRuntimeDeps = Omit<WalletWorkerCommonDeps, 'rate'>;

/**
 * The service kit's `start` for a wallet worker: ensures the topology, builds the worker with
 * `create` (the service adds its provider's own settings), starts it and returns the stop step
 * (intake and pulling stop, in-flight runs stop at a page boundary or are handed back, leases released).
 */
export async function startWalletWorker(
  kit: WalletWorkerKit,
  create: (deps: WalletWorkerRuntimeDeps) => { start(): Promise<void>; stop(deadlineMs?: number): Promise<void> },
): Promise<{ stopName: string; stop: () => Promise<void>; stopTimeoutMs: number }> {
  const { config, nc, logger, registry } = kit;
  const { topology } = await kit.ensureTopology();
  const settings = syncWorkerSettings(config);
  const worker = create({
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
    leaseTtlMs: settings.leaseTtlMs,
    concurrency: settings.concurrency,
    intakeConcurrency: config.INTAKE_CONCURRENCY,
    // The engine fails readiness while our own Postgres, Redis or NATS is out.
    engine: { readiness: kit.health, maxRunMs: settings.maxRunMs, priorityConcurrency: settings.priorityConcurrency },
  });
  await worker.start();
  logger.info({ concurrency: config.WORKER_CONCURRENCY }, `${kit.name} consuming`);
  return {
    stopName: 'stop worker and intake (page boundary, release leases)',
    stop: () => worker.stop(config.SHUTDOWN_DEADLINE_MS),
    stopTimeoutMs: config.SHUTDOWN_DEADLINE_MS + 5_000,
  };
}
