import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** A named readiness probe: resolves when the dependency is usable, rejects (or throws) when not. */
export type ReadinessCheck = () => Promise<void>;

export interface HealthServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** Per-check time limit; a slow dependency counts as not ready. */
  checkTimeoutMs?: number;
}

/**
 * The operations endpoint every service exposes:
 * - `GET /healthz` — liveness: the event loop answers. Stays 200 while the process drains on
 *   shutdown (a failing liveness probe would get the pod killed mid-drain); readiness fails instead.
 * - `GET /readyz`  — readiness: 503 `starting` until the service calls `markStarted()` (after its
 *   migrations, connections and consumers are up), 503 while no check is registered, and then
 *   every registered check passes within its time limit and no dependency is marked degraded
 *   (503 + which failed otherwise; the reason is the error class only, never a message that could
 *   hold secrets).
 * - `GET /metrics` — Prometheus exposition of the process registry.
 */
export class HealthServer {
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly degraded = new Map<string, string>();
  private server: Server | undefined;
  private started = false;
  private shuttingDown = false;

  constructor(private readonly opts: HealthServerOptions) {}

  addReadinessCheck(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** The service is up (connections made, consumers started): readiness now follows the checks. */
  markStarted(): void {
    this.started = true;
  }

  /**
   * Fails readiness for `name` until `clearDegraded(name)`, e.g. while a dependency the service
   * found unreachable at run time is out. `reason` is reported as is: give a short fixed phrase
   * (`'unreachable'`), never an error message that could hold a URL or secret.
   */
  setDegraded(name: string, reason: string): void {
    this.degraded.set(name, reason);
  }

  clearDegraded(name: string): void {
    this.degraded.delete(name);
  }

  /** Marks the process as going away: readiness fails at once so traffic drains. */
  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  async readiness(): Promise<{
    ready: boolean;
    status: 'ready' | 'starting' | 'no checks' | 'unready';
    checks: Record<string, 'ok' | string>;
  }> {
    if (!this.started && !this.shuttingDown) return { ready: false, status: 'starting', checks: {} };
    const timeoutMs = this.opts.checkTimeoutMs ?? 2000;
    const results: Record<string, string> = {};
    await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            check(),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
            }),
          ]);
          results[name] = 'ok';
        } catch (err) {
          results[name] = err instanceof Error && err.message === 'timeout' ? 'timeout' : err instanceof Error ? err.name : 'failed';
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    for (const [name, reason] of this.degraded) results[name] = reason === 'ok' || reason === '' ? 'degraded' : reason;
    if (this.shuttingDown) results['shutdown'] = 'shutting down';
    if (Object.keys(results).length === 0) return { ready: false, status: 'no checks', checks: results };
    const ready = Object.values(results).every((r) => r === 'ok');
    return { ready, status: ready ? 'ready' : 'unready', checks: results };
  }

  async start(): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const send = (status: number, body: string, type = 'application/json') => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(body);
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, JSON.stringify({ error: 'method not allowed' }));
      if (path === '/healthz') {
        return send(200, JSON.stringify({ status: this.shuttingDown ? 'shutting down' : 'ok' }));
      }
      if (path === '/readyz') {
        void this.readiness().then((r) => send(r.ready ? 200 : 503, JSON.stringify(r)));
        return;
      }
      if (path === '/metrics') {
        void this.opts.registry
          .metrics()
          .then((text) => send(200, text, this.opts.registry.contentType))
          .catch(() => send(500, JSON.stringify({ error: 'metrics collection failed' })));
        return;
      }
      send(404, JSON.stringify({ error: 'not found' }));
    });
    server.keepAliveTimeout = 5000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host ?? '0.0.0.0', () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
