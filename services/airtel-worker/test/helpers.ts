/**
 * The Airtel worker's test world: the shared wallet test kit (`@intellifin/wallet-sync/test/wallet-test-env`)
 * with Airtel's simulator, credentials, transaction shapes and the stored state each Airtel status ends in.
 */
import type { SyncCommand } from '@intellifin/messaging';
import { startAirtel, type AirtelOptions } from '@intellifin/sandbox';
import type { ReferenceRegistration } from '@intellifin/wallet-sync';
import {
  EPOCH,
  KEY_RING,
  quiesceWallet,
  startWalletEnv,
  waitFor,
  walletDifferences,
  walletRequestLog,
  type LoggedRequest,
  type StoredRef,
  type WalletEnv,
  type WalletEnvSpec,
} from '@intellifin/wallet-sync/test/wallet-test-env';
import { createAirtelWorker, type AirtelWorker, type AirtelWorkerDeps } from '../src/app';

export { EPOCH, KEY_RING, waitFor, type LoggedRequest, type StoredRef };

export interface SimAccount {
  id: string;
  country: string;
  currency: string;
  credentials: { clientId: string; clientSecret: string };
}

export interface TruthRef {
  id: string;
  kind: 'collection' | 'disbursement';
  reference: string;
  msisdn: string;
  amount: number;
  currency: string;
  createdAt: string;
  status: 'TIP' | 'TA' | 'TS' | 'TF' | 'TE';
  responseCode: string;
  finalStatus: string | null;
  airtelMoneyId: string | null;
}

type AirtelEnv = WalletEnv<SimAccount, TruthRef, AirtelWorker, AirtelWorkerDeps>;
export type Env = AirtelEnv & { airtel: AirtelEnv['simulator'] };

export interface EnvOptions {
  accounts: number;
  referencesPerAccount: number;
  ackWaitMs?: number;
  maxDeliver?: number;
  seed?: number;
  airtel?: Partial<AirtelOptions>;
  /** Accounts sharing one credential (the first account's). */
  sharedCredential?: boolean;
}

export function registrationOf(accountId: string, r: TruthRef): ReferenceRegistration {
  return {
    accountId,
    referenceId: r.id,
    kind: r.kind === 'collection' ? 'collection' : 'payout',
    amountMinor: String(r.amount),
    currency: r.currency,
    externalId: r.reference,
    party: { type: 'MSISDN', id: r.msisdn },
    createdAt: r.createdAt,
  };
}

/** Expected stored state of a reference from the simulator's truth now. */
export function expected(r: TruthRef): StoredRef {
  const failed = r.status === 'TF' || r.status === 'TE';
  return {
    status: r.status === 'TS' ? 'posted' : failed ? 'failed' : 'pending',
    amount: r.amount,
    ledgerId: r.status === 'TS' ? r.airtelMoneyId : null,
    reason: failed ? r.responseCode : null,
  };
}

const spec: WalletEnvSpec<SimAccount, TruthRef, AirtelWorker, AirtelWorkerDeps, Partial<AirtelOptions>> = {
  provider: 'airtel',
  startSimulator: (o, over) => startAirtel({ port: 0, epoch: EPOCH, clock: 'manual', ...o, ...over }),
  credentialOf: (a) => ({ clientId: a.credentials.clientId, clientSecret: a.credentials.clientSecret, country: a.country }),
  refsOf: (a) => a.transactions as TruthRef[],
  registrationOf,
  expected,
  createWorker: (common, url, over) =>
    createAirtelWorker({
      ...common,
      airtel: { baseUrl: url, timeoutMs: 1_500, pageSize: 20, notFoundGraceMs: 10 * 60_000 },
      ...over,
    }),
};

export async function startEnv(o: EnvOptions): Promise<Env> {
  const env = await startWalletEnv(spec, { ...o, ...(o.airtel ? { simulator: o.airtel } : {}) });
  return Object.assign(env, { airtel: env.simulator });
}

export const quiesce = (env: Env, timeoutMs?: number): Promise<void> => quiesceWallet(env as never, 'airtel', timeoutMs);

/** Publishes a full sync for every account and waits until all settled. */
export async function syncAll(env: Env, over: Partial<SyncCommand> = {}): Promise<void> {
  await Promise.all([...env.accounts.keys()].map((a) => env.publish(a, over)));
  await quiesce(env);
}

export const differences = (env: Env, opts: { balances?: boolean } = {}): Promise<string[]> =>
  walletDifferences(env as never, expected, opts);

export const requestLog = (env: Env): Promise<LoggedRequest[]> => walletRequestLog(env);

/** Routes of providers.md §3 the worker may call; anything else (an invented history path) fails the test. */
export const WORKER_ROUTES = new Set([
  'POST /auth/oauth2/token',
  'GET /standard/v1/users/balance',
  'GET /standard/v1/payments/:id',
  'GET /standard/v1/disbursements/:id',
]);

/** Creates a payout on the simulator (what the platform does; the worker never creates money movements). */
export async function createPayout(env: Env, sim: SimAccount, id: string, amountMajor: number): Promise<void> {
  const tok = await fetch(`${env.airtel.url}/auth/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_id: sim.credentials.clientId,
      client_secret: sim.credentials.clientSecret,
      grant_type: 'client_credentials',
    }),
  });
  const { access_token } = (await tok.json()) as { access_token: string };
  const res = await fetch(`${env.airtel.url}/standard/v1/disbursements/`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${access_token}`,
      'x-country': sim.country,
      'x-currency': sim.currency,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ payee: { msisdn: '971234567' }, reference: id, pin: 'encrypted', transaction: { amount: amountMajor, id } }),
  });
  if (res.status !== 200) throw new Error(`payout ${id}: ${res.status}`);
}
