import type { Logger, Registry, Tracer } from '@intellifin/core';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import {
  DeadLetterWatcher,
  LaneRunners,
  SuspectIsolation,
  syncCommandCodec,
  type SettledEvent,
  type SyncCommand,
  type Topology,
} from '@intellifin/messaging';
import { OutboxRelay, RedisDeliveryJournal } from '@intellifin/persistence';
import { chaosPoisonFromEnv, withChaosPoison } from './chaos-hook';
import { SyncEngine } from './engine';
import type { SyncEngineOptions } from './engine-options';
import { InfraMonitor, type Infrastructure } from './infra';

/** The part of the health server the worker drives: readiness fails while our own servers are out. */
export interface ReadinessControl {
  setDegraded(name: string, reason: string): void;
  clearDegraded(name: string): void;
}

export interface SyncWorkerOptions extends Omit<SyncEngineOptions, 'logger' | 'onCommitted' | 'onInfrastructureError'> {
  nc: NatsConnection;
  js: JetStreamClient;
  topology: Topology;
  logger: Logger;
  registry?: Registry;
  tracer?: Tracer;
  /** Runs in flight per process on the bulk (scheduled) lane. Default 8 (the measured sweet spot on 2 cores). */
  concurrency?: number;
  /** Runs in flight per process on the priority lane (manual, webhook). Default 2. */
  priorityConcurrency?: number;
  onSettled?: (e: SettledEvent) => void;
  /**
   * Run the advisory DLQ watcher in this process (default true). It is the safety net for
   * commands no runner saw fail — crash loops and hangs where every delivery's ack wait expired:
   * on the max-deliveries advisory it copies the command to SYNC_DLQ, marks the account `error`
   * and deletes the command. Every worker replica runs it on the one shared durable consumer, so
   * advisories are spread over the replicas and never handled twice.
   */
  deadLetterWatcher?: boolean;
  /** Run an outbox relay in this process (default true): it publishes the events runs committed. */
  outboxRelay?: boolean;
  /** Readiness to fail while Postgres, Redis or NATS is out. */
  readiness?: ReadinessControl;
  /** Probe interval while one of our servers is out. Default 1 s. */
  outageProbeMs?: number;
}

/**
 * A provider worker: both command lanes (priority and bulk) driving the engine, the outbox relay
 * that publishes what runs committed, and the outage monitor that stops pulling (and fails
 * readiness) while our own Postgres, Redis or NATS is out, resuming by itself when they answer.
 * `stop(deadlineMs)` is the graceful shutdown: stop pulling, hand buffered commands back, let
 * in-flight runs stop at their next page boundary (or abandon them at the deadline), release
 * leases, then stop the relay. The caller drains NATS and closes the pools afterwards.
 */
export class SyncWorker {
  readonly engine: SyncEngine;
  readonly lanes: LaneRunners<SyncCommand>;
  readonly relay: OutboxRelay | undefined;
  readonly monitor: InfraMonitor;
  private watcher: DeadLetterWatcher | undefined;

  constructor(private readonly o: SyncWorkerOptions) {
    const relay =
      (o.outboxRelay ?? true)
        ? new OutboxRelay({
            pool: o.pool,
            logger: o.logger,
            ...(o.registry ? { registry: o.registry } : {}),
            ...(o.tracer ? { tracer: o.tracer } : {}),
            publish: (rows) => o.publisher.publishBatch(rows.map((r) => ({ subject: r.subject, payload: r.payload, msgId: r.eventId }))),
          })
        : undefined;
    this.relay = relay;
    this.monitor = new InfraMonitor({
      logger: o.logger,
      ...(o.registry ? { registry: o.registry } : {}),
      ...(o.outageProbeMs ? { probeEveryMs: o.outageProbeMs } : {}),
      probes: [
        { server: 'postgres', check: async () => void (await o.pool.query('SELECT 1')) },
        { server: 'redis', check: async () => void (await o.redis.ping()) },
        { server: 'nats', check: () => o.nc.flush() },
      ],
      onOutage: (server: Infrastructure, reason: string) => {
        this.lanes.pause(server);
        o.readiness?.setDegraded(server, reason);
      },
      onRecovered: (server: Infrastructure) => {
        this.lanes.resume(server);
        o.readiness?.clearDegraded(server);
      },
    });
    this.engine = new SyncEngine({
      ...o,
      onCommitted: () => relay?.kick(),
      onInfrastructureError: (err) => this.monitor.report(err),
    });
    this.lanes = new LaneRunners<SyncCommand>({
      provider: o.provider,
      nc: o.nc,
      js: o.js,
      topology: o.topology,
      codec: syncCommandCodec,
      // Test-only poison (chaos harness); the engine's own handler unless INTELLIFIN_CHAOS_HOOKS=enabled.
      handler: withChaosPoison(this.engine.handle, chaosPoisonFromEnv(), o.logger),
      logger: o.logger,
      ...(o.registry ? { registry: o.registry } : {}),
      ...(o.tracer ? { tracer: o.tracer } : {}),
      ...(o.onSettled ? { onSettled: o.onSettled } : {}),
      ...(o.backoff ? { backoff: o.backoff } : {}),
      concurrency: o.concurrency ?? 8,
      priorityConcurrency: o.priorityConcurrency ?? 2,
      // A command that takes its process down is told from those that died with it (docs/reliability.md).
      isolation: new SuspectIsolation({
        journal: new RedisDeliveryJournal(o.redis),
        logger: o.logger,
        ...(o.registry ? { registry: o.registry } : {}),
      }),
      onDeadLetter: (dl) => this.engine.onDeadLetter(dl.accountId, dl.errorCode, dl.reason),
    });
  }

  async start(): Promise<void> {
    if (this.o.deadLetterWatcher ?? true) {
      const { o } = this;
      this.watcher = new DeadLetterWatcher({
        nc: o.nc,
        js: o.js,
        jsm: await jetstreamManager(o.nc),
        topology: o.topology,
        logger: o.logger,
        ...(o.registry ? { registry: o.registry } : {}),
        onDeadLetter: (dl) => this.engine.onDeadLetter(dl.accountId, dl.errorCode, dl.reason),
      });
      await this.watcher.start();
    }
    this.relay?.start();
    await this.lanes.start();
  }

  async stop(deadlineMs = 10_000): Promise<void> {
    await this.lanes.stop(deadlineMs);
    this.monitor.stop();
    await this.watcher?.stop();
    await this.engine.releaseAll();
    await this.relay?.stop();
  }
}
