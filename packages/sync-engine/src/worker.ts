import type { Logger, Registry, Tracer } from '@intellifin/core';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import {
  ConsumerRunner,
  DeadLetterWatcher,
  syncCommandCodec,
  type SettledEvent,
  type SyncCommand,
  type Topology,
} from '@intellifin/messaging';
import { SyncEngine, type SyncEngineOptions } from './engine';

export interface SyncWorkerOptions extends Omit<SyncEngineOptions, 'logger'> {
  nc: NatsConnection;
  js: JetStreamClient;
  topology: Topology;
  logger: Logger;
  registry?: Registry;
  tracer?: Tracer;
  /** Runs in flight per process. Default 8 (the measured sweet spot on 2 cores). */
  concurrency?: number;
  onSettled?: (e: SettledEvent) => void;
  /**
   * Run the advisory DLQ watcher in this process (default true). It is the safety net for
   * commands no runner saw fail — crash loops and hangs where every delivery's ack wait expired:
   * on the max-deliveries advisory it copies the command to SYNC_DLQ, marks the account `error`
   * and deletes the command. Every worker replica runs it on the one shared durable consumer, so
   * advisories are spread over the replicas and never handled twice.
   */
  deadLetterWatcher?: boolean;
}

/**
 * A provider worker: the consumer runner on the provider's durable consumer, driving the engine.
 * `stop(deadlineMs)` is the graceful shutdown: stop pulling, hand buffered commands back, let
 * in-flight runs stop at their next page boundary (or abandon them at the deadline), release
 * leases. The caller drains NATS and closes the pools afterwards.
 */
export class SyncWorker {
  readonly engine: SyncEngine;
  readonly runner: ConsumerRunner<SyncCommand>;
  private watcher: DeadLetterWatcher | undefined;

  constructor(private readonly o: SyncWorkerOptions) {
    this.engine = new SyncEngine(o);
    this.runner = new ConsumerRunner<SyncCommand>({
      nc: o.nc,
      js: o.js,
      topology: o.topology,
      consumer: o.topology.workers[o.provider],
      codec: syncCommandCodec,
      handler: this.engine.handle,
      logger: o.logger,
      ...(o.registry ? { registry: o.registry } : {}),
      ...(o.tracer ? { tracer: o.tracer } : {}),
      ...(o.onSettled ? { onSettled: o.onSettled } : {}),
      ...(o.backoff ? { backoff: o.backoff } : {}),
      concurrency: o.concurrency ?? 8,
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
    await this.runner.start();
  }

  async stop(deadlineMs = 10_000): Promise<void> {
    await this.runner.stop(deadlineMs);
    await this.watcher?.stop();
    await this.engine.releaseAll();
  }
}
