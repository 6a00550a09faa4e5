/**
 * Fault proxies (`@intellifin/testing` startFaultProxy) in front of NATS, Redis, Postgres and each
 * simulator: every service connects through them, so the nemesis can delay, black-hole, cut and
 * reset traffic; the harness and the checker connect directly.
 */
import { startFaultProxy, type FaultProxy } from '@intellifin/testing/src/fault-proxy';
import type { SimulatorName, SimulatorUrls } from './simulators';

export type ProxiedTarget = 'nats' | 'redis' | 'postgres' | SimulatorName;

export interface Proxies {
  get(target: ProxiedTarget): FaultProxy;
  all(): FaultProxy[];
  /** The URL a service uses for `directUrl` (same credentials and path, the proxy's port). */
  url(target: ProxiedTarget, directUrl: string): string;
  passAll(): void;
  close(): Promise<void>;
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

export async function startProxies(direct: { nats: string; redis: string; pg: string }, sims: SimulatorUrls): Promise<Proxies> {
  const targets: Record<ProxiedTarget, number> = {
    nats: portOf(direct.nats),
    redis: portOf(direct.redis),
    postgres: portOf(direct.pg),
    mono: portOf(sims.mono),
    momo: portOf(sims.momo),
    airtel: portOf(sims.airtel),
    onesignal: portOf(sims.onesignal),
  };
  const proxies = new Map<ProxiedTarget, FaultProxy>();
  try {
    for (const [name, port] of Object.entries(targets) as [ProxiedTarget, number][])
      proxies.set(name, await startFaultProxy({ target: { host: '127.0.0.1', port } }));
  } catch (err) {
    await Promise.all([...proxies.values()].map((p) => p.close()));
    throw err;
  }
  const get = (t: ProxiedTarget) => proxies.get(t)!;
  return {
    get,
    all: () => [...proxies.values()],
    url: (t, directUrl) => get(t).url(directUrl),
    passAll: () => proxies.forEach((p) => p.pass()),
    close: async () => void (await Promise.all([...proxies.values()].map((p) => p.close()))),
  };
}
