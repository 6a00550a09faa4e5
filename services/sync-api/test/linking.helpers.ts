import { insertOrganization } from '@intellifin/persistence';
import { startAirtel, startMomo, startMono, type RunningSimulator } from '@intellifin/sandbox';
import { bearer, startApi, token, type ApiEnv } from './helpers';

export const SIM_EPOCH = '2026-03-02T00:00:00.000Z';

/** The simulators' own view of a merchant wallet (control API). */
export interface MomoSimAccount {
  id: string;
  currency: string;
  credentials: { apiUser: string; apiKey: string; subscriptionKeys: { collection: string; disbursement: string } };
}
export interface AirtelSimAccount {
  id: string;
  country: string;
  currency: string;
  credentials: { clientId: string; clientSecret: string };
}

export interface LinkEnv {
  api: ApiEnv;
  mono: RunningSimulator<unknown>;
  momo: RunningSimulator<unknown>;
  airtel: RunningSimulator<unknown>;
  orgId: string;
  otherOrgId: string;
  momoAccounts: MomoSimAccount[];
  airtelAccounts: AirtelSimAccount[];
  /** Bearer headers of a caller (default user-1 of the org, role user). */
  auth(o?: { sub?: string; roles?: string[]; orgId?: string }): Promise<Record<string, string>>;
  /** A simulator's control API. */
  control<T = any>(sim: RunningSimulator<unknown>, method: string, path: string, body?: unknown): Promise<T>;
  /** A fresh Mono Connect exchange code (a new account linked in the simulator's widget). */
  monoCode(): Promise<{ code: string; accountId: string }>;
  close(): Promise<void>;
}

export async function control<T = any>(sim: RunningSimulator<unknown>, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${sim.url}/__sandbox${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** sync-api over its own database, Redis prefix and NATS namespace, with the three provider simulators. */
export async function startLinkEnv(): Promise<LinkEnv> {
  const [mono, momo, airtel] = await Promise.all([
    startMono({ port: 0, seed: 13, epoch: SIM_EPOCH, accounts: 2 }),
    startMomo({ port: 0, seed: 13, epoch: SIM_EPOCH, accounts: 4, referencesPerAccount: 2, provisioningApi: 'always' }),
    startAirtel({ port: 0, seed: 13, epoch: SIM_EPOCH, accounts: 4, referencesPerAccount: 2 }),
  ]);
  const api = await startApi({
    config: {
      MONO_BASE_URL: mono.url,
      MOMO_BASE_URL: momo.url,
      AIRTEL_BASE_URL: airtel.url,
      LINK_PROVIDER_TIMEOUT_MS: '5000',
    },
  });
  const orgId = await insertOrganization(api.db.pool, 'linking org');
  const otherOrgId = await insertOrganization(api.db.pool, 'other org');
  const momoAccounts = (await control<{ accounts: MomoSimAccount[] }>(momo, 'GET', '/accounts?offset=0&limit=10')).accounts;
  const airtelAccounts = (await control<{ accounts: AirtelSimAccount[] }>(airtel, 'GET', '/accounts?offset=0&limit=10')).accounts;
  return {
    api,
    mono,
    momo,
    airtel,
    orgId,
    otherOrgId,
    momoAccounts,
    airtelAccounts,
    auth: async (o = {}) => bearer(await token({ orgId: o.orgId ?? orgId, sub: o.sub ?? 'user-1', roles: o.roles ?? ['user'] })),
    control,
    async monoCode() {
      const res = await fetch(`${mono.url}/v2/accounts/initiate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'mono-sec-key': 'test_sk_sandbox_mono' },
        body: JSON.stringify({ scope: 'auth', customer: { name: 'Test Customer', email: 'test@example.com' } }),
      });
      const link = (await res.json()) as { data: { mono_url: string } };
      const linkCode = link.data.mono_url.split('/').pop()!;
      const done = await control<{ account: string; exchangeCode: string }>(mono, 'POST', `/link/${linkCode}/complete`);
      return { code: done.exchangeCode, accountId: done.account };
    },
    async close() {
      await api.close();
      await Promise.all([mono.close(), momo.close(), airtel.close()]);
    },
  };
}

export function momoLinkBody(a: MomoSimAccount, over: Record<string, unknown> = {}) {
  return {
    apiUser: a.credentials.apiUser,
    apiKey: a.credentials.apiKey,
    subscriptionKeys: a.credentials.subscriptionKeys,
    currency: a.currency,
    displayName: 'Shop till',
    ...over,
  };
}

export function airtelLinkBody(a: AirtelSimAccount, over: Record<string, unknown> = {}) {
  return {
    clientId: a.credentials.clientId,
    clientSecret: a.credentials.clientSecret,
    country: a.country,
    currency: a.currency,
    ...over,
  };
}
