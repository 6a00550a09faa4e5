/**
 * Composition root of the notifier, on the service kit (config, logging, tracing, metrics + health
 * on 9105, Postgres and NATS with bounded waits, ordered shutdown): its own parts are its durable
 * consumer on SYNC_EVENTS, the OneSignal dispatcher and the expiry scanner.
 */
import { jetstream } from '@nats-io/jetstream';
import { ensureConsumer } from '@intellifin/messaging';
import { runService, type ServiceDefinition } from '@intellifin/service-kit';
import { createNotifier } from './app/notifier';
import { loadNotifierConfig, postgresPoolSize, type NotifierConfig } from './config';

export const notifierService: ServiceDefinition<NotifierConfig> = {
  name: 'notifier',
  loadConfig: loadNotifierConfig,
  connections: { postgres: { max: postgresPoolSize }, nats: true },
  async start(kit) {
    const { config, logger, registry, tracing } = kit;
    // Streams only (no worker consumers), then our own durable consumer.
    const { jsm, topology } = await kit.ensureTopology({ workers: [], priorityLane: false, deadLetterWatcher: false });
    await ensureConsumer(jsm, topology.notifier);
    const notifier = createNotifier({
      nc: kit.nc,
      js: jetstream(kit.nc),
      topology,
      pool: kit.pool,
      logger,
      registry,
      tracer: tracing.tracer,
      instanceId: config.instanceId,
      onesignal: {
        baseUrl: config.ONESIGNAL_BASE_URL,
        appId: config.ONESIGNAL_APP_ID,
        apiKey: config.ONESIGNAL_API_KEY,
        timeoutMs: config.ONESIGNAL_TIMEOUT_MS,
      },
      links: { deepLinkScheme: config.NOTIFIER_DEEP_LINK_SCHEME, webBaseUrl: config.NOTIFIER_WEB_BASE_URL },
      reminderDelaysMs: config.reminderHours.map((h) => h * 3_600_000),
      quietHours: config.quietHours,
      defaultTimeZone: config.NOTIFIER_DEFAULT_TIMEZONE,
      expiryWarningDays: config.NOTIFIER_EXPIRY_WARNING_DAYS,
      expiryScanMs: config.NOTIFIER_EXPIRY_SCAN_MS,
      maxAttempts: config.NOTIFIER_MAX_ATTEMPTS,
      backoff: { baseMs: config.NOTIFIER_RETRY_BASE_MS, capMs: config.NOTIFIER_RETRY_CAP_MS },
      pollMs: config.NOTIFIER_POLL_MS,
      claimLeaseMs: config.NOTIFIER_CLAIM_LEASE_MS,
      concurrency: config.NOTIFIER_CONCURRENCY,
      sendConcurrency: config.NOTIFIER_SEND_CONCURRENCY,
    });
    await notifier.start();
    logger.info({ instance: config.instanceId }, 'notifier consuming auth events');
    return { stopName: 'stop consuming and dispatching', stop: () => notifier.stop(10_000), stopTimeoutMs: 20_000 };
  },
};

if (require.main === module) runService(notifierService);
