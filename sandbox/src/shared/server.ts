/**
 * The fastify plumbing every simulator shares: raw body capture, the request log, fault injection,
 * the provider's 404 policy and the common part of the /__sandbox control API.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import { SimClock } from './clock';
import { FaultEngine, type FaultRule, validateFault, FaultValidationError, wrongTypes } from './faults';
import { Outbox } from './outbox';
import { RequestLog, type AuthSeen, type RequestLogEntry } from './request-log';

export const CONTROL_PREFIX = '/__sandbox';

export interface FaultResponse {
  body: unknown;
  headers?: Record<string, string>;
}

/** What a provider plugs into the shared server. */
export interface ProviderAdapter {
  name: string;
  /** Header names whose presence counts as "auth present" in the request log. */
  authHeaders: string[];
  /** Account to attribute a request to (faults and log). Runs after the body is read. */
  accountOf(req: FastifyRequest): string | undefined;
  /**
   * For the log only: the account of a request `accountOf` could not name and the route never
   * reached (a fault answered first), e.g. the client id in an Airtel token request's body. Never
   * used for fault decisions, so seeded fault sequences do not change.
   */
  logAccountOf?(req: FastifyRequest): string | undefined;
  /** Body/headers for a status injected by a fault rule. */
  faultResponse(status: number, retryAfter: number | undefined): FaultResponse;
  /** The provider's answer for an undocumented route. */
  notFound(req: FastifyRequest): { status: number; body: unknown; headers?: Record<string, string> };
  /** Body text for a `malformed` fault. */
  malformedBody(): string;
}

/** The provider-specific half of the control API. */
export interface SimulatorControl {
  reset(options: Record<string, unknown>): void;
  config(): unknown;
  accounts(offset: number, limit: number): { total: number; accounts: unknown[] };
  truth(offset: number, limit: number): unknown;
  truthFor(account: string): unknown | undefined;
  /** undefined = unknown account (404). */
  revoke(account: string, options: Record<string, unknown>): unknown | undefined;
  repair(account: string): unknown | undefined;
  /** Expire issued tokens (all, or one account's); return how many. Optional per provider. */
  expireTokens?(account: string | undefined): number;
}

interface RequestState {
  route: string;
  account: string | undefined;
  n: number;
  faults: string[];
  auth: AuthSeen;
  time: string;
  logged: boolean;
  after: FaultRule[];
  /** Simulator time the exchange ended (response sent or connection closed), once it has. */
  end?: string;
  entry?: RequestLogEntry;
}

/** A Retry-After header value (delta-seconds or an HTTP date) in ms from `nowMs`; null if absent or unreadable. */
export function retryAfterMsOf(value: unknown, nowMs: number): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : null;
  if (typeof v !== 'string' || v.trim() === '') return null;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

const states = new WeakMap<FastifyRequest, RequestState>();

/** Mark how the request authenticated (for the log); routes call this after checking credentials. */
export function markAuth(req: FastifyRequest, auth: AuthSeen): void {
  const s = states.get(req);
  if (s) s.auth = auth;
}

/** Attribute the request to an account once the route has resolved it (e.g. from a token). */
export function markAccount(req: FastifyRequest, account: string | undefined): void {
  const s = states.get(req);
  if (s && account !== undefined) s.account = account;
}

export type JsonResult = { ok: true; value: unknown } | { ok: false; empty: boolean };

/** Parse the raw request body as JSON. */
export function readJson(req: FastifyRequest): JsonResult {
  const raw = req.body;
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return { ok: false, empty: true };
  if (typeof raw !== 'string') return { ok: true, value: raw };
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch {
    return { ok: false, empty: false };
  }
}

export function rawBody(req: FastifyRequest): string {
  return typeof req.body === 'string' ? req.body : '';
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export interface SimulatorCore {
  seed: number;
  clock: SimClock;
  faults: FaultEngine;
  log: RequestLog;
  outbox: Outbox;
}

export function createCore(seed: number, clock: SimClock, requestLogCapacity?: number): SimulatorCore {
  // With a manual clock, retry delays are simulator time: advancing the clock fires due retries.
  const retries = clock.mode === 'manual' ? (delayMs: number, run: () => void) => clock.schedule(clock.now() + delayMs, run) : undefined;
  return {
    seed,
    clock,
    faults: new FaultEngine(seed),
    log: new RequestLog(requestLogCapacity),
    outbox: new Outbox(() => clock.iso(), 5_000, retries),
  };
}

export function buildServer(core: SimulatorCore, adapter: ProviderAdapter, control: SimulatorControl): FastifyInstance {
  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 5 * 1024 * 1024 });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  const destroy = (req: FastifyRequest) => {
    const sock: Socket | null = req.raw.socket;
    sock?.destroy();
  };

  const log = (req: FastifyRequest, status: number, reply?: FastifyReply) => {
    const s = states.get(req);
    if (!s || s.logged) return;
    s.logged = true;
    const fence = req.headers['x-request-fence'];
    s.entry = core.log.add({
      time: s.time,
      end: s.end ?? null,
      retryAfterMs: reply ? retryAfterMsOf(reply.getHeader('retry-after'), core.clock.now()) : null,
      method: req.method,
      route: s.route,
      path: req.url.split('?')[0] as string,
      account: s.account ?? adapter.logAccountOf?.(req) ?? null,
      status,
      auth: s.auth,
      fence: typeof fence === 'string' ? fence : Array.isArray(fence) ? fence.join(',') : null,
      n: s.n,
      faults: s.faults,
    });
  };

  app.addHook('onRequest', async (req, reply) => {
    if (req.url.startsWith(CONTROL_PREFIX)) return;
    core.clock.runDue();
    const hasAuth = adapter.authHeaders.some((h) => req.headers[h] !== undefined);
    // 'close' fires once the response is sent or the connection is gone (reset, abandoned hang).
    reply.raw.once('close', () => {
      const s = states.get(req);
      if (!s) return;
      s.end = core.clock.iso();
      if (s.entry) s.entry.end = s.end;
    });
    states.set(req, {
      route: req.routeOptions.url ?? '(unmatched)',
      account: undefined,
      n: 0,
      faults: [],
      auth: hasAuth ? 'invalid' : 'absent',
      time: core.clock.iso(),
      logged: false,
      after: [],
    });
  });

  app.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
    const s = states.get(req);
    if (!s || req.routeOptions.url === undefined) return;
    s.account = adapter.accountOf(req);
    const decision = core.faults.decide(req.method, req.routeOptions.url, s.account);
    s.n = decision.n;
    s.faults = decision.fired.map((f) => f.id);
    let latency = 0;
    for (const f of decision.fired) if (f.kind === 'latency') latency += f.latencyMs ?? 0;
    if (latency > 0) await sleep(latency);
    for (const f of decision.fired) {
      const phase = f.phase ?? 'before';
      if (f.kind === 'status') {
        const fr = adapter.faultResponse(f.status as number, f.retryAfter);
        const headers = { ...(fr.headers ?? {}) };
        if (f.retryAfter !== undefined) headers['retry-after'] = String(f.retryAfter);
        return reply
          .code(f.status as number)
          .headers(headers)
          .send(f.body !== undefined ? f.body : fr.body);
      }
      if (f.kind === 'malformed') {
        return reply.code(200).type('application/json; charset=utf-8').send(adapter.malformedBody());
      }
      if ((f.kind === 'reset' || f.kind === 'hang') && phase === 'before') {
        log(req, 0);
        reply.hijack();
        if (f.kind === 'reset') destroy(req);
        else setTimeout(() => destroy(req), f.hangMs ?? 120_000).unref();
        return reply;
      }
      if (f.kind === 'truncated' || f.kind === 'wrong-types' || f.kind === 'reset' || f.kind === 'hang') s.after.push(f);
    }
    return undefined;
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const s = states.get(req);
    if (!s || s.after.length === 0) return payload;
    let out = payload;
    for (const f of s.after) {
      if (f.kind === 'wrong-types' && typeof out === 'string') {
        try {
          out = JSON.stringify(wrongTypes(JSON.parse(out)));
        } catch {
          /* not JSON: leave it */
        }
      }
    }
    for (const f of s.after) {
      if (f.kind === 'truncated' && typeof out === 'string') {
        const full = Buffer.from(out);
        reply.header('content-length', String(full.length));
        const cut = full.subarray(0, Math.max(1, Math.floor(full.length / 2)));
        reply.raw.once('finish', () => destroy(req));
        log(req, reply.statusCode, reply);
        return cut;
      }
      if (f.kind === 'reset') {
        log(req, 0);
        destroy(req);
        return out;
      }
      if (f.kind === 'hang') {
        log(req, 0);
        await sleep(f.hangMs ?? 120_000);
        destroy(req);
        return out;
      }
    }
    return out;
  });

  app.addHook('onResponse', async (req, reply) => {
    log(req, reply.statusCode, reply);
  });

  app.setNotFoundHandler((req, reply) => {
    const nf = adapter.notFound(req);
    void reply
      .code(nf.status)
      .headers(nf.headers ?? {})
      .send(nf.body);
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    const status = typeof (err as { statusCode?: unknown }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : 500;
    if (req.url.startsWith(CONTROL_PREFIX)) {
      void reply.code(status).send({ error: err instanceof Error ? err.message : String(err) });
      return;
    }
    const fr = adapter.faultResponse(status, undefined);
    void reply
      .code(status)
      .headers(fr.headers ?? {})
      .send(fr.body);
  });

  registerCommonControl(app, core, control);
  return app;
}

function intQuery(v: unknown, dflt: number): number {
  const n = typeof v === 'string' ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 0 ? n : dflt;
}

function objectBody(req: FastifyRequest): Record<string, unknown> {
  const j = readJson(req);
  return j.ok && isObject(j.value) ? j.value : {};
}

export { objectBody as controlBody, intQuery };

function registerCommonControl(app: FastifyInstance, core: SimulatorCore, control: SimulatorControl): void {
  const P = CONTROL_PREFIX;
  app.get(P, async () => ({ ...(control.config() as object), control: `${P}/*, see sandbox/README.md` }));
  app.get(`${P}/config`, async () => control.config());
  app.post(`${P}/reset`, async (req) => {
    control.reset(objectBody(req));
    return control.config();
  });
  app.get(`${P}/accounts`, async (req) => {
    const q = req.query as Record<string, unknown>;
    return control.accounts(intQuery(q.offset, 0), intQuery(q.limit, 100));
  });

  app.get(`${P}/faults`, async () => ({ faults: core.faults.list() }));
  app.post(`${P}/faults`, async (req, reply) => {
    const body = readJson(req);
    const items = body.ok
      ? Array.isArray(body.value)
        ? body.value
        : isObject(body.value) && Array.isArray(body.value.faults)
          ? body.value.faults
          : [body.value]
      : [];
    try {
      const valid = items.map((f) => validateFault(f));
      if (valid.length === 0) throw new FaultValidationError('no fault given');
      return { faults: valid.map((f) => core.faults.add(f)) };
    } catch (e) {
      if (e instanceof FaultValidationError) return reply.code(400).send({ error: e.message });
      throw e;
    }
  });
  app.delete(`${P}/faults`, async () => {
    core.faults.clear();
    return { faults: [] };
  });
  app.delete(`${P}/faults/:id`, async (req, reply) => {
    const { id } = req.params as { id: string };
    return core.faults.remove(id) ? { removed: id } : reply.code(404).send({ error: `no fault ${id}` });
  });

  app.get(`${P}/clock`, async () => ({
    now: core.clock.iso(),
    epoch: new Date(core.clock.epochMs).toISOString(),
    mode: core.clock.mode,
    scheduled: core.clock.pending(),
  }));
  app.post(`${P}/clock/advance`, async (req, reply) => {
    const b = objectBody(req);
    const ms =
      (Number(b.ms ?? 0) || 0) +
      (Number(b.seconds ?? 0) || 0) * 1000 +
      (Number(b.minutes ?? 0) || 0) * 60_000 +
      (Number(b.hours ?? 0) || 0) * 3_600_000 +
      (Number(b.days ?? 0) || 0) * 86_400_000;
    if (!(ms > 0)) return reply.code(400).send({ error: 'give ms, seconds, minutes, hours or days > 0' });
    core.clock.advance(ms);
    return { now: core.clock.iso(), advancedMs: ms };
  });

  app.post(`${P}/accounts/:id/revoke`, async (req, reply) => {
    const { id } = req.params as { id: string };
    const r = control.revoke(id, objectBody(req));
    return r === undefined ? reply.code(404).send({ error: `unknown account ${id}` }) : r;
  });
  app.post(`${P}/accounts/:id/repair`, async (req, reply) => {
    const { id } = req.params as { id: string };
    const r = control.repair(id);
    return r === undefined ? reply.code(404).send({ error: `unknown account ${id}` }) : r;
  });
  if (control.expireTokens) {
    const expire = control.expireTokens.bind(control);
    app.post(`${P}/tokens/expire`, async (req) => {
      const b = objectBody(req);
      return { expired: expire(typeof b.account === 'string' ? b.account : undefined) };
    });
  }

  app.get(`${P}/truth`, async (req) => {
    const q = req.query as Record<string, unknown>;
    return control.truth(intQuery(q.offset, 0), intQuery(q.limit, 100));
  });
  app.get(`${P}/truth/:account`, async (req, reply) => {
    const { account } = req.params as { account: string };
    const t = control.truthFor(account);
    return t === undefined ? reply.code(404).send({ error: `unknown account ${account}` }) : t;
  });

  app.get(`${P}/requests`, async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const entries = core.log.list({
      since: q.since !== undefined ? Number(q.since) : undefined,
      route: q.route,
      account: q.account,
      method: q.method,
      limit: q.limit !== undefined ? Number(q.limit) : undefined,
    });
    // lastSeq / dropped let a reader page through everything (since = the last seq it saw) and know
    // whether the log overflowed (entries it can never read).
    return { count: entries.length, lastSeq: core.log.lastSeq, dropped: core.log.dropped, requests: entries };
  });
  app.delete(`${P}/requests`, async () => {
    core.log.clear();
    return { cleared: true };
  });

  app.get(`${P}/outbox`, async (req) => {
    const q = req.query as Record<string, string | undefined>;
    await core.outbox.idle(5, Number(q.waitMs ?? 0));
    return { deliveries: core.outbox.list(q.kind) };
  });
}

export interface RunningSimulator<S> {
  url: string;
  port: number;
  app: FastifyInstance;
  core: SimulatorCore;
  state: S;
  close(): Promise<void>;
}

/** Listen, start the clock ticker, and wrap close() so timers and outbound deliveries stop too. */
export async function listen<S>(
  app: FastifyInstance,
  core: SimulatorCore,
  state: S,
  port: number,
  host = '127.0.0.1',
): Promise<RunningSimulator<S>> {
  await app.listen({ port, host });
  core.clock.startTicker();
  const addr = app.server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}`,
    port: actual,
    app,
    core,
    state,
    async close() {
      core.clock.stopTicker();
      core.outbox.close();
      await app.close();
    },
  };
}

/** Common part of a control-API reset: new seed/epoch, cleared faults, log and outbox. */
export function resetCore(
  core: SimulatorCore,
  input: Record<string, unknown>,
  normalise: (s: number | string) => number,
  parseEpoch: (e: number | string) => number,
): void {
  if (input.seed !== undefined) core.seed = normalise(input.seed as number | string);
  core.clock.reset(input.epoch !== undefined ? parseEpoch(input.epoch as number | string) : core.clock.epochMs);
  core.faults.reset(core.seed);
  core.log.clear();
  core.outbox.clear();
}
