import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Registry } from '@intellifin/core';
import { createTopology, ensureTopology, deleteTopology, connectNats, Publisher } from '@intellifin/messaging';
import { insertAccount, insertOrganization, insertUser } from '@intellifin/persistence';
import { startMono, type RunningSimulator } from '@intellifin/sandbox';
import { infrastructureUrls, uniqueSuffix, waitFor } from '@intellifin/testing';
import { createMonoWorker, type MonoWorker } from '@intellifin/mono-worker/src/app';
import { bearer, logger, startApi, token, type ApiEnv } from './helpers';

/**
 * "Sync now" end to end: POST /v1/accounts/:id/sync on a Mono sandbox account → the outbox relay
 * publishes on the priority lane → a mono-worker (started in-process, as its own tests do) runs the
 * sync engine against the Mono simulator → the run and the account's status read back over REST.
 */
describe('manual sync end to end (sync-api → NATS → mono-worker → Mono sandbox)', () => {
  let mono: RunningSimulator<unknown>;
  let env: ApiEnv;
  let worker: MonoWorker | undefined;
  let accountId: string;
  let providerId: string;
  let user: string;
  const topology = createTopology({ namespace: `t${uniqueSuffix()}` });

  beforeAll(async () => {
    mono = await startMono({
      port: 0,
      seed: 11,
      epoch: '2026-03-02T00:00:00.000Z',
      clock: 'manual',
      accounts: 2,
      transactionsPerAccount: 12,
    });
    const nc = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'sync-api-e2e' });
    await ensureTopology(await jetstreamManager(nc), topology);
    env = await startApi({ topology, nc });
    const orgId = await insertOrganization(env.db.pool, 'E2E org');
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

  const status = async () => (await env.http({ url: `/v1/accounts/${accountId}/sync-status`, headers: bearer(user) })).json();

  it('queued → running → succeeded with the right counts, seen through REST', async () => {
    const before = await status();
    expect(before.run.status).toBe('idle');
    expect(before.data.completeness).toBe('not_ready');

    const res = await env.http({ method: 'POST', url: `/v1/accounts/${accountId}/sync`, headers: bearer(user), payload: { mode: 'full' } });
    expect(res.statusCode).toBe(202);
    const command = res.json();
    // No worker yet: the command waits in the stream and the account shows it queued.
    const queued = await status();
    expect(queued.run).toMatchObject({ status: 'queued', commandId: command.commandId });

    // Start the worker; record every run status seen until the run is over.
    worker = createMonoWorker({
      nc: env.nc,
      js: jetstream(env.nc),
      topology,
      publisher: new Publisher({ nc: env.nc, topology }),
      pool: env.db.poolAs('intellifin_worker'),
      redis: env.redis.redis,
      logger: logger(),
      registry: new Registry(),
      workerId: 'e2e-worker',
      mono: { baseUrl: mono.url, secretKey: 'test_sk_sandbox_mono', timeoutMs: 2_000, pageSize: 5 },
      rate: { ratePerSecond: 5_000, burst: 5_000 },
      leaseTtlMs: 5_000,
      keyPrefix: env.redis.prefix,
      monoWindow: { overlapDays: 3, historyDays: 100 },
      clock: () => new Date(mono.core.clock.now()),
      concurrency: 2,
    });
    await worker.start();
    const seen: string[] = ['queued'];
    const done = await waitFor(async () => {
      const s = await status();
      if (seen[seen.length - 1] !== s.run.status) seen.push(s.run.status);
      return s.lastSuccessAt ? s : null;
    }, 'the manual sync to succeed');
    // Statuses only move forward: queued, (running,) idle — never back to queued.
    expect(['queued,idle', 'queued,running,idle']).toContain(seen.join(','));
    expect(done).toMatchObject({
      run: { status: 'idle' },
      connection: { health: 'ok' },
      data: { completeness: 'history_complete' },
      lastError: null,
    });
    expect(done.balance).toEqual({ minor: expect.stringMatching(/^-?\d+$/), currency: expect.any(String), asOf: expect.any(String) });

    // The run, read back over REST, is the one the command started, with the rows now stored.
    const runs = (await env.http({ url: `/v1/accounts/${accountId}/sync-runs?trigger=manual`, headers: bearer(user) })).json().runs;
    expect(runs).toHaveLength(1);
    const stored = await env.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM transactions WHERE account_id = $1', [accountId]);
    expect(stored.rows[0]!.n).toBeGreaterThan(0);
    const truth = (await (await fetch(`${mono.url}/__sandbox/truth?offset=0&limit=10`)).json()) as {
      accounts: { id: string; transactions: { servedNow: boolean }[] }[];
    };
    const served = truth.accounts.find((x) => x.id === providerId)!.transactions.filter((t) => t.servedNow).length;
    expect(stored.rows[0]!.n).toBe(served);
    const run = (await env.http({ url: `/v1/accounts/${accountId}/sync-runs/${runs[0].id}`, headers: bearer(user) })).json();
    expect(run).toMatchObject({
      commandId: command.commandId,
      trigger: 'manual',
      mode: 'full',
      outcome: 'succeeded',
      counts: { added: served, modified: 0 },
      worker: 'e2e-worker',
      error: null,
    });
    expect(run.pages).toBeGreaterThanOrEqual(Math.ceil(served / 5));
    expect(run.window).toEqual({ from: expect.any(String), to: expect.any(String) });
  });
});
