import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PROVIDERS } from '@intellifin/domain';
import type { StatusEvent, StatusFeed } from '../../app/status-feed';
import { errorBody } from '../schemas';
import { callerOf } from '../server';

/**
 * `GET /v1/events`: Server-Sent Events of the caller's status changes, fed from SYNC_EVENTS by the
 * status feed. Each event carries `id:` (the stream sequence; send it back as `Last-Event-ID` to
 * resume), `event:` (queued, run_started, run_finished, reauth_required, repaired) and `data:` (JSON). A comment line
 * every `heartbeatMs` keeps proxies from closing an idle stream. The stream is written to the
 * socket directly (never compressed or buffered). It ends with `event: end` and a reason
 * (`slow_consumer`, `shutdown`); `event: reset` first means the resume point is too old: re-read
 * the state, then follow.
 */
export const eventsQuery = z
  .object({
    accountId: z.uuid().optional().meta({ description: 'Only this account' }),
    provider: z.enum(PROVIDERS).optional().meta({ description: 'Only this provider' }),
  })
  .strict();

const eventsHeaders = z.looseObject({
  'last-event-id': z
    .string()
    .regex(/^\d{1,15}$/, 'an event id this stream sent')
    .optional(),
});

export function eventJson(e: StatusEvent) {
  return {
    id: String(e.seq),
    kind: e.kind,
    accountId: e.accountId,
    provider: e.provider,
    runId: e.runId,
    commandId: e.commandId,
    outcome: e.outcome,
    counts: e.counts,
    errorCode: e.errorCode,
    statusAfter: e.statusAfter,
    occurredAt: e.occurredAt,
  };
}

export const eventsRoutes: FastifyPluginAsyncZod<{ feed: StatusFeed; heartbeatMs: number }> = async (app, { feed, heartbeatMs }) => {
  app.get(
    '/events',
    {
      schema: {
        summary: "Server-Sent Events of the caller's sync status changes (text/event-stream)",
        description:
          'Events queued, run_started, run_finished, reauth_required and repaired, each with an id (resume with Last-Event-ID); heartbeat comments; ' +
          'event end with a reason when the server ends the stream.',
        tags: ['events'],
        querystring: eventsQuery,
        headers: eventsHeaders,
        response: { 400: errorBody, 401: errorBody },
      },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      // HEAD (fastify serves it for every GET): the stream's headers, then the end; no subscription.
      const headers = {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      };
      if (req.method === 'HEAD') {
        reply.hijack();
        reply.raw.writeHead(200, headers).end();
        return;
      }
      const lastId = req.headers['last-event-id'];
      const sub = feed.subscribe(caller, {
        ...(req.query.accountId ? { accountIds: [req.query.accountId] } : {}),
        ...(req.query.provider ? { providers: [req.query.provider] } : {}),
        ...(lastId !== undefined ? { afterSeq: Number(lastId) } : {}),
      });
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, headers);
      let open = true;
      req.raw.on('close', () => {
        open = false;
        sub.close();
      });
      const write = async (chunk: string) => {
        if (open && !res.write(chunk))
          await Promise.race([new Promise<void>((resolve) => (res.once('drain', resolve), res.once('close', resolve))), sub.whenEnded]);
      };
      const heartbeat = setInterval(() => void write(': heartbeat\n\n'), heartbeatMs);
      try {
        await write(`retry: 3000\n: connected\n\n`);
        if (sub.reset) await write('event: reset\ndata: {}\n\n');
        for await (const e of sub) await write(`id: ${e.seq}\nevent: ${e.kind}\ndata: ${JSON.stringify(eventJson(e))}\n\n`);
        // Not waiting for the socket: a slow client gets this after what it has not read yet.
        if (open && sub.endReason && sub.endReason !== 'closed')
          res.write(`event: end\ndata: ${JSON.stringify({ reason: sub.endReason })}\n\n`);
      } catch (err) {
        req.log.warn({ err }, 'SSE stream failed');
      } finally {
        clearInterval(heartbeat);
        sub.close();
        res.end();
      }
    },
  );
};
