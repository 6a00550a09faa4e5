import { jetstreamManager } from '@nats-io/jetstream';
import { createTopology, ensureTopology, deleteTopology, connectNats } from '@intellifin/messaging';
import { insertAccount, insertOrganization, insertUser } from '@intellifin/persistence';
import { startMono, type RunningSimulator } from '@intellifin/sandbox';
import { infrastructureUrls, uniqueSuffix, waitFor } from '@intellifin/testing';
import type { MonoWorker } from '@intellifin/mono-worker/src/app';
import { bearer, startApi, token, type ApiEnv } from './helpers';
import { startMonoWorker } from './mono-worker.helpers';

/**
 * Provider request summaries per run: a mono-worker run against the Mono simulator that answers the
 * first transactions request with 429 + Retry-After and then serves it; the run read back over REST
 * lists both requests (route template, status, Retry-After) and the totals.
 */
describe('run detail: the provider requests the run made', () => {
  let mono: RunningSimulator<unknown>;
  let env: ApiEnv;
  let worker: MonoWorker | undefined;
  let accountId: string;
  let providerId: string;
  let user: string;
  let operator: string;
  const topology = createTopology({ namespace: `t${uniqueSuffix()}` });

  beforeAll(async () => {
    mono = await startMono({
      port: 0,
      seed: 13,
      epoch: '2026-03-02T00:00:00.000Z',
      clock: 'manual',
      accounts: 1,
      transactionsPerAccount: 8,
    });
    const nc = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'sync-api-run-requests' });
    await ensureTopology(await jetstreamManager(nc), topology);
    env = await startApi({ topology, nc, config: { MANUAL_SYNC_INTERVAL_MS: '1000' } });
    const orgId = await insertOrganization(env.db.pool, 'Requests org');
    const userId = await insertUser(env.db.pool, orgId, 'user-1');
    const list = (await (await fetch(`${mono.url}/__sandbox/accounts?limit=1`)).json()) as { accounts: { id: string; currency: string }[] };
    providerId = list.accounts[0]!.id;
    accountId = (
      await insertAccount(env.db.pool, {
        orgId,
        userId,
        provider: 'mono',
        providerAccountId: providerId,
        type: 'bank',
        currency: list.accounts[0]!.currency,
      })
    ).id;
    user = await token({ orgId, sub: 'user-1' });
    operator = await token({ orgId, sub: 'op-1', roles: ['operator'] });
    worker = await startMonoWorker({
      nc: nc,
      topology: topology,
      db: env.db,
      redis: env.redis,
      mono,
      workerId: 'requests-worker',
      over: {
        mono: { baseUrl: mono.url, secretKey: 'test_sk_sandbox_mono', timeoutMs: 5_000, pageSize: 50 },
        leaseTtlMs: 10_000,
        concurrency: 1,
      },
    });
  });

  afterAll(async () => {
    await worker?.stop(2_000).catch(() => undefined);
    const nc = env?.nc;
    await env?.close();
    if (nc) {
      await deleteTopology(await jetstreamManager(nc), topology).catch(() => undefined);
      await nc.close();
    }
    await mono?.close();
  });

  it('a 429 with Retry-After, then the page: both listed with status and retry-after, nothing secret', async () => {
    const fault = await fetch(`${mono.url}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        route: 'GET /v2/accounts/:id/transactions',
        account: providerId,
        kind: 'status',
        status: 429,
        retryAfter: 1,
        times: 1,
      }),
    });
    expect(fault.ok).toBe(true);
    const res = await env.http({ method: 'POST', url: `/v1/accounts/${accountId}/sync`, headers: bearer(user), payload: {} });
    expect(res.statusCode).toBe(202);
    const run = await waitFor(async () => {
      const runs = (await env.http({ url: `/v1/accounts/${accountId}/sync-runs`, headers: bearer(user) })).json().runs;
      return runs[0] && runs[0].outcome !== 'running' ? runs[0] : null;
    }, 'the run to finish');
    expect(run.outcome).toBe('succeeded');

    const detailRes = await env.http({ url: `/v1/accounts/${accountId}/sync-runs/${run.id}`, headers: bearer(user) });
    expect(detailRes.statusCode).toBe(200);
    const detail = detailRes.json();
    expect(detail).toHaveProperty('traceId');
    const r = detail.requests;
    const all = [...r.first, ...r.last];
    expect(r.total).toBe(all.length + r.omitted);
    const tx = all.filter((q: { route: string }) => q.route === 'GET /v2/accounts/:id/transactions');
    expect(tx[0]).toMatchObject({ status: 429, retryAfterMs: 1_000 });
    expect(tx[1]).toMatchObject({ status: 200, retryAfterMs: null });
    expect(tx[1].atMs).toBeGreaterThanOrEqual(tx[0].atMs);
    expect(r.totals).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ route: 'GET /v2/accounts/:id/transactions', status: 429, count: 1 }),
        expect.objectContaining({ route: 'GET /v2/accounts/:id/transactions', status: 200 }),
      ]),
    );
    // Routes are templates: no provider account id, no query string, no key anywhere in the summary.
    const text = JSON.stringify(r);
    expect(text).not.toContain(providerId);
    expect(text).not.toContain('?');
    expect(text).not.toContain('test_sk_sandbox_mono');
    // The simulator saw exactly what the summary lists for the run's transactions route.
    const log = (await (await fetch(`${mono.url}/__sandbox/requests?account=${providerId}`)).json()) as {
      requests: { method: string; route: string; status: number }[];
    };
    const seen = log.requests.filter((q) => `${q.method} ${q.route}` === 'GET /v2/accounts/:id/transactions').map((q) => q.status);
    expect(tx.map((q: { status: number }) => q.status)).toEqual(seen);
  });

  it('a failed run keeps its requests too; its dead letter is listed for the operator and a replay runs it again', async () => {
    const fault = await fetch(`${mono.url}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ route: 'GET /v2/accounts/:id/transactions', account: providerId, kind: 'status', status: 400, times: 1 }),
    });
    expect(fault.ok).toBe(true);
    const before = (await env.http({ url: `/v1/accounts/${accountId}/sync-runs`, headers: bearer(user) })).json().runs.length;
    // The per-account limit is 1 s here: the first test's slot may still be taken for a moment.
    const queued = await waitFor(async () => {
      const r = await env.http({ method: 'POST', url: `/v1/accounts/${accountId}/sync`, headers: bearer(user), payload: { mode: 'full' } });
      return r.statusCode === 202 ? r.json() : null;
    }, 'the manual sync to be accepted');
    const failed = await waitFor(async () => {
      const runs = (await env.http({ url: `/v1/accounts/${accountId}/sync-runs`, headers: bearer(user) })).json().runs;
      return runs.length > before && runs[0].outcome !== 'running' ? runs[0] : null;
    }, 'the run to fail');
    expect(failed).toMatchObject({ outcome: 'failed', commandId: queued.commandId });
    const detail = (await env.http({ url: `/v1/accounts/${accountId}/sync-runs/${failed.id}`, headers: bearer(user) })).json();
    expect(detail.requests.first).toEqual(
      expect.arrayContaining([expect.objectContaining({ route: 'GET /v2/accounts/:id/transactions', status: 400, retryAfterMs: null })]),
    );

    // The permanent failure dead-lettered the command: the operator sees it and replays it.
    const dl = await waitFor(async () => {
      const list = (await env.http({ url: '/v1/dead-letters', headers: bearer(operator) })).json().deadLetters;
      return list.find((d: { commandId: string }) => d.commandId === queued.commandId) ?? null;
    }, 'the dead letter');
    expect(dl).toMatchObject({ accountId, provider: 'mono', lane: 'priority', error: { kind: 'permanent' } });
    const replay = await env.http({ method: 'POST', url: `/v1/dead-letters/${dl.id}/replay`, headers: bearer(operator) });
    expect(replay.statusCode).toBe(200);
    const rerun = await waitFor(async () => {
      const runs = (await env.http({ url: `/v1/accounts/${accountId}/sync-runs`, headers: bearer(user) })).json().runs;
      return runs[0].id !== failed.id && runs[0].outcome !== 'running' ? runs[0] : null;
    }, 'the replayed command to run');
    expect(rerun).toMatchObject({ outcome: 'succeeded', commandId: queued.commandId, mode: 'full' });
    expect((await env.http({ url: '/v1/dead-letters', headers: bearer(operator) })).json().deadLetters).toEqual([]);
  }, 150_000);
});
