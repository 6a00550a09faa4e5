import { providerRequestObserver } from './metrics';
import { RunRequestLog } from './request-log';
import { currentRunRequests, runWithFence } from './run-context';

describe('RunRequestLog: a bounded summary of the provider requests of a run', () => {
  it('keeps the first and last requests in full and counts every one by route and status', () => {
    let t = 0;
    const log = new RunRequestLog({ head: 3, tail: 2, maxTotals: 50 }, () => t);
    for (let i = 0; i < 10; i++) {
      t += 100;
      log.record('GET /v2/accounts/:id/transactions', i === 0 ? 429 : 200, 0.05, i === 0 ? 1_000 : undefined);
    }
    const s = log.summary();
    expect(s.total).toBe(10);
    expect(s.first).toHaveLength(3);
    expect(s.last).toHaveLength(2);
    expect(s.omitted).toBe(5);
    expect(s.first[0]).toEqual({ atMs: 50, route: 'GET /v2/accounts/:id/transactions', status: 429, durationMs: 50, retryAfterMs: 1_000 });
    expect(s.last.map((e) => e.atMs)).toEqual([850, 950]);
    expect(s.totals).toEqual([
      { route: 'GET /v2/accounts/:id/transactions', status: 200, count: 9, totalMs: 450, maxMs: 50 },
      { route: 'GET /v2/accounts/:id/transactions', status: 429, count: 1, totalMs: 50, maxMs: 50 },
    ]);
  });

  it('stays bounded: route/status pairs past the bound are counted as `other`, query strings are cut', () => {
    const log = new RunRequestLog({ head: 1, tail: 1, maxTotals: 2 });
    for (let i = 0; i < 1_000; i++) log.record(`GET /r${i}?token=secret`, 200, 0.001);
    const s = log.summary();
    expect(s.first).toHaveLength(1);
    expect(s.last).toHaveLength(1);
    expect(s.totals).toHaveLength(3);
    expect(s.totals[0]).toMatchObject({ route: 'other', status: 200, count: 998 });
    expect(JSON.stringify(s)).not.toContain('secret');
  });

  it('the provider request observer records into the current run only', async () => {
    const observe = providerRequestObserver(undefined, 'mono');
    const log = new RunRequestLog();
    observe('GET /outside', 200, 0.01);
    await runWithFence(
      7n,
      async () => {
        await Promise.resolve();
        expect(currentRunRequests()).toBe(log);
        observe('GET /inside', 503, 0.02, 2_000);
      },
      log,
    );
    expect(log.summary().first).toEqual([expect.objectContaining({ route: 'GET /inside', status: 503, retryAfterMs: 2_000 })]);
  });
});
