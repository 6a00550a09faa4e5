import { jetstreamManager } from '@nats-io/jetstream';
import { createTopology, ensureTopology, deleteTopology, connectNats } from '@intellifin/messaging';
import { insertAccount, insertOrganization, insertUser } from '@intellifin/persistence';
import { startMono, type RunningSimulator } from '@intellifin/sandbox';
import { infrastructureUrls, uniqueSuffix, waitFor } from '@intellifin/testing';
import type { MonoWorker } from '@intellifin/mono-worker/src/app';
import {
  AccountStatus,
  ConnectionHealth,
  DataCompleteness,
  RunOutcome,
  RunStatus,
  SyncMode,
  SyncStatusChangeKind,
  SyncTrigger,
  type GetAccountStatusResponse,
  type GetSyncRunResponse,
  type ListSyncRunsResponse,
  type TriggerSyncResponse,
  type WatchSyncStatusResponse,
} from '@intellifin/proto';
import { bearer, startApi, token, type ApiEnv } from './helpers';
import { startMonoWorker } from './mono-worker.helpers';
import { auth, startGrpc, unary } from './grpc-helpers';
import { openSse } from './sse-helpers';

/**
 * "Sync now" end to end: POST /v1/accounts/:id/sync (or gRPC TriggerSync) on a Mono sandbox
 * account → the outbox relay publishes on the priority lane → a mono-worker (started in-process, as
 * its own tests do) runs the sync engine against the Mono simulator → the run and the account's
 * status read back over REST and gRPC, and its life (queued → run_started → run_finished) seen live
 * on the gRPC watch stream and SSE.
 */
describe('manual sync end to end (sync-api → NATS → mono-worker → Mono sandbox)', () => {
  let mono: RunningSimulator<unknown>;
  let env: ApiEnv;
  let worker: MonoWorker | undefined;
  let accountId: string;
  let providerId: string;
  let user: string;
  let accountId2: string;
  let providerId2: string;
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
    const second = (await (await fetch(`${mono.url}/__sandbox/accounts?limit=2`)).json()) as {
      accounts: { id: string; currency: string }[];
    };
    providerId2 = second.accounts[1]!.id;
    accountId2 = (
      await insertAccount(env.db.pool, {
        orgId,
        userId,
        provider: 'mono',
        providerAccountId: providerId2,
        type: 'bank',
        currency: second.accounts[1]!.currency,
      })
    ).id;
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

  /** The in-process mono-worker (started once, by whichever test needs it first). */
  async function startWorker(): Promise<void> {
    if (worker) return;
    worker = await startMonoWorker({ nc: env.nc, topology: topology, db: env.db, redis: env.redis, mono, workerId: 'e2e-worker' });
  }

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
    await startWorker();
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

  /** Rows the simulator serves now for one of its accounts (what a full sync must store). */
  async function servedNow(providerAccountId: string): Promise<number> {
    const truth = (await (await fetch(`${mono.url}/__sandbox/truth?offset=0&limit=10`)).json()) as {
      accounts: { id: string; transactions: { servedNow: boolean }[] }[];
    };
    return truth.accounts.find((x) => x.id === providerAccountId)!.transactions.filter((t) => t.servedNow).length;
  }

  it('TriggerSync over gRPC: queued → running → succeeded, seen through gRPC reads, the watch stream, SSE and REST', async () => {
    const g = await startGrpc(env);
    const md = () => auth(user);
    const watched: WatchSyncStatusResponse[] = [];
    const watch = g.client.watchSyncStatus({ accountIds: [accountId2], providers: [], sendInitial: true }, md());
    watch.on('data', (m: WatchSyncStatusResponse) => watched.push(m));
    watch.on('error', () => undefined);
    const sse = await openSse(env.baseUrl, `/v1/events?accountId=${accountId2}`, bearer(user));
    try {
      await waitFor(async () => (watched.some((m) => m.initial) ? true : null), 'the watch snapshot');
      expect(watched[0]!.account).toMatchObject({ accountId: accountId2, runStatus: RunStatus.RUN_STATUS_IDLE });
      await waitFor(
        async () =>
          (await env.registry.getSingleMetric('intellifin_sync_api_status_subscribers')?.get())?.values[0]?.value === 2 ? true : null,
        'both live subscriptions',
      );
      // No worker while the command is queued (the first test's worker is stopped).
      await worker?.stop(2_000);
      worker = undefined;

      const trig = await unary<object, TriggerSyncResponse>(
        g.client,
        'triggerSync',
        { accountId: accountId2, mode: SyncMode.SYNC_MODE_FULL },
        md(),
      );
      expect(trig.err).toBeNull();
      const commandId = trig.res!.command!.commandId;
      const grpcStatus = async () =>
        (await unary<object, GetAccountStatusResponse>(g.client, 'getAccountStatus', { accountId: accountId2 }, md())).res!.account!;
      expect(await grpcStatus()).toMatchObject({ runStatus: RunStatus.RUN_STATUS_QUEUED, queuedCommandId: commandId });
      // The request is on the watch stream before any worker runs: queued, the account's run queued.
      const queuedChange = await waitFor(
        async () => watched.find((m) => m.change?.kind === SyncStatusChangeKind.SYNC_STATUS_CHANGE_KIND_QUEUED) ?? null,
        'the queued change',
      );
      expect(queuedChange.change).toMatchObject({ accountId: accountId2, commandId, runId: '' });
      expect(queuedChange.change!.statusAfter).toBe(AccountStatus.ACCOUNT_STATUS_UNSPECIFIED);
      expect(queuedChange.account).toMatchObject({ runStatus: RunStatus.RUN_STATUS_QUEUED, queuedCommandId: commandId });

      await startWorker();
      const seen: RunStatus[] = [RunStatus.RUN_STATUS_QUEUED];
      const done = await waitFor(async () => {
        const st = await grpcStatus();
        if (seen[seen.length - 1] !== st.runStatus) seen.push(st.runStatus);
        return st.lastSuccessAt ? st : null;
      }, 'the gRPC-triggered sync to succeed');
      expect([
        [RunStatus.RUN_STATUS_QUEUED, RunStatus.RUN_STATUS_IDLE],
        [RunStatus.RUN_STATUS_QUEUED, RunStatus.RUN_STATUS_RUNNING, RunStatus.RUN_STATUS_IDLE],
      ]).toContainEqual(seen);
      expect(done).toMatchObject({
        connectionHealth: ConnectionHealth.CONNECTION_HEALTH_OK,
        dataCompleteness: DataCompleteness.DATA_COMPLETENESS_HISTORY_COMPLETE,
        lastErrorCode: '',
      });
      const served = await servedNow(providerId2);
      expect(served).toBeGreaterThan(0);

      // The watch stream: the run's end, with the counts, and the account after it.
      const change = await waitFor(
        async () => watched.find((m) => m.change?.kind === SyncStatusChangeKind.SYNC_STATUS_CHANGE_KIND_RUN_FINISHED) ?? null,
        'the watch change',
      );
      expect(change.change).toMatchObject({
        accountId: accountId2,
        commandId,
        outcome: RunOutcome.RUN_OUTCOME_SUCCEEDED,
        counts: { added: served, modified: 0 },
        statusAfter: AccountStatus.ACCOUNT_STATUS_ACTIVE,
      });
      expect(change.account).toMatchObject({ accountId: accountId2, runStatus: RunStatus.RUN_STATUS_IDLE });
      expect(change.account!.lastSuccessAt).toBeInstanceOf(Date);

      // The whole life of the command on the stream, in order: queued → run_started → run_finished.
      const changes = watched.filter((m) => m.change).map((m) => m.change!);
      expect(changes.map((c) => c.kind)).toEqual([
        SyncStatusChangeKind.SYNC_STATUS_CHANGE_KIND_QUEUED,
        SyncStatusChangeKind.SYNC_STATUS_CHANGE_KIND_RUN_STARTED,
        SyncStatusChangeKind.SYNC_STATUS_CHANGE_KIND_RUN_FINISHED,
      ]);
      expect(changes.map((c) => c.commandId)).toEqual([commandId, commandId, commandId]);
      expect(changes[1]!.runId).toBe(change.change!.runId);
      expect(changes.map((c) => Number(c.eventId))).toEqual([...changes.map((c) => Number(c.eventId))].sort((a, b) => a - b));

      // SSE: the same events, same ids, same order.
      const sseLife = await waitFor(async () => {
        const life = sse.events.filter((e) => ['queued', 'run_started', 'run_finished'].includes(e.event ?? ''));
        return life.length >= 3 ? life : null;
      }, 'the SSE events');
      expect(sseLife.map((e) => e.event)).toEqual(['queued', 'run_started', 'run_finished']);
      expect(sseLife.map((e) => e.id)).toEqual(changes.map((c) => c.eventId));
      expect(JSON.parse(sseLife[0]!.data!)).toMatchObject({
        kind: 'queued',
        accountId: accountId2,
        commandId,
        runId: null,
        statusAfter: null,
      });
      expect(JSON.parse(sseLife[1]!.data!)).toMatchObject({
        kind: 'run_started',
        accountId: accountId2,
        commandId,
        runId: change.change!.runId,
        statusAfter: null,
      });
      const event = await waitFor(async () => sse.events.find((e) => e.event === 'run_finished') ?? null, 'the SSE event');
      expect(event.id).toBe(change.change!.eventId);
      expect(JSON.parse(event.data!)).toMatchObject({
        accountId: accountId2,
        outcome: 'succeeded',
        counts: { added: served, modified: 0 },
      });

      // The run over gRPC and REST.
      const runs = await unary<object, ListSyncRunsResponse>(
        g.client,
        'listSyncRuns',
        { accountId: accountId2, trigger: SyncTrigger.SYNC_TRIGGER_MANUAL },
        md(),
      );
      expect(runs.res!.runs).toHaveLength(1);
      const run = await unary<object, GetSyncRunResponse>(
        g.client,
        'getSyncRun',
        { accountId: accountId2, runId: runs.res!.runs[0]!.runId },
        md(),
      );
      expect(run.res!.run).toMatchObject({
        commandId,
        trigger: SyncTrigger.SYNC_TRIGGER_MANUAL,
        mode: SyncMode.SYNC_MODE_FULL,
        outcome: RunOutcome.RUN_OUTCOME_SUCCEEDED,
        counts: { added: served, modified: 0 },
        worker: 'e2e-worker',
        inProgress: false,
      });
      expect(run.res!.run!.runId).toBe(change.change!.runId);
      const rest = (await env.http({ url: `/v1/accounts/${accountId2}/sync-status`, headers: bearer(user) })).json();
      expect(rest).toMatchObject({
        run: { status: 'idle' },
        data: { completeness: 'history_complete' },
        lastSuccessAt: done.lastSuccessAt!.toISOString(),
      });
    } finally {
      watch.cancel();
      sse.close();
      g.close();
    }
  });
});
