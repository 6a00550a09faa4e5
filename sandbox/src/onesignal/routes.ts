/**
 * OneSignal REST surface (providers.md §4): create notification on the current and legacy paths,
 * cancel and view. Partial failures are HTTP 200 with `errors`; nobody reachable is `id: ""`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UUID_ANY_RE } from '../shared/prng';
import { isObject, markAccount, markAuth, readJson, type SimulatorCore } from '../shared/server';
import type { NotificationRecord, OneSignalState } from './state';

export const APP_ID_NOT_FOUND = { errors: ['app_id not found. You may be missing a Content-Type: application/json header.'] };
export const ACCESS_DENIED = {
  errors: [
    "Access denied.  Please include an 'Authorization: ...' header with a valid API key (https://documentation.onesignal.com/docs/accounts-and-keys).",
  ],
};
export const LEGACY_MISSING_KEY = {
  errors: ['Please include a case-sensitive header of Authorization: Basic <YOUR-REST-API-KEY-HERE> with a valid REST API key.'],
  reference: ['https://documentation.onesignal.com/docs/accounts-and-keys#section-keys-ids'],
};
export const RATE_LIMITED = { errors: ['API rate limit exceeded.'] };
/** DELETE of a message that already went out (OneSignal answers 400). */
export const ALREADY_SENT = { errors: ['Notification has already been sent to all recipients'] };

const TARGETING = [
  'include_aliases',
  'include_subscription_ids',
  'included_segments',
  'filters',
  'include_external_user_ids',
  'include_player_ids',
] as const;
const CHANNELS = ['push', 'email', 'sms'];

export function registerOneSignalRoutes(app: FastifyInstance, core: SimulatorCore, state: OneSignalState): void {
  const legacy = (req: FastifyRequest) => req.url.startsWith('/api/v1/');

  /** Authorization header check for the app; replies 400/403 on failure. */
  const authorised = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const h = req.headers.authorization;
    if (typeof h !== 'string' || h.trim() === '') {
      if (legacy(req)) void reply.code(400).send(LEGACY_MISSING_KEY);
      else void reply.code(403).send(ACCESS_DENIED);
      return false;
    }
    const sp = h.indexOf(' ');
    const scheme = sp > 0 ? h.slice(0, sp) : h;
    const key = sp > 0 ? h.slice(sp + 1).trim() : '';
    const ok =
      !state.revoked &&
      ((key === state.appApiKey && (scheme === 'Key' || scheme === 'Bearer')) ||
        (key === state.legacyRestKey && (scheme === 'Basic' || scheme === 'Bearer')));
    if (!ok) {
      void reply.code(403).send(ACCESS_DENIED);
      return false;
    }
    markAuth(req, 'valid');
    return true;
  };

  const bad = (reply: FastifyReply, msg: string) => reply.code(400).send({ errors: [msg] });

  const create = async (req: FastifyRequest, reply: FastifyReply) => {
    const j = readJson(req);
    const b = j.ok && isObject(j.value) ? j.value : undefined;
    if (!b || b.app_id !== state.appId) return reply.code(400).send(APP_ID_NOT_FOUND);
    if (!authorised(req, reply)) return reply;
    if (!state.takeRateBudget()) return reply.code(429).header('retry-after', '1').send(RATE_LIMITED);

    const idemRaw = b.idempotency_key ?? b.external_id;
    if (idemRaw !== undefined && idemRaw !== null && (typeof idemRaw !== 'string' || !UUID_ANY_RE.test(idemRaw))) {
      return bad(reply, 'idempotency_key must be a valid UUID');
    }
    const idem = typeof idemRaw === 'string' ? idemRaw : null;
    if (idem !== null) {
      const prior = state.replay(idem);
      if (prior) return reply.code(prior.response.status).header('idempotent-replayed', 'true').send(prior.response.body);
    }

    const strategies = TARGETING.filter((t) => b[t] !== undefined);
    if (strategies.length === 0)
      return bad(reply, 'You must include which players, segments, or tags you wish to send this notification to.');
    if (strategies.length > 1) return bad(reply, `Use only one targeting strategy per request; got ${strategies.join(', ')}.`);
    const strategy = strategies[0] as (typeof TARGETING)[number];
    if (b.template_id === undefined && b.content_available !== true) {
      if (!isObject(b.contents) || typeof b.contents.en !== 'string' || b.contents.en === '')
        return bad(reply, 'Notifications must have English language content');
    }
    if (b.target_channel !== undefined && !CHANNELS.includes(String(b.target_channel)))
      return bad(reply, 'target_channel must be one of push, email, sms');
    let sendAfter: string | null = null;
    if (b.send_after !== undefined && b.send_after !== null) {
      const at = typeof b.send_after === 'string' ? Date.parse(b.send_after) : NaN;
      if (!Number.isFinite(at)) return bad(reply, 'send_after must be a date and time, e.g. "2026-03-03T07:00:00Z"');
      sendAfter = new Date(at).toISOString();
    }

    let targeted: string[] = [];
    let reachable: string[] = [];
    let invalid: string[] = [];
    let errors: unknown;
    let id = '';
    if (strategy === 'include_aliases' || strategy === 'include_external_user_ids') {
      let ids: unknown;
      let labelled = true;
      if (strategy === 'include_aliases') {
        if (!isObject(b.include_aliases)) return bad(reply, 'include_aliases must be an object of alias label to ids');
        const labels = Object.keys(b.include_aliases);
        ids = labels.flatMap((l) =>
          Array.isArray((b.include_aliases as Record<string, unknown>)[l])
            ? ((b.include_aliases as Record<string, unknown>)[l] as unknown[])
            : [],
        );
        // Only the exact label external_id resolves users (providers.md §4.2, Flutter SDK #896).
        labelled = labels.length > 0 && labels.every((l) => l === 'external_id');
      } else ids = b.include_external_user_ids;
      if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) return bad(reply, `${strategy} must list string ids`);
      if (ids.length > 2000) return bad(reply, `${strategy} accepts at most 2000 entries per request`);
      targeted = ids as string[];
      if (targeted[0] !== undefined) markAccount(req, targeted[0]);
      for (const ext of targeted) {
        const s = labelled ? state.userState(ext) : 'unsubscribed';
        if (s === 'subscribed' || s === 'partial') reachable.push(ext);
        if (s !== 'subscribed') invalid.push(ext);
      }
      if (reachable.length === 0) errors = ['All included players are not subscribed'];
      else {
        id = state.newId();
        if (invalid.length > 0) errors = { invalid_aliases: { external_id: invalid } };
      }
    } else if (strategy === 'include_player_ids' || strategy === 'include_subscription_ids') {
      const ids = b[strategy];
      if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) return bad(reply, `${strategy} must list string ids`);
      const malformed = (ids as string[]).filter((x) => !UUID_ANY_RE.test(x));
      if (malformed.length > 0)
        return bad(reply, `Incorrect player_id format in ${strategy} (not a valid UUID): ${JSON.stringify(malformed)}`);
      // The sandbox models users by external id only: subscription ids are unknown here.
      targeted = ids as string[];
      invalid = targeted;
      errors = { invalid_player_ids: targeted };
    } else {
      id = state.newId();
      reachable = ['(segment)'];
    }

    const body: Record<string, unknown> = { id, external_id: null };
    if (legacy(req)) body.recipients = strategy === 'include_aliases' || strategy === 'include_external_user_ids' ? reachable.length : 0;
    if (errors !== undefined) body.errors = errors;
    const rec: NotificationRecord = {
      id,
      receivedAt: core.clock.iso(),
      path: req.url.split('?')[0] as string,
      targeting: strategy,
      externalIds: targeted,
      reachable,
      invalid,
      headings: b.headings ?? null,
      contents: b.contents ?? null,
      data: b.data ?? null,
      url: b.url ?? null,
      appUrl: b.app_url ?? null,
      webUrl: b.web_url ?? null,
      idempotencyKey: idem,
      replays: 0,
      canceled: false,
      sendAfter,
      delivery: 'scheduled',
      deliveredAt: null,
      response: { status: 200, body },
    };
    state.record(rec);
    return body;
  };
  app.post('/notifications', create);
  app.post('/api/v1/notifications', create);

  const appFromQuery = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const q = req.query as Record<string, unknown>;
    if (q.app_id !== state.appId) {
      void reply.code(400).send(APP_ID_NOT_FOUND);
      return false;
    }
    return authorised(req, reply);
  };

  const cancel = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!appFromQuery(req, reply)) return reply;
    if (!state.takeRateBudget()) return reply.code(429).header('retry-after', '1').send(RATE_LIMITED);
    const { id } = req.params as { id: string };
    const rec = state.notifications.find((n) => n.id === id && id !== '');
    if (!rec) return reply.code(404).send({ errors: ['Notification not found'] });
    if (rec.delivery === 'delivered') return reply.code(400).send(ALREADY_SENT);
    rec.canceled = true;
    rec.delivery = 'canceled';
    return { success: true };
  };
  app.delete('/notifications/:id', cancel);
  app.delete('/api/v1/notifications/:id', cancel);

  const view = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!appFromQuery(req, reply)) return reply;
    if (!state.takeViewBudget()) return reply.code(429).header('retry-after', '1').send(RATE_LIMITED);
    const { id } = req.params as { id: string };
    const rec = state.notifications.find((n) => n.id === id && id !== '');
    if (!rec) return reply.code(404).send({ errors: ['Notification not found'] });
    const queued = Math.floor(Date.parse(rec.receivedAt) / 1000);
    const sendAfter = rec.sendAfter === null ? queued : Math.floor(Date.parse(rec.sendAfter) / 1000);
    const delivered = rec.delivery === 'delivered';
    return {
      id: rec.id,
      app_id: state.appId,
      contents: rec.contents,
      headings: rec.headings,
      data: rec.data,
      canceled: rec.canceled,
      successful: delivered ? rec.reachable.length : 0,
      failed: delivered ? rec.invalid.length : 0,
      errored: 0,
      converted: 0,
      remaining: rec.delivery === 'scheduled' ? rec.reachable.length : 0,
      queued_at: queued,
      send_after: sendAfter,
      completed_at: delivered && rec.deliveredAt !== null ? Math.floor(Date.parse(rec.deliveredAt) / 1000) : null,
    };
  };
  app.get('/notifications/:id', view);
  app.get('/api/v1/notifications/:id', view);
}
