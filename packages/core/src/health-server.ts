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
 * - `GET /readyz`  — readiness: every registered check passes within its time limit (503 + which
 *   failed otherwise; the reason is the error class only, never a message that could hold secrets).
 * - `GET /metrics` — Prometheus exposition of the process registry.
 */
export class HealthServer {
  private readonly checks = new Map<string, ReadinessCheck>();
  private server: Server | undefined;
  private shuttingDown = false;

  constructor(private readonly opts: HealthServerOptions) {}

  addReadinessCheck(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** Marks the process as going away: readiness fails at once so traffic drains. */
  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  async readiness(): Promise<{ ready: boolean; checks: Record<string, 'ok' | string> }> {
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
    if (this.shuttingDown) results['shutdown'] = 'shutting down';
    return { ready: Object.values(results).every((r) => r === 'ok'), checks: results };
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
