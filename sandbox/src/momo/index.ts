/** Start the MTN MoMo simulator. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseEpoch, SimClock } from '../shared/clock';
import { mergeSettings, type CommonOptions } from '../shared/options';
import { normaliseSeed } from '../shared/prng';
import {
  buildServer,
  controlBody,
  createCore,
  listen,
  resetCore,
  type ProviderAdapter,
  type RunningSimulator,
  type SimulatorControl,
  type SimulatorCore,
} from '../shared/server';
import { isTerminal, type MomoStatus, type Step } from './lifecycle';
import { APIM_NOT_FOUND, NOT_FOUND } from './routes';
import { registerMomoRoutes } from './routes';
import { MOMO_DEFAULTS, MomoState, type MomoReference, type MomoSettings } from './state';

export type MomoOptions = CommonOptions & Partial<MomoSettings>;
export const MOMO_DEFAULT_PORT = 4020;

const STATUSES: MomoStatus[] = ['PENDING', 'CREATED', 'SUCCESSFUL', 'FAILED'];

export function createMomo(options: MomoOptions = {}): { app: FastifyInstance; core: SimulatorCore; state: MomoState } {
  const core = createCore(
    normaliseSeed(options.seed),
    new SimClock(parseEpoch(options.epoch), options.clock ?? 'real'),
    options.requestLogCapacity,
  );
  const state = new MomoState(core, mergeSettings(MOMO_DEFAULTS, MOMO_DEFAULTS, options as Record<string, unknown>));

  const adapter: ProviderAdapter = {
    name: 'momo',
    authHeaders: ['authorization'],
    accountOf(req: FastifyRequest) {
      const key = req.headers['ocp-apim-subscription-key'];
      const sub = typeof key === 'string' ? state.subscriptionKeys.get(key) : undefined;
      return sub ? state.profile(sub.account).id : undefined;
    },
    faultResponse(status, retryAfter) {
      if (status === 429)
        return {
          body: { statusCode: 429, message: `Rate limit is exceeded. Try again in ${retryAfter ?? 60} seconds.` },
          headers: { 'retry-after': String(retryAfter ?? 60) },
        };
      if (status === 401) return { body: { statusCode: 401, message: 'Unauthorized. Access token is missing or invalid.' } };
      if (status === 503) return { body: { code: 'SERVICE_UNAVAILABLE', message: 'Service unavailable.' } };
      if (status === 502 || status === 504)
        return { body: { statusCode: status, message: status === 502 ? 'Bad Gateway' : 'Gateway Timeout' } };
      if (status === 404) return { body: NOT_FOUND };
      if (status >= 500) return { body: { code: 'INTERNAL_PROCESSING_ERROR', message: 'An internal error occurred while processing.' } };
      return { body: '' };
    },
    notFound() {
      // Azure API Management's answer for an operation that does not exist.
      return { status: 404, body: APIM_NOT_FOUND };
    },
    malformedBody() {
      return '{"financialTransactionId":"19272643';
    },
  };

  const refTruth = (r: MomoReference) => {
    const now = core.clock.now();
    const cur = state.current(r);
    const final = r.steps.find((s) => isTerminal(s.status));
    return {
      id: r.id,
      kind: r.kind,
      product: r.product,
      externalId: r.externalId,
      amount: r.amountMinor,
      amountWire: r.amount,
      currency: r.currency,
      party: r.party,
      createdAt: new Date(r.createdAt).toISOString(),
      status: r.rejected ? 'REJECTED_AFTER_ACCEPT' : cur.status,
      reason: cur.reason ?? null,
      finalStatus: r.rejected ? null : (final?.status ?? null),
      finalReason: final?.reason ?? null,
      finalAt: final && !r.rejected ? new Date(r.createdAt + final.after).toISOString() : null,
      terminalNow: !r.rejected && isTerminal(cur.status) && r.createdAt <= now,
      financialTransactionId: cur.status === 'SUCCESSFUL' ? r.financialTransactionId : null,
      callback:
        r.callbackUrl === undefined || r.rejected
          ? 'none'
          : r.callbackDelay === undefined
            ? 'never-sent'
            : r.callbackDelay === 0
              ? 'on-final'
              : `late-${r.callbackDelay}ms`,
      source: r.source,
    };
  };

  const accountSummary = (k: number) => {
    const p = state.profile(k);
    const revoked = [...state.users.values()].some((u) => u.account === k && u.revoked);
    return {
      id: p.id,
      name: p.name,
      targetEnvironment: p.targetEnvironment,
      currency: p.currency,
      revoked,
      credentials: {
        apiUser: p.id,
        apiKey: state.users.get(p.id)?.apiKey ?? null,
        subscriptionKeys: { collection: p.collectionKey, disbursement: p.disbursementKey },
      },
    };
  };

  const truthOf = (k: number) => {
    const { credentials, ...rest } = accountSummary(k);
    void credentials;
    return {
      ...rest,
      openingBalance: state.profile(k).openingBalance,
      balance: state.balanceAt(k),
      references: (state.refsByAccount.get(k) ?? []).map(refTruth),
    };
  };

  const control: SimulatorControl = {
    reset(input) {
      resetCore(core, input, normaliseSeed, parseEpoch);
      state.reinit(mergeSettings(MOMO_DEFAULTS, state.settings, input));
    },
    config() {
      const { msisdnScenarios, ...rest } = state.settings;
      return {
        provider: 'momo',
        seed: core.seed,
        epoch: new Date(core.clock.epochMs).toISOString(),
        now: core.clock.iso(),
        clock: core.clock.mode,
        ...rest,
        msisdnScenarios,
      };
    },
    accounts(offset, limit) {
      const out = [];
      for (let k = offset; k < Math.min(state.count, offset + limit); k++) out.push(accountSummary(k));
      return { total: state.count, accounts: out };
    },
    truth(offset, limit) {
      const out = [];
      for (let k = offset; k < Math.min(state.count, offset + limit); k++) out.push(truthOf(k));
      return {
        provider: 'momo',
        seed: core.seed,
        asOf: core.clock.iso(),
        money: 'integer minor units (JSON numbers) + currency; amountWire is the decimal string on the wire',
        total: state.count,
        offset,
        accounts: out,
      };
    },
    truthFor(id) {
      const k = state.find(id);
      return k === undefined ? undefined : truthOf(k);
    },
    revoke(id) {
      const k = state.find(id);
      if (k === undefined) return undefined;
      state.revokeAccount(k);
      return accountSummary(k);
    },
    repair(id) {
      const k = state.find(id);
      if (k === undefined) return undefined;
      state.repairAccount(k);
      return accountSummary(k);
    },
    expireTokens(id) {
      const k = id === undefined ? undefined : state.find(id);
      if (id !== undefined && k === undefined) return 0;
      return state.revokeTokens((t) => k === undefined || t.account === k);
    },
  };

  const app = buildServer(core, adapter, control);
  registerMomoRoutes(app, core, state);

  app.get('/__sandbox/references/:ref', async (req, reply) => {
    const r = state.refs.get((req.params as { ref: string }).ref);
    return r ? refTruth(r) : reply.code(404).send({ error: 'unknown reference' });
  });
  app.post('/__sandbox/references/:ref/advance', async (req, reply) => {
    const r = state.refs.get((req.params as { ref: string }).ref);
    if (!r) return reply.code(404).send({ error: 'unknown reference' });
    const b = controlBody(req);
    if (b.status !== undefined && !STATUSES.includes(b.status as MomoStatus))
      return reply.code(400).send({ error: `status: ${STATUSES.join('|')}` });
    state.advance(
      r,
      b.status !== undefined
        ? { status: b.status as MomoStatus, ...(typeof b.reason === 'string' ? { reason: b.reason } : {}) }
        : undefined,
    );
    return refTruth(r);
  });
  app.post('/__sandbox/msisdn-scenarios', async (req, reply) => {
    const b = controlBody(req);
    for (const [msisdn, steps] of Object.entries(b)) {
      if (
        !Array.isArray(steps) ||
        !steps.every((s) => typeof s === 'object' && s && STATUSES.includes((s as Step).status) && typeof (s as Step).after === 'number')
      ) {
        return reply.code(400).send({ error: `${msisdn}: list of {after (ms), status, reason?}` });
      }
      state.settings = { ...state.settings, msisdnScenarios: { ...state.settings.msisdnScenarios, [msisdn]: steps as Step[] } };
    }
    return { msisdnScenarios: state.settings.msisdnScenarios };
  });
  return { app, core, state };
}

export async function startMomo(options: MomoOptions = {}): Promise<RunningSimulator<MomoState>> {
  const { app, core, state } = createMomo(options);
  return listen(app, core, state, options.port ?? MOMO_DEFAULT_PORT, options.host);
}
