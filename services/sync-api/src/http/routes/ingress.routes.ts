import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import type { InternalApi } from '../../app/internal';
import { secretMatches, type ProviderIngress } from '../../app/provider-ingress';
import { UnauthorizedError } from '../auth';
import {
  airtelCallbackBody,
  airtelCallbackQuery,
  backgroundSyncAnswer,
  backgroundSyncBody,
  ingressAnswer,
  momoCallbackBody,
  momoCallbackQuery,
  monoWebhookBody,
  monoWebhookHeaders,
  referenceAnswer,
  referenceBody,
  serviceHeaders,
} from '../ingress.schemas';
import { errorBody } from '../schemas';

export interface IngressSecrets {
  /** Mono's `mono-webhook-secret` (MONO_WEBHOOK_SECRET). Unset: every webhook is refused. */
  monoWebhookSecret?: string | undefined;
  /** The `token` query parameter of the callback URLs we give MoMo / Airtel. Unset: refused. */
  momoCallbackToken?: string | undefined;
  airtelCallbackToken?: string | undefined;
  /** Bearer token of internal callers (SERVICE_TOKEN). */
  serviceToken: string;
}

export interface IngressRouteOptions {
  ingress: ProviderIngress;
  internal: InternalApi;
  secrets: IngressSecrets;
}

const query = (req: FastifyRequest): Record<string, unknown> => (req.query ?? {}) as Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Provider ingress (`/webhooks/mono`, `/callbacks/momo`, `/callbacks/airtel`) and the internal routes
 * (`/internal/v1/…`). Each checks its credential in `onRequest`, before the body is read or
 * validated: a bad secret is a 401 and nothing is stored.
 */
export const ingressRoutes: FastifyPluginAsyncZod<IngressRouteOptions> = async (app, { ingress, internal, secrets }) => {
  app.addHook('onResponse', async (req, reply) => {
    if (!req.url.startsWith('/webhooks/') && !req.url.startsWith('/callbacks/')) return;
    const provider = req.url.startsWith('/webhooks/mono') ? 'mono' : req.url.startsWith('/callbacks/momo') ? 'momo' : 'airtel';
    if (reply.statusCode === 401) ingress.refused(provider, 'unauthorized');
    else if (reply.statusCode >= 400 && reply.statusCode < 500) ingress.refused(provider, 'invalid');
  });

  app.post(
    '/webhooks/mono',
    {
      onRequest: async (req) => {
        if (!secretMatches(str(req.headers['mono-webhook-secret']), secrets.monoWebhookSecret))
          throw new UnauthorizedError('mono-webhook-secret missing or wrong');
      },
      schema: {
        summary: 'Mono webhooks: verified (mono-webhook-secret), stored once per event, answered at once, processed asynchronously',
        tags: ['ingress'],
        security: [],
        headers: monoWebhookHeaders,
        body: monoWebhookBody,
        response: { 200: ingressAnswer, 400: errorBody, 401: errorBody },
      },
    },
    async (req) => {
      const r = await ingress.monoWebhook(req.body);
      return { received: true as const, duplicate: !r.stored };
    },
  );

  // MTN calls back with PUT (or POST) to the X-Callback-Url we gave it (providers.md §2.7).
  for (const method of ['POST', 'PUT'] as const)
    app.route({
      method,
      url: '/callbacks/momo',
      onRequest: async (req) => {
        if (!secretMatches(str(query(req).token), secrets.momoCallbackToken))
          throw new UnauthorizedError('callback token missing or wrong');
      },
      schema: {
        summary: 'MTN MoMo callbacks (PUT or POST): stored once, handed to momo-worker through the outbox',
        tags: ['ingress'],
        security: [],
        querystring: momoCallbackQuery,
        body: momoCallbackBody,
        response: { 200: ingressAnswer, 400: errorBody, 401: errorBody },
      },
      handler: async (req: FastifyRequest) => {
        const r = await ingress.walletCallback('momo', (req.query as { ref: string }).ref, req.body);
        return { received: true as const, duplicate: !r.stored };
      },
    });

  app.post(
    '/callbacks/airtel',
    {
      onRequest: async (req) => {
        if (!secretMatches(str(query(req).token), secrets.airtelCallbackToken))
          throw new UnauthorizedError('callback token missing or wrong');
      },
      schema: {
        summary: 'Airtel Money callbacks: stored once, handed to airtel-worker through the outbox',
        tags: ['ingress'],
        security: [],
        querystring: airtelCallbackQuery,
        body: airtelCallbackBody,
        response: { 200: ingressAnswer, 400: errorBody, 401: errorBody },
      },
    },
    async (req) => {
      const r = await ingress.walletCallback('airtel', req.body.transaction.id, req.body);
      return { received: true as const, duplicate: !r.stored };
    },
  );

  await app.register(
    async (plugin) => {
      const svc = plugin.withTypeProvider<ZodTypeProvider>();
      svc.addHook('onRequest', async (req) => {
        const m = /^Bearer (.+)$/.exec(str(req.headers.authorization) ?? '');
        if (!secretMatches(m?.[1], secrets.serviceToken)) throw new UnauthorizedError('service token missing or wrong');
      });
      svc.post(
        '/sync/background',
        {
          schema: {
            summary: 'Queues background syncs (bulk lane) for given accounts of an organisation, or all its schedulable accounts',
            tags: ['internal'],
            headers: serviceHeaders,
            body: backgroundSyncBody,
            response: { 202: backgroundSyncAnswer, 400: errorBody, 401: errorBody },
          },
        },
        async (req, reply) => {
          const b = req.body;
          const r = await internal.backgroundSync({
            orgId: b.orgId,
            accountIds: b.accountIds,
            provider: b.provider,
            requestedBy: `service:${b.requestedBy ?? 'internal'}`,
          });
          return reply.code(202).send(r);
        },
      );
      svc.post(
        '/references',
        {
          schema: {
            summary: 'Registers a MoMo or Airtel reference for an account (handed to the wallet worker’s reference intake)',
            tags: ['internal'],
            headers: serviceHeaders,
            body: referenceBody,
            response: { 202: referenceAnswer, 400: errorBody, 401: errorBody, 404: errorBody, 409: errorBody },
          },
        },
        async (req, reply) => {
          const { orgId, provider, ...registration } = req.body;
          const r = await internal.registerReference({ orgId, provider, registration });
          return reply.code(202).send({ ...r, accepted: true as const, provider });
        },
      );
    },
    { prefix: '/internal/v1' },
  );
};
