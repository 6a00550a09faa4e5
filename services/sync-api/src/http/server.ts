import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import compress from '@fastify/compress';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { histogram, maskSecrets, type Logger, type Registry } from '@intellifin/core';
import {
  ApiError,
  ConflictError,
  CredentialsRejectedError,
  ForbiddenError,
  IdempotencyMismatchError,
  InvalidInputError,
  NotFoundError,
  ProviderUnavailableError,
  RateLimitedError,
} from '../app/errors';
import type { Caller } from '../app/caller';
import type { OperatorApi } from '../app/operator';
import type { SyncApi } from '../app/sync-api';
import { UnauthorizedError, type JwtVerifier } from './auth';
import { accountRoutes } from './routes/accounts.routes';
import { dataRoutes, type DataServices } from './routes/data.routes';
import { ingressRoutes, type IngressRouteOptions } from './routes/ingress.routes';
import { operatorRoutes } from './routes/operator.routes';
import { linkingRoutes, type LinkingRouteDeps } from './routes/linking.routes';
import { syncRoutes } from './routes/sync.routes';
import { eventsRoutes } from './routes/events.routes';
import type { StatusFeed } from '../app/status-feed';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

export interface HttpServerOptions {
  api: SyncApi;
  /** Operator and admin routes (queue numbers, dead letters, org-wide sync). */
  ops?: OperatorApi;
  /** Linking, repair and unlink use cases. */
  linking: LinkingRouteDeps;
  verifier: JwtVerifier;
  logger: Logger;
  registry?: Registry;
  bodyLimitBytes: number;
  /** The live status feed behind `GET /v1/events` (SSE), with its heartbeat interval. */
  events?: { feed: StatusFeed; heartbeatMs: number };
  /** Delta feed, settings, summary, notifications. */
  data?: DataServices;
  /** Provider ingress and internal routes (outside /v1: their own credentials). */
  ingress?: IngressRouteOptions;
}

/**
 * The REST transport: fastify with zod route schemas (validated on every request, 400 with a
 * message per field), JWT bearer auth on /v1, gzip/br compression, ETag + 304 on reads, and the
 * OpenAPI 3.1 document generated from the same schemas (`/docs/openapi.json`, browsable at `/docs`).
 * Handlers only translate: the use cases live in the application layer (`SyncApi`).
 */
export async function buildHttpServer(o: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: o.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Per-request lines would repeat what the request metrics and spans hold.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: o.bodyLimitBytes,
    // Errors fastify raises before routing (a malformed percent-encoding in the URL): fastify's own
    // answer would echo the whole URL, query string (and any secret in it) included.
    frameworkErrors: (err, _req, reply) => {
      void (reply as unknown as FastifyReply)
        .code(400)
        .send({ error: 'bad_url', message: err.code === 'FST_ERR_BAD_URL' ? 'the URL is malformed' : 'bad request' });
    },
    clientErrorHandler: answerClientError,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('caller', null);
  app.setErrorHandler((err: FastifyError, req, reply) => sendError(err, reply, req.log));
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not_found', message: 'no such route' }));

  const duration = o.registry
    ? histogram(o.registry, 'intellifin_sync_api_http_request_duration_seconds', 'REST requests by method, route and status', [
        'method',
        'route',
        'status',
      ])
    : undefined;
  app.addHook('onResponse', async (req, reply) => {
    duration?.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  // ETag + 304 on successful reads; added before compression so the tag is over the identity body.
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.method !== 'GET' || reply.statusCode !== 200 || typeof payload !== 'string' || !req.url.startsWith('/v1/')) return payload;
    const tag = `W/"${createHash('sha1').update(payload).digest('base64url')}"`;
    reply.header('etag', tag);
    reply.header('cache-control', 'private, no-cache');
    const inm = req.headers['if-none-match'];
    if (inm && inm.split(',').some((t) => t.trim() === tag || t.trim() === '*')) {
      reply.code(304);
      return '';
    }
    return payload;
  });
  await app.register(compress, { global: true, encodings: ['br', 'gzip'], threshold: 1024 });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'intellifin-sync API',
        version: '1.0.0',
        description: 'Sync status, history and triggers of bank and wallet accounts',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/docs/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(
    async (v1) => {
      v1.addHook('onRequest', async (req) => {
        req.caller = await o.verifier.callerOf(req.headers.authorization);
      });
      await v1.register(accountRoutes, { api: o.api });
      await v1.register(syncRoutes, { api: o.api });
      if (o.events) await v1.register(eventsRoutes, o.events);
      if (o.data) await v1.register(dataRoutes, { data: o.data });
      if (o.ops) await v1.register(operatorRoutes, { ops: o.ops });
      await v1.register(linkingRoutes, o.linking);
    },
    { prefix: '/v1' },
  );
  if (o.ingress) await app.register(ingressRoutes, o.ingress);
  return app;
}

/** The caller the /v1 auth hook verified (a route outside /v1 has none). */
export function callerOf(req: { caller: Caller | null }): Caller {
  if (!req.caller) throw new UnauthorizedError('missing bearer token (Authorization: Bearer <jwt>)');
  return req.caller;
}

function sendError(err: FastifyError, reply: FastifyReply, log: FastifyBaseLogger): FastifyReply {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = err.validationContext ?? 'request';
    const issues = err.validation.map((v) => ({
      field: [where, ...v.instancePath.split('/').filter(Boolean)].join('.'),
      message: v.message ?? 'invalid',
    }));
    return reply.code(400).send({ error: 'validation', message: issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues });
  }
  if (err instanceof UnauthorizedError) {
    reply.header('www-authenticate', 'Bearer realm="intellifin-sync", error="invalid_token"');
    return reply.code(401).send({ error: err.code, message: err.message });
  }
  if (err instanceof ApiError) {
    if (err instanceof RateLimitedError) {
      reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
      return reply.code(429).send({ error: err.code, message: err.message, nextAllowedAt: err.nextAllowedAt.toISOString() });
    }
    if (err instanceof InvalidInputError)
      return reply.code(400).send({ error: err.code, message: err.message, issues: [{ field: err.field, message: err.message }] });
    const status =
      err instanceof NotFoundError
        ? 404
        : err instanceof ForbiddenError
          ? 403
          : err instanceof IdempotencyMismatchError
            ? 422
            : (err instanceof ConflictError && err.code === 'invalid_cursor') || err instanceof CredentialsRejectedError
              ? 400
              : err instanceof ProviderUnavailableError
                ? 503
                : 409;
    return reply.code(status).send({ error: err.code, message: err.message });
  }
  // fastify's own client errors (malformed JSON, body too large, unsupported media type, …)
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 400 && status < 500)
    return reply.code(status).send({ error: (err.code ?? 'bad_request').toLowerCase(), message: maskSecrets(err.message) });
  log.error({ err }, 'request failed');
  return reply.code(500).send({ error: 'internal', message: 'internal error' });
}

/**
 * A request node's parser refused (a request line or headers over the limit, bad framing): the
 * JSON error body, the connection closed, and no body at all for a HEAD request. Fastify's own
 * answer writes a body whatever the method, and a client that sent HEAD reads those bytes as the
 * start of the next response (the REST fuzz, seed 614635729: a 20 KB HEAD path).
 */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) return void socket.destroy();
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  // node hands the bytes it received as a Buffer (fastify's type says otherwise).
  const raw = (err as { rawPacket?: unknown }).rawPacket;
  const head = Buffer.isBuffer(raw) && raw.subarray(0, 5).toString('latin1') === 'HEAD ';
  const body = head
    ? ''
    : JSON.stringify({ error: status === 431 ? 'headers_too_large' : 'bad_request', message: 'the request could not be read' });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
