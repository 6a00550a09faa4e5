import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { OperatorApi } from '../../app/operator';
import { errorBody } from '../schemas';
import {
  deadLetterActionResponse,
  deadLetterParams,
  deadLettersQuery,
  deadLettersResponse,
  orgSyncBody,
  orgSyncResponse,
  queueStatsResponse,
} from '../operator.schemas';
import { callerOf } from '../server';

/** Operator and admin routes: queue numbers, dead letters (list, replay, discard), org-wide sync. */
export const operatorRoutes: FastifyPluginAsyncZod<{ ops: OperatorApi }> = async (app, { ops }) => {
  const errors = { 400: errorBody, 401: errorBody, 403: errorBody };

  app.get(
    '/queue/stats',
    {
      schema: {
        summary: 'Per provider lane: pending, in flight, redelivered and DLQ size (operator, admin; system-wide numbers)',
        tags: ['operations'],
        response: { 200: queueStatsResponse, ...errors },
      },
    },
    async (req) => ({ scope: 'system' as const, lanes: await ops.queueStats(callerOf(req)) }),
  );

  app.get(
    '/dead-letters',
    {
      schema: {
        summary: "The organisation's dead-lettered sync commands, oldest first (operator, admin)",
        description: 'Cursor pagination; a page may hold fewer than `limit` and still carry a nextCursor (bounded scan per request).',
        tags: ['operations'],
        querystring: deadLettersQuery,
        response: { 200: deadLettersResponse, ...errors },
      },
    },
    async (req) =>
      ops.listDeadLetters(callerOf(req), {
        provider: req.query.provider,
        limit: req.query.limit,
        cursor: req.query.cursor === undefined ? undefined : Number(req.query.cursor),
      }),
  );

  const action = (verb: 'replay' | 'discard', summary: string) =>
    app.post(
      `/dead-letters/:id/${verb}`,
      {
        schema: {
          summary,
          tags: ['operations'],
          params: deadLetterParams,
          response: { 200: deadLetterActionResponse, ...errors, 404: errorBody, 409: errorBody },
        },
      },
      async (req) => {
        const caller = callerOf(req);
        const id = Number(req.params.id);
        return verb === 'replay' ? ops.replayDeadLetter(caller, id) : ops.discardDeadLetter(caller, id);
      },
    );
  action('replay', 'Re-publishes the command to its subject through the outbox, then removes it from the DLQ (audited; idempotent)');
  action('discard', 'Removes the dead letter from the DLQ (audited; idempotent)');

  app.post(
    '/sync',
    {
      schema: {
        summary: "Org-wide sync (admin): every schedulable account of the organisation, or one provider's, on the bulk lane",
        description:
          'Coalesces with requests already queued. One per organisation and scope per ORG_SYNC_INTERVAL_MS: 429 with Retry-After.',
        tags: ['sync'],
        body: orgSyncBody,
        response: { 202: orgSyncResponse, ...errors, 429: errorBody },
      },
    },
    async (req, reply) => reply.code(202).send(await ops.orgSync(callerOf(req), { provider: req.body.provider, mode: req.body.mode })),
  );
};
