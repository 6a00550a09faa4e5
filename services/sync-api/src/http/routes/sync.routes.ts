import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { SyncApi } from '../../app/sync-api';
import { accountParams, cancelResponse, errorBody, idempotencyHeaders, queuedCommandJson, syncBody } from '../schemas';
import { callerOf } from '../server';

/** Triggers: "Sync now" and cancel. */
export const syncRoutes: FastifyPluginAsyncZod<{ api: SyncApi }> = async (app, { api }) => {
  app.post(
    '/accounts/:id/sync',
    {
      schema: {
        summary: 'Sync now: queues a manual sync on the priority lane (202 with the queued command)',
        description:
          'Coalesces with an equal or wider manual sync already queued. Rate-limited per account (429 with Retry-After and nextAllowedAt). ' +
          'An Idempotency-Key makes a repeated request get the first answer (Idempotent-Replayed: true).',
        tags: ['sync'],
        params: accountParams,
        headers: idempotencyHeaders,
        body: syncBody,
        response: {
          202: queuedCommandJson,
          400: errorBody,
          401: errorBody,
          404: errorBody,
          409: errorBody,
          422: errorBody,
          429: errorBody,
        },
      },
    },
    async (req, reply) => {
      const r = await api.triggerSync(callerOf(req), {
        accountId: req.params.id,
        mode: req.body.mode,
        realtime: req.body.realtime,
        idempotencyKey: req.headers['idempotency-key'],
      });
      if (r.replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(202).send(r.command);
    },
  );

  app.post(
    '/accounts/:id/sync/cancel',
    {
      schema: {
        summary: "Cancels the account's queued manual syncs and asks a running one to stop at its next page",
        tags: ['sync'],
        params: accountParams,
        response: { 202: cancelResponse, 400: errorBody, 401: errorBody, 404: errorBody },
      },
    },
    async (req, reply) => reply.code(202).send(await api.cancelSync(callerOf(req), req.params.id)),
  );
};
