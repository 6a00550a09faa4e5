/**
 * The provider simulators' process (`simulators-main.ts`) and the control calls the nemesis makes
 * on them (`/__sandbox/…`: faults, revoked consent, expired tokens). The simulators are the ground
 * truth the checker compares against.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fetchSandboxAccounts, type SandboxAccountListing, type SandboxProvider } from '@intellifin/persistence';
import { TIMERS } from '../config';
import type { Rng } from '../prng';

export type SimulatorName = SandboxProvider | 'onesignal';
export type SimulatorUrls = Record<SimulatorName, string>;

export interface SimulatorsOptions {
  seed: number;
  accounts: number;
  monoTransactionsPerAccount: number;
}

export interface Simulators {
  urls: SimulatorUrls;
  pid(): number | undefined;
  accounts(provider: SandboxProvider): Promise<SandboxAccountListing[]>;
  control(sim: SimulatorName, path: string, body?: unknown, method?: string): Promise<unknown>;
  stop(): Promise<void>;
}

/** Splits `total` accounts over the providers: about a third each (Mono gets the remainder). */
export function accountsPerProvider(total: number): Record<SandboxProvider, number> {
  const third = Math.floor(total / 3);
  return { mono: total - 2 * third, momo: third, airtel: third };
}

export async function startSimulators(root: string, o: SimulatorsOptions): Promise<Simulators> {
  const config = {
    seed: o.seed,
    accounts: accountsPerProvider(o.accounts),
    monoTransactionsPerAccount: o.monoTransactionsPerAccount,
    // Short-lived tokens: they expire (and are refreshed) during the runs.
    momoTokenTtlSeconds: 40,
    airtelTokenTtlSeconds: 30,
  };
  const child: ChildProcess = spawn(
    process.execPath,
    ['--max-old-space-size=1024', '--import', 'tsx', join(root, 'chaos/src/env/simulators-main.ts'), JSON.stringify(config)],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const urls = await new Promise<SimulatorUrls>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the simulators did not start within 60 s')), 60_000);
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as SimulatorUrls);
      } catch {
        reject(new Error(`the simulators printed "${line.slice(0, 200)}" instead of their URLs`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the simulators exited with code ${code} before listening`));
    });
  });
  const control = async (sim: SimulatorName, path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') => {
    const res = await fetch(`${urls[sim]}/__sandbox/${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw new Error(`${sim} ${method} /__sandbox/${path} answered ${res.status}`);
    const text = await res.text();
    return text ? (JSON.parse(text) as unknown) : undefined;
  };
  return {
    urls,
    pid: () => child.pid,
    accounts: (p) => fetchSandboxAccounts(urls[p]),
    control,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise<void>((r) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, 5_000);
        child.once('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    },
  };
}

/**
 * The background provider faults of every scenario (reliability-research §5.6): per request 5 %
 * 5xx, 1 % 429 with Retry-After 1–3 s, 0.5 % hang past the client timeout, and 20–60 ms latency on
 * a third of requests. The draws are the simulators' own: deterministic in (seed, rule, route,
 * account, request number).
 */
export function providerFaultRules(): unknown[] {
  return [
    { route: '*', kind: 'status', status: 500, probability: 0.02 },
    { route: '*', kind: 'status', status: 502, probability: 0.015 },
    { route: '*', kind: 'status', status: 503, probability: 0.015 },
    { route: '*', kind: 'status', status: 429, retryAfter: 1, probability: 0.005 },
    { route: '*', kind: 'status', status: 429, retryAfter: 3, probability: 0.005 },
    { route: '*', kind: 'hang', hangMs: TIMERS.providerTimeoutMs + 3_000, probability: 0.005 },
    { route: '*', kind: 'latency', latencyMs: 20, probability: 0.34 },
    { route: '*', kind: 'latency', latencyMs: 40, probability: 0.2 },
  ];
}

export interface ConsentPlan {
  /** Provider account ids whose consent/credentials are revoked before the load starts (→ auth_required). */
  revoked: Record<SandboxProvider, string[]>;
  /** Wallet accounts whose tokens the nemesis expires during the run (→ refreshed, success). */
  expiring: Record<'momo' | 'airtel', string[]>;
}

/** Picks ~1 % revoked (MoMo, Airtel) and ~2 % token-expiring wallet accounts, from the seed. */
export function planConsent(rng: Rng, listings: Record<SandboxProvider, SandboxAccountListing[]>): ConsentPlan {
  const pick = (list: SandboxAccountListing[], share: number, exclude = new Set<string>()) =>
    rng
      .shuffle(list.filter((a) => !exclude.has(a.id)))
      .slice(0, Math.max(1, Math.round(list.length * share)))
      .map((a) => a.id);
  // Mono is not revoked: a revoked Mono consent freezes the statement, which keeps being served, so
  // a scheduled (non-real-time) run cannot see it; only Mono's reauthorisation_required webhook
  // tells, and sync-api does not route Mono webhooks in this build (docs/reliability.md, findings).
  const revoked = { mono: [] as string[], momo: pick(listings.momo, 0.01), airtel: pick(listings.airtel, 0.01) };
  return {
    revoked,
    expiring: {
      momo: pick(listings.momo, 0.02, new Set(revoked.momo)),
      airtel: pick(listings.airtel, 0.02, new Set(revoked.airtel)),
    },
  };
}

export async function applyConsent(sims: Simulators, plan: ConsentPlan): Promise<void> {
  for (const p of ['mono', 'momo', 'airtel'] as const)
    for (const id of plan.revoked[p])
      await sims.control(p, `accounts/${encodeURIComponent(id)}/revoke`, p === 'mono' ? { mode: 'reauth', notify: false } : {});
}

/** Expires the listed wallet accounts' tokens now (the workers must refresh them). */
export async function expireTokens(sims: Simulators, plan: ConsentPlan): Promise<void> {
  for (const p of ['momo', 'airtel'] as const) for (const id of plan.expiring[p]) await sims.control(p, 'tokens/expire', { account: id });
}
