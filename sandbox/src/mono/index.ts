/** Start the Mono simulator. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseEpoch, SimClock } from '../shared/clock';
import { mergeSettings, type CommonOptions } from '../shared/options';
import { normaliseSeed } from '../shared/prng';
import {
  buildServer,
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
import { registerMonoControl } from './control';
import { envelopeFail, registerMonoRoutes, wireRow } from './routes';
import type { MonoTxn } from './data';
import { MONO_DEFAULTS, MonoState, validateMonoSettings, type MonoSettings } from './state';

export type MonoOptions = CommonOptions & Partial<MonoSettings>;

export type { RunningSimulator };

export const MONO_DEFAULT_PORT = 4010;

export function createMono(options: MonoOptions = {}): { app: FastifyInstance; core: SimulatorCore; state: MonoState } {
  const core = createCore(
    normaliseSeed(options.seed),
    new SimClock(parseEpoch(options.epoch), options.clock ?? 'real'),
    options.requestLogCapacity,
  );
  const state = new MonoState(core, mergeSettings(MONO_DEFAULTS, MONO_DEFAULTS, options as Record<string, unknown>));

  const adapter: ProviderAdapter = {
    name: 'mono',
    authHeaders: ['mono-sec-key'],
    accountOf(req: FastifyRequest) {
      const p = req.params as { id?: string } | undefined;
      if (p?.id !== undefined) return p.id;
      const b = readJson(req);
      return b.ok && isObject(b.value) && typeof b.value.account === 'string' ? b.value.account : undefined;
    },
    faultResponse(status) {
      const messages: Record<number, string> = {
        400: 'Bad request',
        401: 'Invalid secret key',
        402: 'Request failed',
        403: 'Forbidden',
        404: 'Not found',
        409: 'Conflict',
        429: 'Too many requests',
        500: 'Internal server error',
        502: 'Bad gateway',
        503: 'Service unavailable',
        504: 'Gateway timeout',
      };
      return { body: envelopeFail(core, messages[status] ?? 'Request failed') };
    },
    notFound(req) {
      return { status: 404, body: envelopeFail(core, `Cannot ${req.method} ${req.url.split('?')[0]}`) };
    },
    malformedBody() {
      return '{"status":"successful","message":"Transaction retrieved successfully","data":[{"id":"';
    },
  };

  const control: SimulatorControl = {
    reset(input) {
      const next = mergeSettings(MONO_DEFAULTS, state.settings, input);
      validateMonoSettings(next);
      resetCore(core, input, normaliseSeed, parseEpoch);
      state.reinit(next);
    },
    config() {
      const { secretKey, webhookSecret, ...rest } = state.settings;
      void secretKey;
      void webhookSecret;
      return {
        provider: 'mono',
        seed: core.seed,
        epoch: new Date(core.clock.epochMs).toISOString(),
        now: core.clock.iso(),
        clock: core.clock.mode,
        ...rest,
        accounts: state.count,
      };
    },
    accounts(offset, limit) {
      const out = [];
      for (let k = offset; k < Math.min(state.count, offset + limit); k++) out.push(summary(state, k));
      return { total: state.count, accounts: out };
    },
    truth(offset, limit) {
      const out = [];
      for (let k = offset; k < Math.min(state.count, offset + limit); k++) out.push(truthOf(state, k, core.clock.now()));
      return {
        provider: 'mono',
        seed: core.seed,
        asOf: core.clock.iso(),
        money: 'integer minor units (JSON numbers) + currency',
        total: state.count,
        offset,
        accounts: out,
      };
    },
    truthFor(id) {
      const k = state.find(id);
      return k === undefined ? undefined : truthOf(state, k, core.clock.now());
    },
    revoke(id, body) {
      const k = state.find(id);
      if (k === undefined) return undefined;
      const mode = body.mode === 'unlink' ? 'unlink' : 'reauth';
      state.revoke(k, mode, body.notify !== false);
      return summary(state, k);
    },
    repair(id) {
      const k = state.find(id);
      if (k === undefined) return undefined;
      state.repair(k);
      return summary(state, k);
    },
  };

  const app = buildServer(core, adapter, control);
  registerMonoRoutes(app, core, state);
  registerMonoControl(
    app,
    () => state,
    () => core.clock.now(),
  );
  return { app, core, state };
}

function summary(state: MonoState, k: number) {
  const p = state.profile(k);
  const r = state.peekRuntime(k);
  return {
    id: p.id,
    name: p.name,
    customer: p.customerId,
    currency: p.currency,
    institution: p.institution.name,
    consent: r?.consent ?? 'active',
    data_status: r?.dataStatus ?? 'AVAILABLE',
  };
}

function releasedAtOf(at: number | null | undefined): string | null {
  return at === null || at === undefined ? null : new Date(at).toISOString();
}

function truthOf(state: MonoState, k: number, now: number) {
  const p = state.profile(k);
  const r = state.peekRuntime(k);
  const rows = state.rows(k, now);
  const snap = state.snapshotAt(k);
  const txns = [];
  const released = (row: MonoTxn, at: number) => (r?.released.has(row.id) ?? false) || (row.releasedAt !== null && row.releasedAt <= at);
  for (let i = rows.length - 1; i >= 0; i--) {
    const row = rows[i]!;
    txns.push({
      id: row.id,
      date: new Date(row.date).toISOString(),
      amount: row.amount,
      currency: p.currency,
      type: row.type,
      narration: row.narration,
      pendingNarration: row.pendingNarration,
      category: row.category,
      balance: row.balance,
      status: row.postedAt > now ? 'pending' : 'posted',
      postedAt: new Date(row.postedAt).toISOString(),
      visibleAt: new Date(row.visibleAt).toISOString(),
      source: row.source,
      removed: r?.removed.has(row.id) ?? false,
      released: released(row, now),
      // What a complete sync should hold in the end: a released hold is `removed` (or absent, if it
      // was released before anyone read it); everything else as it stands now.
      finalStatus: released(row, now) ? 'removed' : row.postedAt > now ? 'pending' : 'posted',
      // When the hold is (or was) released: its seeded end, or when a fault or the control API released it.
      releasedAt: releasedAtOf(r?.released.get(row.id) ?? row.releasedAt),
      servedNow: row.visibleAt <= snap && row.date <= snap && !(r?.removed.has(row.id) ?? false) && !released(row, snap),
    });
  }
  return {
    ...summary(state, k),
    accountNumber: p.accountNumber,
    snapshotAt: new Date(snap).toISOString(),
    readyAt: r?.readyAt !== undefined ? new Date(r.readyAt).toISOString() : null,
    statementEvents: r?.statementEvents ?? [],
    balance: state.balanceAt(k, now),
    transactions: txns,
  };
}

export async function startMono(options: MonoOptions = {}): Promise<RunningSimulator<MonoState>> {
  const { app, core, state } = createMono(options);
  return listen(app, core, state, options.port ?? MONO_DEFAULT_PORT, options.host);
}

export { wireRow };
