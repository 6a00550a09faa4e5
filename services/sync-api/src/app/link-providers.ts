import type { Redis } from 'ioredis';
import { histogram, type Logger, type Registry } from '@intellifin/core';
import type { AccountRef, ProviderId } from '@intellifin/domain';
import { RateBudget } from '@intellifin/persistence';
import {
  AirtelApi,
  AirtelClient,
  AirtelHttp,
  exchangeMonoCode,
  MomoApi,
  MomoClient,
  MonoClient,
  MonoProvider,
  verifyAirtelCredential,
  verifyMomoCredential,
  type AirtelCredential,
  type MomoCredential,
  type MonoLinkedAccount,
} from '@intellifin/providers';
import { budgetGate, type ProviderRequestObserver } from '@intellifin/sync-engine';

/**
 * What linking and repair ask of the providers. Errors are the clients' own (core taxonomy); the
 * use cases classify them (`classifyVerificationFailure`).
 */
export interface LinkProviders {
  /** Mono Connect code → the account id, currency and bank (`POST /v2/accounts/auth`). */
  exchangeMonoCode(code: string, signal: AbortSignal): Promise<MonoLinkedAccount>;
  /** A token request per product the credential names. */
  verifyMomo(credential: MomoCredential, signal: AbortSignal): Promise<void>;
  /** A token request with the client credentials. */
  verifyAirtel(credential: AirtelCredential, signal: AbortSignal): Promise<void>;
  /** A new re-link URL (Mono `initiate`, scope reauth). */
  monoReauthLink(account: AccountRef, signal: AbortSignal): Promise<{ url: string; expiresAt: Date | null }>;
  close(): Promise<void>;
}

export interface ProviderSettings {
  mono: { baseUrl: string; secretKey: string; reauthRedirectUrl?: string | undefined };
  momo: { baseUrl: string; targetEnvironment: string };
  airtel: { baseUrl: string };
  timeoutMs: number;
  rates: Record<ProviderId, { ratePerSecond: number; burst: number }>;
}

/**
 * The real clients of `@intellifin/providers` (the workers' own), each behind the provider's shared
 * Redis request budget, so the API's few requests count against the same quota and honour a
 * provider's 429 pause like every worker replica. One attempt per request: a user waits for the
 * answer, and a failure is a 503 they can retry.
 */
export class ProviderLinkGateway implements LinkProviders {
  private readonly mono: MonoClient;
  private readonly monoProvider: MonoProvider;
  private readonly momoClient: MomoClient;
  private readonly momo: MomoApi;
  private readonly airtelHttp: AirtelHttp;
  private readonly airtel: AirtelApi;

  constructor(
    private readonly s: ProviderSettings,
    d: { redis: Redis; keyPrefix?: string; logger: Logger; registry?: Registry },
  ) {
    const budget = new RateBudget(d.redis, s.rates, d.keyPrefix ?? '');
    const duration = d.registry
      ? histogram(
          d.registry,
          'intellifin_sync_api_provider_request_duration_seconds',
          'Provider requests made while linking and repairing',
          ['provider', 'route', 'status'],
        )
      : undefined;
    const observe =
      (provider: ProviderId): ProviderRequestObserver =>
      (route, status, seconds) =>
        duration?.observe({ provider, route, status: String(status) }, seconds);
    const common = { timeoutMs: s.timeoutMs, attempts: 1, connections: 4 };
    this.mono = new MonoClient({
      baseUrl: s.mono.baseUrl,
      secretKey: s.mono.secretKey,
      gate: budgetGate(budget, 'mono'),
      observe: observe('mono'),
      ...common,
    });
    this.monoProvider = new MonoProvider({ client: this.mono, logger: d.logger });
    this.momoClient = new MomoClient({ baseUrl: s.momo.baseUrl, gate: budgetGate(budget, 'momo'), observe: observe('momo'), ...common });
    this.momo = new MomoApi(this.momoClient, s.momo.targetEnvironment);
    this.airtelHttp = new AirtelHttp({
      baseUrl: s.airtel.baseUrl,
      gate: budgetGate(budget, 'airtel'),
      observe: observe('airtel'),
      ...common,
    });
    this.airtel = new AirtelApi(new AirtelClient(this.airtelHttp));
  }

  exchangeMonoCode(code: string, signal: AbortSignal): Promise<MonoLinkedAccount> {
    return exchangeMonoCode(this.mono, code, signal);
  }

  verifyMomo(credential: MomoCredential, signal: AbortSignal): Promise<void> {
    return verifyMomoCredential(this.momo, credential, signal);
  }

  verifyAirtel(credential: AirtelCredential, signal: AbortSignal): Promise<void> {
    return verifyAirtelCredential(this.airtel, credential, signal);
  }

  async monoReauthLink(account: AccountRef, signal: AbortSignal): Promise<{ url: string; expiresAt: Date | null }> {
    const link = await this.monoProvider.requestReauthLink({
      account,
      ...(this.s.mono.reauthRedirectUrl ? { redirectUrl: this.s.mono.reauthRedirectUrl } : {}),
      signal,
    });
    return { url: link.url, expiresAt: link.expiresAt ?? null };
  }

  async close(): Promise<void> {
    await Promise.all([this.mono.close(), this.momoClient.close(), this.airtelHttp.close()]);
  }
}
