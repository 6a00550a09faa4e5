/** Start the OneSignal simulator. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseEpoch, SimClock } from '../shared/clock';
import { mergeSettings, type CommonOptions } from '../shared/options';
import { normaliseSeed } from '../shared/prng';
import {
  buildServer,
  controlBody,
  createCore,
  isObject,
  listen,
  readJson,
  resetCore,
  type ProviderAdapter,
  type RunningSimulator,
  type SimulatorControl,
  type SimulatorCore,
} from '../shared/server';
import { RATE_LIMITED, registerOneSignalRoutes } from './routes';
import { ONESIGNAL_DEFAULTS, OneSignalState, type NotificationRecord, type OneSignalSettings, type UserState } from './state';

export type OneSignalOptions = CommonOptions & Partial<OneSignalSettings>;
export const ONESIGNAL_DEFAULT_PORT = 4040;
const USER_STATES: UserState[] = ['subscribed', 'partial', 'unsubscribed'];

export function createOneSignal(options: OneSignalOptions = {}): { app: FastifyInstance; core: SimulatorCore; state: OneSignalState } {
  const core = createCore(
    normaliseSeed(options.seed),
    new SimClock(parseEpoch(options.epoch), options.clock ?? 'real'),
    options.requestLogCapacity,
  );
  const state = new OneSignalState(core, mergeSettings(ONESIGNAL_DEFAULTS, ONESIGNAL_DEFAULTS, options as Record<string, unknown>));

  const adapter: ProviderAdapter = {
    name: 'onesignal',
    authHeaders: ['authorization'],
    accountOf(req: FastifyRequest) {
      const b = readJson(req);
      if (!b.ok || !isObject(b.value)) return undefined;
      const aliases = b.value.include_aliases;
      const ext =
        isObject(aliases) && Array.isArray(aliases.external_id)
          ? aliases.external_id[0]
          : Array.isArray(b.value.include_external_user_ids)
            ? b.value.include_external_user_ids[0]
            : undefined;
      return typeof ext === 'string' ? ext : undefined;
    },
    faultResponse(status, retryAfter) {
      if (status === 429) return { body: RATE_LIMITED, headers: { 'retry-after': String(retryAfter ?? 1) } };
      return { body: { errors: [status >= 500 ? 'Internal server error' : 'Request failed'] } };
    },
    notFound() {
      return { status: 404, body: { errors: ['Not Found'] } };
    },
    malformedBody() {
      return '{"id":"b98881cc-1e94-4366-bbd9';
    },
  };

  const view = (n: NotificationRecord) => {
    const { response, ...rest } = n;
    return { ...rest, created: n.id !== '', responseBody: response.body };
  };
  const appSummary = () => ({
    id: state.appId,
    revoked: state.revoked,
    credentials: { appId: state.appId, appApiKey: state.appApiKey, legacyRestKey: state.legacyRestKey },
  });

  const control: SimulatorControl = {
    reset(input) {
      resetCore(core, input, normaliseSeed, parseEpoch);
      state.reinit(mergeSettings(ONESIGNAL_DEFAULTS, state.settings, input));
    },
    config() {
      const { appApiKey, legacyRestKey, ...rest } = state.settings;
      void appApiKey;
      void legacyRestKey;
      return {
        provider: 'onesignal',
        seed: core.seed,
        epoch: new Date(core.clock.epochMs).toISOString(),
        now: core.clock.iso(),
        clock: core.clock.mode,
        ...rest,
        appId: state.appId,
      };
    },
    accounts() {
      return { total: 1, accounts: [appSummary()] };
    },
    truth(offset, limit) {
      return {
        provider: 'onesignal',
        seed: core.seed,
        asOf: core.clock.iso(),
        appId: state.appId,
        userOverrides: Object.fromEntries(state.overrides),
        total: state.notifications.length,
        offset,
        notifications: state.notifications.slice(offset, offset + limit).map(view),
      };
    },
    truthFor(id) {
      if (id === state.appId) return this.truth(0, Number.MAX_SAFE_INTEGER);
      const list = state.notifications.filter((n) => n.externalIds.includes(id));
      return { externalId: id, state: state.userState(id), notifications: list.map(view) };
    },
    revoke(id) {
      if (id !== state.appId) return undefined;
      state.revoked = true;
      return appSummary();
    },
    repair(id) {
      if (id !== state.appId) return undefined;
      state.revoked = false;
      return appSummary();
    },
  };

  const app = buildServer(core, adapter, control);
  registerOneSignalRoutes(app, core, state);
  app.get('/__sandbox/notifications', async () => ({ notifications: state.notifications.map(view) }));
  app.post('/__sandbox/users/:externalId', async (req, reply) => {
    const { externalId } = req.params as { externalId: string };
    const s = controlBody(req).state;
    if (!USER_STATES.includes(s as UserState)) return reply.code(400).send({ error: `state: ${USER_STATES.join('|')}` });
    state.overrides.set(externalId, s as UserState);
    return { externalId, state: s };
  });
  app.get('/__sandbox/users/:externalId', async (req) => {
    const { externalId } = req.params as { externalId: string };
    return { externalId, state: state.userState(externalId) };
  });
  return { app, core, state };
}

export async function startOneSignal(options: OneSignalOptions = {}): Promise<RunningSimulator<OneSignalState>> {
  const { app, core, state } = createOneSignal(options);
  return listen(app, core, state, options.port ?? ONESIGNAL_DEFAULT_PORT, options.host);
}
