/**
 * A controllable TCP fault proxy for outage tests: it sits between a client under test and one of
 * the shared servers (Postgres, Redis, NATS, a provider simulator's HTTP) and cuts, delays or
 * black-holes the traffic on command, so no test ever has to stop a shared server.
 *
 *   const proxy = await startFaultProxy({ target: '127.0.0.1:5432' }); // or { host, port }
 *   const pool = new Pool({ connectionString: proxy.url(infrastructureUrls().databaseUrl) });
 *   proxy.blackhole(); … proxy.pass();
 *   afterAll(() => proxy.close());
 *
 * `startFaultProxy({ target, listenHost = '127.0.0.1', listenPort = 0, highWaterMark = 1 MiB })`
 * listens on a loopback address and forwards every accepted connection to `target` (loopback
 * only). The returned `FaultProxy`:
 * - `host`, `port`; `url(originalUrl)` rewrites a postgres://, redis://, nats:// or http:// URL
 *   that points at the target to point at the proxy, keeping user, password, path and query;
 * - modes, each applied to the open connections at once as well as to new ones:
 *   - `pass()` (the default): forward everything as it comes; also lifts `limitBandwidth`;
 *   - `delay(ms, { jitterMs })`: every chunk, both directions, is forwarded `ms` (+ up to
 *     `jitterMs`) after it arrived, never ahead of a chunk that arrived before it;
 *   - `blackhole()`: connections (open and new) stay open and every byte is swallowed, both
 *     directions — a hung server as the client sees it. Whatever a connection sent meanwhile is
 *     lost, so its protocol state is broken: after `pass()` clients must time out or be reset;
 *   - `cut()`: every open connection is reset (RST to the client and to the target) and new
 *     connections are reset as soon as they are accepted, until `pass()`;
 *   - `resetConnections()`: resets the open connections once; new ones are served as before;
 *   - `limitBandwidth(bytesPerSecond)`: caps each direction of each connection, combined with
 *     the mode; `limitBandwidth(null)` or `pass()` lifts it;
 * - `stats()`: connections accepted and open, bytes forwarded each way, swallowed and held, resets;
 * - `close()`: stops listening, resets every connection and clears every timer (idempotent).
 * Held data (delay, bandwidth) is bounded: a direction holding more than `highWaterMark` bytes
 * pauses its source socket until it is down to half of that.
 */
import { createServer, isIPv4, type Server, type Socket } from 'node:net';
import { z } from 'zod';
import { ProxiedConnection, resetSocket, type FaultCounters, type FaultMode, type FaultSettings } from './fault-proxy-pipe';

export type { FaultMode } from './fault-proxy-pipe';

export interface FaultProxyOptions {
  target: { host: string; port: number } | string;
  listenHost?: string;
  listenPort?: number;
  highWaterMark?: number;
}

export interface FaultProxyStats {
  mode: FaultMode['kind'];
  bytesPerSecond: number | null;
  connectionsAccepted: number;
  connectionsOpen: number;
  /** Bytes forwarded from clients to the target. */
  bytesToTarget: number;
  /** Bytes forwarded from the target to clients. */
  bytesToClient: number;
  /** Bytes dropped by blackhole/cut, or left over when a connection failed. */
  bytesSwallowed: number;
  /** Bytes held back right now (delay, bandwidth) across the open connections. */
  bytesHeld: number;
  /** Connections the proxy reset (cut, resetConnections, close). */
  resets: number;
}

export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  readonly target: { host: string; port: number };
  url(originalUrl: string): string;
  pass(): void;
  delay(ms: number, opts?: { jitterMs?: number }): void;
  blackhole(): void;
  cut(): void;
  resetConnections(): void;
  limitBandwidth(bytesPerSecond: number | null): void;
  stats(): FaultProxyStats;
  close(): Promise<void>;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || (isIPv4(host) && host.startsWith('127.'));
}

const port = z.number().int().min(0).max(65535);
const loopbackHost = z.string().refine(isLoopbackHost, { message: 'must be a loopback address (127.0.0.0/8, ::1 or localhost)' });
const optionsSchema = z.object({
  target: z.union([z.object({ host: loopbackHost, port: port.min(1) }), z.string()]),
  listenHost: loopbackHost.default('127.0.0.1'),
  listenPort: port.default(0),
  highWaterMark: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
});

function fail(field: string, message: string): never {
  throw new Error(`startFaultProxy: ${field} ${message}`);
}

function parseTarget(target: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target);
  if (!m) fail('target', `must be 'host:port' or { host, port }, got '${target}'`);
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const p = Number(m[2]);
  if (!isLoopbackHost(host)) fail('target', `host must be a loopback address (127.0.0.0/8, ::1 or localhost), got '${host}'`);
  if (p < 1 || p > 65535) fail('target', `port must be 1–65535, got ${p}`);
  return { host, port: p };
}

function parseOptions(opts: FaultProxyOptions) {
  const parsed = optionsSchema.safeParse(opts);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    fail(issue.path.join('.') || 'options', issue.message);
  }
  const { target, ...rest } = parsed.data;
  return {
    ...rest,
    target: typeof target === 'string' ? parseTarget(target) : { host: target.host.replace(/^\[|\]$/g, ''), port: target.port },
  };
}

const DEFAULT_PORTS: Record<string, number> = { 'postgres:': 5432, 'postgresql:': 5432, 'redis:': 6379, 'nats:': 4222, 'http:': 80 };

function rewriteUrl(originalUrl: string, target: { host: string; port: number }, host: string, listenPort: number): string {
  let u: URL;
  try {
    u = new URL(originalUrl);
  } catch {
    throw new Error('FaultProxy.url: originalUrl is not a URL');
  }
  const urlPort = u.port ? Number(u.port) : DEFAULT_PORTS[u.protocol];
  // Only the host and port are named: the URL may carry a password.
  if (!u.hostname || urlPort !== target.port || !isLoopbackHost(u.hostname)) {
    throw new Error(
      `FaultProxy.url: originalUrl points at ${u.hostname}:${urlPort ?? '?'}, not at this proxy's target port ${target.port}`,
    );
  }
  u.hostname = host.includes(':') ? `[${host}]` : host;
  u.port = String(listenPort);
  return u.toString();
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const { target, listenHost, listenPort, highWaterMark } = parseOptions(opts);
  const settings: FaultSettings = { mode: { kind: 'pass' }, bytesPerSecond: null, highWaterMark };
  const getSettings = () => settings;
  const counters: FaultCounters = { bytesToTarget: 0, bytesToClient: 0, bytesSwallowed: 0, resets: 0 };
  const open = new Set<ProxiedConnection>();
  const refused = new Set<Socket>();
  let accepted = 0;
  let closing: Promise<void> | undefined;

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    accepted += 1;
    client.on('error', () => undefined);
    if (settings.mode.kind === 'cut' || closing) {
      counters.resets += 1;
      refused.add(client);
      client.once('close', () => refused.delete(client));
      resetSocket(client);
      return;
    }
    open.add(new ProxiedConnection(client, target, getSettings, counters, (c) => open.delete(c)));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, listenHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('startFaultProxy: the server has no TCP address');

  const setMode = (mode: FaultMode) => {
    settings.mode = mode;
    if (mode.kind === 'cut') for (const c of [...open]) c.reset();
    else for (const c of open) c.onSettingsChanged();
  };

  return {
    host: address.address,
    port: address.port,
    target,
    url: (originalUrl) => rewriteUrl(originalUrl, target, address.address, address.port),
    pass: () => {
      settings.bytesPerSecond = null;
      setMode({ kind: 'pass' });
    },
    delay: (ms, delayOpts = {}) => {
      const jitterMs = delayOpts.jitterMs ?? 0;
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`FaultProxy.delay: ms must be a finite number ≥ 0, got ${ms}`);
      if (!Number.isFinite(jitterMs) || jitterMs < 0)
        throw new Error(`FaultProxy.delay: jitterMs must be a finite number ≥ 0, got ${jitterMs}`);
      setMode({ kind: 'delay', ms, jitterMs });
    },
    blackhole: () => setMode({ kind: 'blackhole' }),
    cut: () => setMode({ kind: 'cut' }),
    resetConnections: () => {
      for (const c of [...open]) c.reset();
    },
    limitBandwidth: (bytesPerSecond) => {
      if (bytesPerSecond !== null && !(Number.isFinite(bytesPerSecond) && bytesPerSecond > 0)) {
        throw new Error(`FaultProxy.limitBandwidth: bytesPerSecond must be a positive number or null, got ${bytesPerSecond}`);
      }
      settings.bytesPerSecond = bytesPerSecond;
      for (const c of open) c.onSettingsChanged();
    },
    stats: () => ({
      mode: settings.mode.kind,
      bytesPerSecond: settings.bytesPerSecond,
      connectionsAccepted: accepted,
      connectionsOpen: open.size,
      ...counters,
      bytesHeld: [...open].reduce((sum, c) => sum + c.bytesHeld, 0),
    }),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of [...open]) c.reset();
        for (const s of refused) s.destroy();
      });
      return closing;
    },
  };
}
