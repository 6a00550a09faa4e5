/** Start the Airtel Money simulator. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseEpoch, SimClock } from '../shared/clock';
import { mergeSettings, type CommonOptions } from '../shared/options';
import { normaliseSeed, uuidV4 } from '../shared/prng';
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
import { isFinal, type AirtelStatus } from './lifecycle';
import { errorBody, registerAirtelRoutes, UNAUTHORIZED } from './routes';
import { AIRTEL_DEFAULTS, AirtelState, type AirtelSettings, type AirtelTxn } from './state';

export type AirtelOptions = CommonOptions & Partial<AirtelSettings>;
export const AIRTEL_DEFAULT_PORT = 4030;
const STATUSES: AirtelStatus[] = ['TIP', 'TA', 'TS', 'TF', 'TE'];

export function createAirtel(options: AirtelOptions = {}): { app: FastifyInstance; core: SimulatorCore; state: AirtelState } {
  const core = createCore(
    normaliseSeed(options.seed),
    new SimClock(parseEpoch(options.epoch), options.clock ?? 'real'),
    options.requestLogCapacity,
  );
  const state = new AirtelState(core, mergeSettings(AIRTEL_DEFAULTS, AIRTEL_DEFAULTS, options as Record<string, unknown>));

  const adapter: ProviderAdapter = {
    name: 'airtel',
    authHeaders: ['authorization'],
    accountOf(req: FastifyRequest) {
      const m = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''));
      const t = m ? state.tokens.get(m[1] as string) : undefined;
      return t ? state.account(t.account).id : undefined;
    },
    logAccountOf(req: FastifyRequest) {
      if (!req.url.startsWith('/auth/oauth2/token')) return undefined;
      const ct = String(req.headers['content-type'] ?? '');
      const j = ct.includes('application/x-www-form-urlencoded') ? undefined : readJson(req);
      const body = j
        ? j.ok && isObject(j.value)
          ? j.value
          : undefined
        : Object.fromEntries(new URLSearchParams(typeof req.body === 'string' ? req.body : ''));
      const id = body?.client_id;
      return typeof id === 'string' && state.find(id) !== undefined ? id : undefined;
    },
    faultResponse(status) {
      if (status === 401) return { body: UNAUTHORIZED };
      if (status === 429) return { body: errorBody(429, 'ESB000001', 'Too many requests') };
      return { body: errorBody(status, 'ESB000001') };
    },
    notFound() {
      return { status: 404, body: errorBody(404, 'ESB000001', 'Not Found') };
    },
    malformedBody() {
      return '{"data":{"transaction":{"airtel_money_id":"MP2510';
    },
  };

  const txnTruth = (t: AirtelTxn) => {
    const cur = state.step(t);
    const final = t.steps.find((s) => isFinal(s.status));
    return {
      id: t.id,
      kind: t.kind,
      reference: t.reference,
      msisdn: t.msisdn,
      amount: t.amountMinor,
      amountWire: t.amountWire,
      currency: t.currency,
      createdAt: new Date(t.createdAt).toISOString(),
      status: cur.status,
      responseCode: cur.code,
      finalStatus: final?.status ?? null,
      finalCode: final?.code ?? null,
      finalAt: final ? new Date(t.createdAt + final.after).toISOString() : null,
      airtelMoneyId: cur.status === 'TS' ? t.airtelMoneyId : null,
      refunded: t.refunded,
      source: t.source,
    };
  };
  const summary = (k: number) => {
    const a = state.account(k);
    return {
      id: a.id,
      name: a.name,
      country: a.country,
      currency: a.currency,
      revoked: a.revoked,
      credentials: { clientId: a.id, clientSecret: a.clientSecret },
    };
  };
  const truthOf = (k: number) => {
    const { credentials, ...rest } = summary(k);
    void credentials;
    return {
      ...rest,
      openingBalance: state.account(k).openingBalance,
      balance: state.balanceAt(k),
      transactions: (state.txnsByAccount.get(k) ?? []).map(txnTruth),
    };
  };

  const control: SimulatorControl = {
    reset(input) {
      resetCore(core, input, normaliseSeed, parseEpoch);
      state.reinit(mergeSettings(AIRTEL_DEFAULTS, state.settings, input));
    },
    config() {
      return {
        provider: 'airtel',
        seed: core.seed,
        epoch: new Date(core.clock.epochMs).toISOString(),
        now: core.clock.iso(),
        clock: core.clock.mode,
        ...state.settings,
      };
    },
    accounts(offset, limit) {
      return { total: state.accounts.length, accounts: state.accounts.slice(offset, offset + limit).map((a) => summary(a.index)) };
    },
    truth(offset, limit) {
      const out = state.accounts.slice(offset, offset + limit).map((a) => truthOf(a.index));
      return {
        provider: 'airtel',
        seed: core.seed,
        asOf: core.clock.iso(),
        money: 'integer minor units (JSON numbers) + currency; amountWire is the number sent on the wire',
        total: state.accounts.length,
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
      state.account(k).revoked = true;
      state.expireTokens(k);
      return summary(k);
    },
    repair(id) {
      const k = state.find(id);
      if (k === undefined) return undefined;
      state.account(k).revoked = false;
      return summary(k);
    },
    expireTokens(id) {
      const k = id === undefined ? undefined : state.find(id);
      if (id !== undefined && k === undefined) return 0;
      return state.expireTokens(k);
    },
  };

  const app = buildServer(core, adapter, control);
  registerAirtelRoutes(app, core, state);
  // The merchant generated a new client secret: the old one and every token it got stop working.
  let rotations = 0;
  app.post('/__sandbox/accounts/:id/rotate-secret', async (req, reply) => {
    const k = state.find((req.params as { id: string }).id);
    if (k === undefined) return reply.code(404).send({ error: 'unknown account' });
    const a = state.account(k);
    a.clientSecret = uuidV4(core.seed, 'airtel-secret-rotated', k, ++rotations);
    a.revoked = false;
    state.expireTokens(k);
    return summary(k);
  });
  const findTxn = (id: string): AirtelTxn | undefined => {
    for (const list of state.txnsByAccount.values()) for (const t of list) if (t.id === id) return t;
    return undefined;
  };
  app.get('/__sandbox/references/:ref', async (req, reply) => {
    const t = findTxn((req.params as { ref: string }).ref);
    return t ? txnTruth(t) : reply.code(404).send({ error: 'unknown transaction id' });
  });
  app.post('/__sandbox/references/:ref/advance', async (req, reply) => {
    const t = findTxn((req.params as { ref: string }).ref);
    if (!t) return reply.code(404).send({ error: 'unknown transaction id' });
    const b = controlBody(req);
    if (b.status !== undefined && !STATUSES.includes(b.status as AirtelStatus))
      return reply.code(400).send({ error: `status: ${STATUSES.join('|')}` });
    state.advance(t, b.status as AirtelStatus | undefined, typeof b.code === 'string' ? b.code : undefined);
    return txnTruth(t);
  });
  return { app, core, state };
}

export async function startAirtel(options: AirtelOptions = {}): Promise<RunningSimulator<AirtelState>> {
  const { app, core, state } = createAirtel(options);
  return listen(app, core, state, options.port ?? AIRTEL_DEFAULT_PORT, options.host);
}
