import type { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { HealthServer, Logger, Registry, ShutdownRegistry, TracingHandle } from '@intellifin/core';
import type { EnsureTopologyOptions, Topology } from '@intellifin/messaging';
import type { Pool } from '@intellifin/persistence';
import type { ServiceConfigBase } from './config';

/** Which connections a service needs; the kit opens them (bounded, checked) before `start`. */
export interface ConnectionRequest<C> {
  /** A Postgres pool of this size (a number, or computed from the configuration). */
  postgres?: { max: number | ((config: C) => number) };
  redis?: boolean;
  nats?: boolean;
}

/** What the kit hands a service's `start`: the process-wide parts, and the connections it asked for. */
export interface ServiceKit<C extends ServiceConfigBase> {
  name: string;
  config: C;
  logger: Logger;
  registry: Registry;
  tracing: TracingHandle;
  health: HealthServer;
  /** The port the health/metrics server listens on (HEALTH_PORT, or the one picked for 0). */
  healthPort: number;
  shutdown: ShutdownRegistry;
  /** The connections; reading one the service did not ask for throws, naming it. */
  readonly pool: Pool;
  readonly redis: Redis;
  readonly nc: NatsConnection;
  /** Ensures the JetStream topology (namespace from NATS_NAMESPACE) and returns it with its manager. */
  ensureTopology(opts?: Omit<EnsureTopologyOptions, 'logger'>): Promise<{ jsm: JetStreamManager; topology: Topology }>;
}

/** A started service: how to stop it (after readiness is withdrawn, before the connections close). */
export interface RunningService {
  stop?: () => Promise<void> | void;
  /** The shutdown step's name in the logs, e.g. 'stop worker (page boundary, release leases)'. */
  stopName?: string;
  /** Time limit of the stop step. Default 30 s. */
  stopTimeoutMs?: number;
}

export interface ServiceDefinition<C extends ServiceConfigBase> {
  name: string;
  /** Validates the environment; throws ConfigError naming each bad variable. */
  loadConfig: (env: NodeJS.ProcessEnv) => C;
  connections: ConnectionRequest<C>;
  /** The service's own parts: build them on the kit and start them. Readiness opens after it resolves. */
  start: (kit: ServiceKit<C>) => Promise<RunningService>;
}
