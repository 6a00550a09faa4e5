import { Counter } from 'prom-client';
import { HealthServer } from '../src/health-server';
import { createMetricsRegistry } from '../src/metrics';

describe('HealthServer', () => {
  let server: HealthServer;
  let base: string;
  let dbUp = true;

  beforeAll(async () => {
    const registry = createMetricsRegistry('health-test');
    new Counter({ name: 'intellifin_sync_test_total', help: 'test counter', registers: [registry] }).inc(3);
    server = new HealthServer({ port: 0, host: '127.0.0.1', registry, checkTimeoutMs: 200 });
    server.addReadinessCheck('postgres', async () => {
      if (!dbUp) throw new Error('connection refused: password=hunter2');
    });
    base = `http://127.0.0.1:${await server.start()}`;
  });
  afterAll(() => server.stop());

  it('serves liveness and Prometheus metrics with the service label', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('intellifin_sync_test_total{service="health-test"} 3');
    expect(metrics).toContain('process_cpu_user_seconds_total');
  });

  it('reports readiness per check, without leaking error messages', async () => {
    dbUp = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    dbUp = false;
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(JSON.parse(body).checks.postgres).toBe('Error');
    expect(body).not.toContain('hunter2');
  });

  it('fails a check that does not answer in time', async () => {
    server.addReadinessCheck('slow', () => new Promise(() => undefined));
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { checks: Record<string, string> }).checks.slow).toBe('timeout');
  });

  it('turns unready but stays live while shutting down; unknown paths are 404', async () => {
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    server.markShuttingDown();
    const live = await fetch(`${base}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'shutting down' });
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
  });
});
