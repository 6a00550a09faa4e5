import { InternalApi } from './app/internal';
import { ProviderIngress } from './app/provider-ingress';
import { WebhookProcessor } from './app/webhook-processor';
import type { SyncApiDeps } from './compose';
import type { IngressRouteOptions } from './http/routes/ingress.routes';

export interface IngressParts {
  ingress: ProviderIngress;
  internal: InternalApi;
  processor: WebhookProcessor;
  routes: IngressRouteOptions;
}

/**
 * Builds the provider ingress, the internal use cases and the webhook processor (not started) over
 * sync-api's connections. `kickRelay` makes the outbox relay publish what was just committed.
 */
export function composeIngress(d: SyncApiDeps, kickRelay: () => void): IngressParts {
  const c = d.config;
  const tracing = d.tracer ? { tracer: d.tracer } : {};
  const commandSubject = (provider: Parameters<typeof d.topology.commandSubjectFor>[0]['provider'], accountId: string, trigger: string) =>
    d.topology.commandSubjectFor({ provider, accountId, trigger });
  const statusEventSubject = (provider: Parameters<typeof d.topology.eventSubject>[1], accountId: string) =>
    d.topology.eventSubject('status', provider, accountId);
  const processor = new WebhookProcessor({
    pool: d.pool,
    logger: d.logger,
    registry: d.registry,
    ...tracing,
    commandSubject,
    statusEventSubject,
    authEventSubject: (provider, accountId) => d.topology.eventSubject('auth', provider, accountId),
    onQueued: kickRelay,
    queuedTtlMs: c.QUEUED_TTL_MS,
    pollMs: c.WEBHOOK_POLL_MS,
    maxAttempts: c.WEBHOOK_MAX_ATTEMPTS,
    retryBaseMs: c.WEBHOOK_RETRY_BASE_MS,
    retryMaxMs: c.WEBHOOK_RETRY_MAX_MS,
    unknownAccountTtlMs: c.WEBHOOK_UNKNOWN_ACCOUNT_TTL_MS,
  });
  const ingress = new ProviderIngress({
    pool: d.pool,
    callbackSubject: (provider) => d.topology.walletIntakeSubject(provider, 'cb'),
    onWebhookStored: () => processor.kick(),
    onCallbackQueued: kickRelay,
    rearmAfterMs: c.WEBHOOK_REARM_AFTER_MS,
    registry: d.registry,
    ...tracing,
  });
  const internal = new InternalApi({
    pool: d.pool,
    commandSubject,
    statusEventSubject,
    registrationSubject: (provider, accountId) => d.topology.walletIntakeSubject(provider, 'ref', accountId),
    onQueued: kickRelay,
    queuedTtlMs: c.QUEUED_TTL_MS,
    maxAccounts: c.BACKGROUND_MAX_ACCOUNTS,
    registry: d.registry,
    ...tracing,
  });
  return {
    ingress,
    internal,
    processor,
    routes: {
      ingress,
      internal,
      secrets: {
        monoWebhookSecret: c.MONO_WEBHOOK_SECRET,
        momoCallbackToken: c.MOMO_CALLBACK_TOKEN,
        airtelCallbackToken: c.AIRTEL_CALLBACK_TOKEN,
        serviceToken: c.SERVICE_TOKEN,
      },
    },
  };
}
