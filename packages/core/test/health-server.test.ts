import { Counter } from 'prom-client';
import { HealthServer } from '../src/health-server';
import { createMetricsRegistry } from '../src/metrics';

interface Readyz {
  ready: boolean;
  status: string;
  checks: Record<string, string>;
}

async function readyz(base: string): Promise<{ status: number; body: Readyz; text: string }> {
  const res = await fetch(`${base}/readyz`);
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Readyz, text };
}

describe('HealthServer', () => {
  let server: HealthServer;
  let base: string;
  let dbUp = true;

  beforeAll(async () => {
    const registry = createMetricsRegistry('health-test');
    new Counter({ name: 'intellifin_sync_test_total', help: 'test counter', registers: [registry] }).inc(3);
    server = new HealthServer({ port: 0, host: '127.0.0.1', registry, checkTimeoutMs: 200 });
    base = `http://127.0.0.1:${await server.start()}`;
  });
  afterAll(() => server.stop());

  it('serves liveness and Prometheus metrics with the service label', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('intellifin_sync_test_total{service="health-test"} 3');
    expect(metrics).toContain('process_cpu_user_seconds_total');
  });

  it('is not ready while starting, even with passing checks, and not ready with no check at all', async () => {
    // Listening, no check, not started: the state every service is in while it migrates and connects.
    expect(await readyz(base)).toMatchObject({ status: 503, body: { ready: false, status: 'starting' } });
    server.addReadinessCheck('postgres', async () => {
      if (!dbUp) throw new Error('connection refused: password=hunter2');
    });
    expect(await readyz(base)).toMatchObject({ status: 503, body: { status: 'starting' } });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('started without any check is still not ready', async () => {
    const registry = createMetricsRegistry('health-test-empty');
    const empty = new HealthServer({ port: 0, host: '127.0.0.1', registry });
    const emptyBase = `http://127.0.0.1:${await empty.start()}`;
    try {
      empty.markStarted();
      expect(await readyz(emptyBase)).toMatchObject({ status: 503, body: { ready: false, status: 'no checks', checks: {} } });
      empty.addReadinessCheck('nats', async () => undefined);
      expect(await readyz(emptyBase)).toMatchObject({ status: 200, body: { ready: true, status: 'ready', checks: { nats: 'ok' } } });
    } finally {
      await empty.stop();
    }
  });

  it('reports readiness per check once started, without leaking error messages', async () => {
    server.markStarted();
    dbUp = true;
    expect(await readyz(base)).toMatchObject({ status: 200, body: { ready: true, checks: { postgres: 'ok' } } });
    dbUp = false;
    const r = await readyz(base);
    expect(r.status).toBe(503);
    expect(r.body.checks.postgres).toBe('Error');
    expect(r.text).not.toContain('hunter2');
    dbUp = true;
  });

  it('a dependency marked degraded fails readiness until cleared', async () => {
    expect((await readyz(base)).status).toBe(200);
    server.setDegraded('redis', 'unreachable');
    expect(await readyz(base)).toMatchObject({ status: 503, body: { ready: false, checks: { postgres: 'ok', redis: 'unreachable' } } });
    // A degraded name overrides a passing check of the same name, and 'ok' as a reason cannot pass.
    server.setDegraded('postgres', 'ok');
    expect((await readyz(base)).body.checks.postgres).toBe('degraded');
    server.clearDegraded('postgres');
    server.clearDegraded('redis');
    expect(await readyz(base)).toMatchObject({ status: 200, body: { ready: true, checks: { postgres: 'ok' } } });
    expect((await readyz(base)).body.checks).not.toHaveProperty('redis');
  });

  it('fails a check that does not answer in time', async () => {
    server.addReadinessCheck('slow', () => new Promise(() => undefined));
    const r = await readyz(base);
    expect(r.status).toBe(503);
    expect(r.body.checks.slow).toBe('timeout');
  });

  it('turns unready but stays live while shutting down; unknown paths are 404', async () => {
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    server.markShuttingDown();
    const live = await fetch(`${base}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'shutting down' });
    expect((await readyz(base)).status).toBe(503);
  });
});
