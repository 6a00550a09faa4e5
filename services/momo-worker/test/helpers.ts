/**
 * The MoMo worker's test world: the shared wallet test kit (`@intellifin/wallet-sync/test/wallet-test-env`)
 * with MoMo's simulator, credentials, reference shapes and the stored state each MoMo status ends in.
 */
import type { SyncCommand } from '@intellifin/messaging';
import { startMomo, type MomoOptions } from '@intellifin/sandbox';
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
import { createMomoWorker, type MomoWorker, type MomoWorkerDeps } from '../src/app';

export { EPOCH, KEY_RING, waitFor, type LoggedRequest, type StoredRef };

export interface SimAccount {
  id: string;
  currency: string;
  credentials: { apiUser: string; apiKey: string; subscriptionKeys: { collection: string; disbursement: string } };
}

export interface TruthRef {
  id: string;
  kind: 'requesttopay' | 'transfer' | 'deposit';
  externalId: string;
  amount: number;
  amountWire: string;
  currency: string;
  party: { partyIdType: string; partyId: string };
  createdAt: string;
  status: string;
  reason: string | null;
  finalStatus: string | null;
  financialTransactionId: string | null;
}

type MomoEnv = WalletEnv<SimAccount, TruthRef, MomoWorker, MomoWorkerDeps>;
export type Env = MomoEnv & { momo: MomoEnv['simulator'] };

export interface EnvOptions {
  accounts: number;
  referencesPerAccount: number;
  ackWaitMs?: number;
  maxDeliver?: number;
  seed?: number;
  momo?: Partial<MomoOptions>;
  /** Accounts sharing one credential (the first account's). */
  sharedCredential?: boolean;
}

export function registrationOf(accountId: string, r: TruthRef): ReferenceRegistration {
  return {
    accountId,
    referenceId: r.id,
    kind: r.kind === 'requesttopay' ? 'collection' : 'payout',
    amountMinor: String(r.amount),
    currency: r.currency,
    externalId: r.externalId,
    party: { type: r.party.partyIdType as 'MSISDN', id: r.party.partyId },
    createdAt: r.createdAt,
  };
}

/** Expected stored state of a reference from the simulator's truth now. */
export function expected(r: TruthRef): StoredRef {
  const status =
    r.status === 'SUCCESSFUL' ? 'posted' : r.status === 'FAILED' ? 'failed' : r.status === 'REJECTED_AFTER_ACCEPT' ? 'failed' : 'pending';
  return {
    status,
    amount: r.amount,
    ledgerId: r.status === 'SUCCESSFUL' ? r.financialTransactionId : null,
    reason: r.status === 'FAILED' ? r.reason : r.status === 'REJECTED_AFTER_ACCEPT' ? 'not_found' : null,
  };
}

const spec: WalletEnvSpec<SimAccount, TruthRef, MomoWorker, MomoWorkerDeps, Partial<MomoOptions>> = {
  provider: 'momo',
  startSimulator: (o, over) => startMomo({ port: 0, epoch: EPOCH, clock: 'manual', ...o, ...over }),
  credentialOf: (a) => ({ apiUser: a.credentials.apiUser, apiKey: a.credentials.apiKey, subscriptionKeys: a.credentials.subscriptionKeys }),
  refsOf: (a) => a.references as TruthRef[],
  registrationOf,
  expected,
  createWorker: (common, url, over) =>
    createMomoWorker({
      ...common,
      // Timeouts well above what a loaded 2-core box needs: a timed-out token request that MoMo
      // served is a second token request (counted by the token tests).
      momo: { baseUrl: url, targetEnvironment: 'mtnzambia', timeoutMs: 5_000, pageSize: 20, notFoundGraceMs: 10 * 60_000 },
      ...over,
    }),
};

export async function startEnv(o: EnvOptions): Promise<Env> {
  const env = await startWalletEnv(spec, { ...o, ...(o.momo ? { simulator: o.momo } : {}) });
  return Object.assign(env, { momo: env.simulator });
}

export const quiesce = (env: Env, timeoutMs?: number): Promise<void> => quiesceWallet(env as never, 'momo', timeoutMs);

/** Publishes a full sync for every account and waits until all settled. */
export async function syncAll(env: Env, over: Partial<SyncCommand> = {}, timeoutMs?: number): Promise<void> {
  await Promise.all([...env.accounts.keys()].map((a) => env.publish(a, over)));
  await quiesce(env, timeoutMs);
}

export const differences = (env: Env, opts: { balances?: boolean } = {}): Promise<string[]> =>
  walletDifferences(env as never, expected, opts);

export const requestLog = (env: Env): Promise<LoggedRequest[]> => walletRequestLog(env);

/** Routes MoMo documents (providers.md §2); anything else would be an invented history path. */
export const DOCUMENTED_ROUTES = new Set([
  'POST /collection/token/',
  'POST /disbursement/token/',
  'GET /collection/v1_0/account/balance',
  'GET /disbursement/v1_0/account/balance',
  'GET /collection/v1_0/requesttopay/:referenceId',
  'GET /disbursement/v1_0/transfer/:referenceId',
]);
