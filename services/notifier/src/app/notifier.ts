/**
 * The notifier's parts, wired: the auth-event consumer, the dispatcher and the expiry scanner.
 * main.ts hands it the kit's connections; tests hand it theirs (and a controllable clock).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Tracer } from '@opentelemetry/api';
import { trace } from '@opentelemetry/api';
import type { Logger, Registry } from '@intellifin/core';
import { ConsumerRunner, type SettledEvent, type Topology } from '@intellifin/messaging';
import type { BackoffPolicy } from '@intellifin/domain';
import type { Pool } from 'pg';
import { loadCatalogue, MESSAGES_DIR } from '../domain/catalogue';
import type { LinkSettings } from '../domain/links';
import type { QuietHours } from '../domain/quiet-hours';
import { authEventCodec, authEventHandler } from './auth-events';
import { Dispatcher } from './dispatcher';
import { ExpiryScanner } from './expiry-scanner';
import { notifierMetrics } from './metrics';
import { OneSignalClient } from './onesignal-client';

export interface NotifierDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  topology: Topology;
  pool: Pool;
  logger: Logger;
  registry: Registry;
  tracer?: Tracer;
  instanceId: string;
  onesignal: { baseUrl: string; appId: string; apiKey: string; timeoutMs: number };
  links: LinkSettings;
  reminderDelaysMs: readonly number[];
  quietHours: QuietHours;
  defaultTimeZone: string;
  expiryWarningDays: number;
  expiryScanMs: number;
  maxAttempts: number;
  backoff: BackoffPolicy;
  pollMs: number;
  claimLeaseMs: number;
  /** Auth events handled at once. */
  concurrency: number;
  /** Pushes the dispatcher handles at once. */
  sendConcurrency: number;
  messagesDir?: string;
  clock?: () => Date;
  onSettled?: (e: SettledEvent) => void;
}

export interface Notifier {
  dispatcher: Dispatcher;
  scanner: ExpiryScanner;
  start(): Promise<void>;
  stop(deadlineMs?: number): Promise<void>;
}

export function createNotifier(d: NotifierDeps): Notifier {
  const clock = d.clock ?? (() => new Date());
  const tracer = d.tracer ?? trace.getTracer('notifier');
  const metrics = notifierMetrics(d.registry);
  const catalogue = loadCatalogue(d.messagesDir ?? MESSAGES_DIR);
  const client = new OneSignalClient({ ...d.onesignal, now: clock });
  const dispatcher = new Dispatcher({
    pool: d.pool,
    client,
    catalogue,
    logger: d.logger.child({ part: 'dispatcher' }),
    metrics,
    tracer,
    clock,
    instanceId: d.instanceId,
    quietHours: d.quietHours,
    defaultTimeZone: d.defaultTimeZone,
    maxAttempts: d.maxAttempts,
    backoff: d.backoff,
    pollMs: d.pollMs,
    claimLeaseMs: d.claimLeaseMs,
    sendConcurrency: d.sendConcurrency,
  });
  const scanner = new ExpiryScanner({
    pool: d.pool,
    logger: d.logger.child({ part: 'expiry' }),
    clock,
    links: d.links,
    warnDays: d.expiryWarningDays,
    intervalMs: d.expiryScanMs,
    onWork: () => dispatcher.wake(),
  });
  const runner = new ConsumerRunner({
    nc: d.nc,
    js: d.js,
    topology: d.topology,
    consumer: d.topology.notifier,
    codec: authEventCodec,
    handler: authEventHandler({
      pool: d.pool,
      logger: d.logger,
      metrics,
      clock,
      links: d.links,
      reminderDelaysMs: d.reminderDelaysMs,
      onWork: () => dispatcher.wake(),
    }),
    logger: d.logger,
    registry: d.registry,
    tracer,
    concurrency: d.concurrency,
    ...(d.onSettled ? { onSettled: d.onSettled } : {}),
  });
  return {
    dispatcher,
    scanner,
    async start() {
      await runner.start();
      dispatcher.start();
      scanner.start();
    },
    async stop(deadlineMs = 10_000) {
      await runner.stop(deadlineMs);
      await scanner.stop();
      await dispatcher.stop();
    },
  };
}
