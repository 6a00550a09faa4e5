import type { ProviderRequestObserver } from '@intellifin/sync-engine';
import { createWalletWorker, type WalletWorker, type WalletWorkerCommonDeps } from '@intellifin/wallet-sync';
import { MomoApi, type MomoCredential, MomoClient } from '@intellifin/providers';

export interface MomoWorkerDeps extends WalletWorkerCommonDeps {
  momo: {
    baseUrl: string;
    targetEnvironment: string;
    timeoutMs?: number;
    attempts?: number;
    pageSize?: number;
    lookupConcurrency?: number;
    notFoundGraceMs?: number;
    tokenRefreshBeforeMs?: number;
    /** `{accountId}` is replaced. */
    reauthUrl?: string;
  };
  /** Told of every MoMo request as it completes (tests check request order against Retry-After). */
  observeRequests?: ProviderRequestObserver;
}

export type MomoWorker = WalletWorker<MomoClient>;

/** Wires the MoMo api into the shared wallet layer and engine (used by main.ts, the tests and the bench). */
export function createMomoWorker(d: MomoWorkerDeps): MomoWorker {
  const { momo, ...common } = d;
  return createWalletWorker<MomoCredential, MomoClient>({
    ...common,
    provider: 'momo',
    client: ({ gate, observe }) =>
      new MomoClient({
        baseUrl: momo.baseUrl,
        gate,
        observe,
        ...(momo.timeoutMs ? { timeoutMs: momo.timeoutMs } : {}),
        ...(momo.attempts ? { attempts: momo.attempts } : {}),
        ...(d.clock ? { clock: d.clock } : {}),
      }),
    api: (client) => new MomoApi(client, momo.targetEnvironment),
    reauthUrl: momo.reauthUrl ?? 'intellifin://wallets/momo/{accountId}/api-key',
    ...(momo.pageSize ? { pageSize: momo.pageSize } : {}),
    ...(momo.lookupConcurrency ? { lookupConcurrency: momo.lookupConcurrency } : {}),
    ...(momo.notFoundGraceMs ? { notFoundGraceMs: momo.notFoundGraceMs } : {}),
    ...(momo.tokenRefreshBeforeMs ? { tokenRefreshBeforeMs: momo.tokenRefreshBeforeMs } : {}),
    // Intake settlements are reported too (the tests wait on registrations and callbacks).
    ...(d.onSettled ? { onIntakeSettled: d.onSettled } : {}),
  });
}
