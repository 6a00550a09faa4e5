import type { Tracer } from '@intellifin/core';
import { createWalletWorker, type WalletWorker, type WalletWorkerCommonDeps } from '@intellifin/wallet-sync';
import { AirtelApi, type AirtelCredential, AirtelClient, AirtelHttp } from '@intellifin/providers';

export interface AirtelWorkerDeps extends WalletWorkerCommonDeps {
  tracer?: Tracer;
  airtel: {
    baseUrl: string;
    timeoutMs?: number;
    attempts?: number;
    pageSize?: number;
    lookupConcurrency?: number;
    notFoundGraceMs?: number;
    tokenRefreshBeforeMs?: number;
    /** `{accountId}` is replaced. */
    reauthUrl?: string;
  };
}

export interface AirtelWorker extends Omit<WalletWorker<AirtelHttp>, 'client'> {
  http: AirtelHttp;
}

/** Wires the Airtel api into the shared wallet layer and engine (used by main.ts, the tests and the bench). */
export function createAirtelWorker(d: AirtelWorkerDeps): AirtelWorker {
  const { airtel, tracer, ...common } = d;
  const { client: http, ...worker } = createWalletWorker<AirtelCredential, AirtelHttp>({
    ...common,
    provider: 'airtel',
    client: ({ gate, observe }) =>
      new AirtelHttp({
        baseUrl: airtel.baseUrl,
        gate,
        observe,
        ...(airtel.timeoutMs ? { timeoutMs: airtel.timeoutMs } : {}),
        ...(airtel.attempts ? { attempts: airtel.attempts } : {}),
        ...(d.clock ? { clock: d.clock } : {}),
      }),
    api: (http) => new AirtelApi(new AirtelClient(http, tracer)),
    reauthUrl: airtel.reauthUrl ?? 'intellifin://wallets/airtel/{accountId}/relink',
    ...(airtel.pageSize ? { pageSize: airtel.pageSize } : {}),
    ...(airtel.lookupConcurrency ? { lookupConcurrency: airtel.lookupConcurrency } : {}),
    ...(airtel.notFoundGraceMs ? { notFoundGraceMs: airtel.notFoundGraceMs } : {}),
    // UAT tokens live 180 s: refresh 30 s ahead unless told otherwise.
    tokenRefreshBeforeMs: airtel.tokenRefreshBeforeMs ?? 30_000,
  });
  return { ...worker, http };
}
