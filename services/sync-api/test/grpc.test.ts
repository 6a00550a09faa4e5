import { tmpdir } from 'node:os';
import { credentials, status, type ClientReadableStream } from '@grpc/grpc-js';
import { Publisher } from '@intellifin/messaging';
import {
  AccountStatus,
  ConnectionHealth,
  DataCompleteness,
  Provider,
  RunState,
  RunStatus,
  SyncMode,
  SyncServiceClient,
  SyncStatusChangeKind,
  SyncTrigger,
  type CancelSyncResponse,
  type GetAccountStatusResponse,
  type GetSyncRunResponse,
  type GetQueueStatsResponse,
  type ListAccountStatusesResponse,
  type ListSyncRunsResponse,
  type TriggerSyncResponse,
  type WatchSyncStatusResponse,
} from '@intellifin/proto';
import { waitFor } from '@intellifin/testing';
import { findProtoRoot } from '../src/grpc/descriptor';
import { GrpcTransport } from '../src/grpc/server';
import { JwtVerifier } from '../src/http/auth';
import { AUDIENCE, ISSUER, JWT_SECRET, logger, seedOrg, startApi, token, unsignedToken, type ApiEnv, type Org } from './helpers';
import { auth, healthCheck, metadata, publishEvent, reflect, startGrpc, unary, type GrpcEnv } from './grpc-helpers';

/**
 * The gRPC transport against real Postgres (as intellifin_api), Redis and NATS: every method,
 * negative auth, cross-org and owner scoping, INVALID_ARGUMENT per field, rate limiting,
 * the watch stream, health and reflection.
 */
describe('sync-api gRPC', () => {
  let env: ApiEnv;
  let g: GrpcEnv;
  let a: Org;
  let b: Org;
  let userA: string;
  let adminA: string;
  let userB: string;
  let publisher: Publisher;

  beforeAll(async () => {
    env = await startApi();
    g = await startGrpc(env);
    a = await seedOrg(env.db, 'Org A', 2);
    b = await seedOrg(env.db, 'Org B', 1);
    userA = await token({ orgId: a.orgId, sub: 'user-1' });
    adminA = await token({ orgId: a.orgId, sub: 'admin-1', roles: ['admin'] });
    userB = await token({ orgId: b.orgId, sub: 'user-1' });
    publisher = new Publisher({ nc: env.nc, topology: env.topology });
    // user-1 of org A owns a.accounts[0..1]; user-2 owns [2..3].
    await env.db.pool.query(
      `INSERT INTO sync_runs (org_id, account_id, provider, trigger, mode, fence, outcome, started_at, finished_at, pages, added, trace_id, worker, error_kind, error_code)
       SELECT $1, $2, 'mono', CASE WHEN i % 3 = 0 THEN 'manual' ELSE 'scheduled' END, 'transactions', i,
              CASE WHEN i % 2 = 0 THEN 'succeeded' ELSE 'failed' END,
              timestamptz '2026-03-01T00:00:00Z' + make_interval(mins => i), timestamptz '2026-03-01T00:00:30Z' + make_interval(mins => i),
              i, i * 10, 'trace-' || i, 'mono-worker@test',
              CASE WHEN i % 2 = 1 THEN 'retryable' END, CASE WHEN i % 2 = 1 THEN 'timeout' END
         FROM generate_series(1, 25) AS i`,
      [a.orgId, a.accounts[1]],
    );
  });
  afterAll(async () => {
    g?.close();
    await env?.close();
  });

  const call = <Res>(method: string, req: object, md = auth(userA)) => unary<object, Res>(g.client, method, req, md);

  describe('authentication', () => {
    it('every method answers UNAUTHENTICATED to a missing, malformed, expired, wrong-key, wrong-audience or alg-none token', async () => {
      const id = a.accounts[0]!;
      const requests: [string, object][] = [
        ['getAccountStatus', { accountId: id }],
        ['listAccountStatuses', {}],
        ['triggerSync', { accountId: id }],
        ['cancelSync', { accountId: id }],
        ['listSyncRuns', { accountId: id }],
        ['getSyncRun', { accountId: id, runId: id }],
      ];
      const tokens: [string, ReturnType<typeof metadata>][] = [
        ['missing', metadata()],
        ['not bearer', metadata({ authorization: 'Basic dXNlcjpwYXNz' })],
        ['garbage', auth('not-a-jwt')],
        ['expired', auth(await token({ orgId: a.orgId, expiresIn: Math.floor(Date.now() / 1000) - 60 }))],
        ['wrong key', auth(await token({ orgId: a.orgId, secret: 'another-secret-that-is-32-characters-or-more' }))],
        ['audience', auth(await token({ orgId: a.orgId, audience: 'someone-else' }))],
        ['alg none', auth(unsignedToken(a.orgId))],
      ];
      for (const [method, req] of requests)
        for (const [name, md] of tokens) {
          const r = await call(method, req, md);
          expect([method, name, r.err?.code]).toEqual([method, name, status.UNAUTHENTICATED]);
        }
      const expired = await call('getAccountStatus', { accountId: id }, tokens[3]![1]);
      expect(expired.err?.details).toMatch(/expired/);
      // The watch stream too.
      const err = await new Promise<{ code: number }>((resolve) => {
        const s = g.client.watchSyncStatus({ accountIds: [], providers: [], sendInitial: false }, auth(unsignedToken(a.orgId)));
        s.on('error', resolve);
        s.on('data', () => undefined);
      });
      expect(err.code).toBe(status.UNAUTHENTICATED);
    });
  });

  describe('reads', () => {
    it('GetAccountStatus: own account with the three statuses; another org or another user is NOT_FOUND', async () => {
      const own = await call<GetAccountStatusResponse>('getAccountStatus', { accountId: a.accounts[0] });
      expect(own.err).toBeNull();
      expect(own.res!.account).toMatchObject({
        accountId: a.accounts[0],
        orgId: a.orgId,
        provider: Provider.PROVIDER_MONO,
        providerLabel: 'Mono',
        status: AccountStatus.ACCOUNT_STATUS_ACTIVE,
        connectionHealth: ConnectionHealth.CONNECTION_HEALTH_OK,
        runStatus: RunStatus.RUN_STATUS_IDLE,
        dataCompleteness: DataCompleteness.DATA_COMPLETENESS_NOT_READY,
      });
      const cross = await call('getAccountStatus', { accountId: b.accounts[0] });
      expect(cross.err?.code).toBe(status.NOT_FOUND);
      expect(cross.err?.details).toBe('account not found');
      const otherUser = await call('getAccountStatus', { accountId: a.accounts[2] });
      expect(otherUser.err?.code).toBe(status.NOT_FOUND);
      const asAdmin = await call('getAccountStatus', { accountId: a.accounts[2] }, auth(adminA));
      expect(asAdmin.err).toBeNull();
    });

    it('ListAccountStatuses: a user sees their own, an admin the org, filters by provider and status', async () => {
      const mine = await call<ListAccountStatusesResponse>('listAccountStatuses', {});
      expect(mine.res!.accounts.map((x) => x.accountId).sort()).toEqual(a.accounts.slice(0, 2).sort());
      const all = await call<ListAccountStatusesResponse>('listAccountStatuses', {}, auth(adminA));
      expect(all.res!.accounts.map((x) => x.accountId).sort()).toEqual([...a.accounts].sort());
      const momo = await call<ListAccountStatusesResponse>('listAccountStatuses', { providers: [Provider.PROVIDER_MOMO] }, auth(adminA));
      expect(momo.res!.accounts).toEqual([]);
      const active = await call<ListAccountStatusesResponse>(
        'listAccountStatuses',
        { statuses: [AccountStatus.ACCOUNT_STATUS_ACTIVE] },
        auth(adminA),
      );
      expect(active.res!.accounts).toHaveLength(4);
      const orgB = await call<ListAccountStatusesResponse>('listAccountStatuses', {}, auth(userB));
      expect(orgB.res!.accounts.map((x) => x.accountId)).toEqual([b.accounts[0]]);
    });

    it('ListSyncRuns: newest first, state and trigger filters, time range, page tokens to the end', async () => {
      const acct = a.accounts[1]!;
      const seen: string[] = [];
      let pageToken = '';
      for (let pages = 0; pages < 10; pages++) {
        const r = await call<ListSyncRunsResponse>('listSyncRuns', { accountId: acct, pageSize: 10, pageToken });
        expect(r.err).toBeNull();
        seen.push(...r.res!.runs.map((x) => x.runId));
        pageToken = r.res!.nextPageToken;
        if (!pageToken) break;
      }
      expect(seen).toHaveLength(25);
      expect(new Set(seen).size).toBe(25);
      const first = await call<ListSyncRunsResponse>('listSyncRuns', { accountId: acct, pageSize: 3 });
      expect(first.res!.runs.map((r) => r.pages)).toEqual([25, 24, 23]);
      expect(first.res!.runs[0]).toMatchObject({
        trigger: SyncTrigger.SYNC_TRIGGER_SCHEDULED,
        counts: { added: 250 },
        traceId: 'trace-25',
        errorCode: 'timeout',
        inProgress: false,
      });
      const failedManual = await call<ListSyncRunsResponse>('listSyncRuns', {
        accountId: acct,
        state: RunState.RUN_STATE_FAILED,
        trigger: SyncTrigger.SYNC_TRIGGER_MANUAL,
      });
      expect(failedManual.res!.runs.map((r) => r.pages)).toEqual([21, 15, 9, 3]);
      const window = await call<ListSyncRunsResponse>('listSyncRuns', {
        accountId: acct,
        startedFrom: new Date('2026-03-01T00:05:00Z'),
        startedBefore: new Date('2026-03-01T00:08:00Z'),
      });
      expect(window.res!.runs.map((r) => r.pages)).toEqual([7, 6, 5]);
      const cross = await call('listSyncRuns', { accountId: b.accounts[0] });
      expect(cross.err?.code).toBe(status.NOT_FOUND);
    });

    it('GetSyncRun: one run in full; another org or a run of another account is NOT_FOUND', async () => {
      const list = await call<ListSyncRunsResponse>('listSyncRuns', { accountId: a.accounts[1], pageSize: 1 });
      const runId = list.res!.runs[0]!.runId;
      const one = await call<GetSyncRunResponse>('getSyncRun', { accountId: a.accounts[1], runId });
      expect(one.res!.run).toMatchObject({ runId, worker: 'mono-worker@test', pages: 25, finishedAt: new Date('2026-03-01T00:25:30Z') });
      expect((await call('getSyncRun', { accountId: a.accounts[0], runId })).err?.code).toBe(status.NOT_FOUND);
      expect((await call('getSyncRun', { accountId: a.accounts[1], runId }, auth(userB))).err?.code).toBe(status.NOT_FOUND);
    });
  });

  describe('validation', () => {
    it('answers INVALID_ARGUMENT naming each bad field', async () => {
      const cases: [string, object, RegExp][] = [
        ['getAccountStatus', { accountId: 'nope' }, /^account_id: /],
        ['getAccountStatus', {}, /^account_id: /],
        ['listAccountStatuses', { providers: [42] }, /^providers\.0: not a known Provider/],
        ['listAccountStatuses', { statuses: [0] }, /^statuses\.0: not a known AccountStatus/],
        ['triggerSync', { accountId: a.accounts[0], mode: 9 }, /^mode: not a known SyncMode/],
        ['cancelSync', { accountId: 'x'.repeat(5000) }, /^account_id: /],
        ['listSyncRuns', { accountId: a.accounts[1], pageSize: 101 }, /^page_size: /],
        ['listSyncRuns', { accountId: a.accounts[1], pageSize: -1 }, /^page_size: /],
        ['listSyncRuns', { accountId: a.accounts[1], pageToken: 'garbage' }, /^page_token: not a token/],
        ['listSyncRuns', { accountId: a.accounts[1], state: 99 }, /^state: /],
        ['listSyncRuns', { accountId: a.accounts[1], trigger: 77 }, /^trigger: /],
        [
          'listSyncRuns',
          { accountId: a.accounts[1], startedFrom: new Date('2026-03-02T00:00:00Z'), startedBefore: new Date('2026-03-01T00:00:00Z') },
          /^started_before: must be after started_from/,
        ],
        ['getSyncRun', { accountId: a.accounts[1], runId: 'r' }, /^run_id: /],
      ];
      for (const [method, req, message] of cases) {
        const r = await call(method, req);
        expect([method, r.err?.code]).toEqual([method, status.INVALID_ARGUMENT]);
        expect(r.err?.details).toMatch(message);
      }
      const badKey = await call('triggerSync', { accountId: a.accounts[0] }, auth(userA, { 'idempotency-key': 'has space' }));
      expect(badKey.err?.code).toBe(status.INVALID_ARGUMENT);
      expect(badKey.err?.details).toMatch(/^idempotency-key: /);
    });
  });

  describe('triggers', () => {
    it('TriggerSync queues on the priority lane, replays by idempotency key, coalesces, then RESOURCE_EXHAUSTED with retry info', async () => {
      const id = a.accounts[0]!;
      const first = await call<TriggerSyncResponse>(
        'triggerSync',
        { accountId: id, mode: SyncMode.SYNC_MODE_FULL },
        auth(userA, { 'idempotency-key': 'k-1' }),
      );
      expect(first.err).toBeNull();
      expect(first.res).toMatchObject({
        replayed: false,
        command: {
          accountId: id,
          provider: Provider.PROVIDER_MONO,
          trigger: SyncTrigger.SYNC_TRIGGER_MANUAL,
          mode: SyncMode.SYNC_MODE_FULL,
          lane: 'priority',
          coalesced: false,
        },
      });
      const again = await call<TriggerSyncResponse>(
        'triggerSync',
        { accountId: id, mode: SyncMode.SYNC_MODE_FULL },
        auth(userA, { 'idempotency-key': 'k-1' }),
      );
      expect(again.res).toMatchObject({ replayed: true, command: { commandId: first.res!.command!.commandId } });
      const reused = await call(
        'triggerSync',
        { accountId: id, mode: SyncMode.SYNC_MODE_BALANCE },
        auth(userA, { 'idempotency-key': 'k-1' }),
      );
      expect(reused.err?.code).toBe(status.FAILED_PRECONDITION);
      const covered = await call<TriggerSyncResponse>('triggerSync', { accountId: id });
      expect(covered.res).toMatchObject({ replayed: false, command: { coalesced: true, commandId: first.res!.command!.commandId } });
      // REST sees the same queued command.
      const rest = (await env.http({ url: `/v1/accounts/${id}/sync-status`, headers: { authorization: `Bearer ${userA}` } })).json();
      expect(rest.run).toMatchObject({ status: 'queued', commandId: first.res!.command!.commandId });

      // Cancel the queued one; a new request is then rate-limited.
      const cancelled = await call<CancelSyncResponse>('cancelSync', { accountId: id });
      expect(cancelled.res).toMatchObject({ accountId: id, cancelledQueued: 1, runningCancelRequested: false });
      const limited = await call('triggerSync', { accountId: id });
      expect(limited.err?.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(Number(limited.err!.metadata.get('retry-after')[0])).toBeGreaterThan(0);
      expect(String(limited.err!.metadata.get('next-allowed-at')[0])).toMatch(/^\d{4}-\d\d-\d\dT/);
    });

    it('TriggerSync and CancelSync on another org or user are NOT_FOUND; an unlinked account is FAILED_PRECONDITION', async () => {
      expect((await call('triggerSync', { accountId: b.accounts[0] })).err?.code).toBe(status.NOT_FOUND);
      expect((await call('triggerSync', { accountId: a.accounts[2] })).err?.code).toBe(status.NOT_FOUND);
      expect((await call('cancelSync', { accountId: b.accounts[0] })).err?.code).toBe(status.NOT_FOUND);
      await env.db.pool.query(`UPDATE accounts SET status = 'disabled' WHERE id = $1`, [a.accounts[3]]);
      const unlinked = await call('triggerSync', { accountId: a.accounts[3] }, auth(adminA));
      expect(unlinked.err?.code).toBe(status.FAILED_PRECONDITION);
      expect(unlinked.err?.details).toMatch(/^account_unlinked: /);
    });

    it('GetQueueStats: each provider lane for operators and admins, PERMISSION_DENIED for a user', async () => {
      expect((await call('getQueueStats', {})).err?.code).toBe(status.PERMISSION_DENIED);
      const all = await call<GetQueueStatsResponse>('getQueueStats', {}, auth(adminA));
      expect(all.err).toBeNull();
      expect(all.res!.lanes.map((l) => `${l.provider}/${l.lane}`).sort()).toEqual(
        [Provider.PROVIDER_MONO, Provider.PROVIDER_MOMO, Provider.PROVIDER_AIRTEL].flatMap((p) => [`${p}/bulk`, `${p}/priority`]).sort(),
      );
      expect(all.res!.asOf).toBeInstanceOf(Date);
      const momo = await call<GetQueueStatsResponse>('getQueueStats', { providers: [Provider.PROVIDER_MOMO] }, auth(adminA));
      expect(momo.res!.lanes.map((l) => l.lane).sort()).toEqual(['bulk', 'priority']);
      expect(momo.res!.lanes.every((l) => l.provider === Provider.PROVIDER_MOMO && l.consumer.length > 0)).toBe(true);
      expect((await call('getQueueStats', { providers: [99] }, auth(adminA))).err?.code).toBe(status.INVALID_ARGUMENT);
    });
  });

  describe('WatchSyncStatus', () => {
    it('sends the initial state, then changes of the caller\u2019s accounts only, each with the account after it', async () => {
      const got: WatchSyncStatusResponse[] = [];
      const stream: ClientReadableStream<WatchSyncStatusResponse> = g.client.watchSyncStatus(
        { accountIds: [], providers: [], sendInitial: true },
        auth(userA),
      );
      stream.on('data', (m: WatchSyncStatusResponse) => got.push(m));
      stream.on('error', () => undefined);
      await waitFor(async () => (got.filter((m) => m.initial).length === 2 ? true : null), 'initial snapshot');
      expect(got.map((m) => m.account!.accountId).sort()).toEqual(a.accounts.slice(0, 2).sort());

      // Another org's account, another user's account, then the caller's own.
      await publishEvent(publisher, env.topology, 'run', { accountId: b.accounts[0]!, orgId: b.orgId });
      await publishEvent(publisher, env.topology, 'run', { accountId: a.accounts[2]!, orgId: a.orgId });
      const seq = await publishEvent(publisher, env.topology, 'run', { accountId: a.accounts[0]!, orgId: a.orgId, added: 7 });
      await publishEvent(publisher, env.topology, 'auth', { accountId: a.accounts[1]!, orgId: a.orgId, reason: 'consent_revoked' });
      await waitFor(async () => (got.length >= 4 ? true : null), 'two changes');
      const changes = got.filter((m) => !m.initial);
      expect(changes.map((m) => [m.change!.accountId, m.change!.kind])).toEqual([
        [a.accounts[0], SyncStatusChangeKind.SYNC_STATUS_CHANGE_KIND_RUN_FINISHED],
        [a.accounts[1], SyncStatusChangeKind.SYNC_STATUS_CHANGE_KIND_REAUTH_REQUIRED],
      ]);
      expect(changes[0]!.change).toMatchObject({ eventId: String(seq), counts: { added: 7, modified: 1 } });
      expect(changes[0]!.account!.accountId).toBe(a.accounts[0]);
      stream.cancel();
    });

    it('filters by account and provider; validates its request', async () => {
      const bad = await new Promise<{ code: number; details: string }>((resolve) => {
        const s = g.client.watchSyncStatus({ accountIds: ['nope'], providers: [], sendInitial: false }, auth(userA));
        s.on('error', resolve);
        s.on('data', () => undefined);
      });
      expect(bad.code).toBe(status.INVALID_ARGUMENT);
      expect(bad.details).toMatch(/^account_ids\.0: /);

      const got: WatchSyncStatusResponse[] = [];
      const s = g.client.watchSyncStatus({ accountIds: [a.accounts[1]!], providers: [], sendInitial: false }, auth(adminA));
      s.on('data', (m: WatchSyncStatusResponse) => got.push(m));
      s.on('error', () => undefined);
      await waitFor(
        async () => ((await env.registry.getSingleMetric('intellifin_sync_api_status_subscribers')?.get())?.values[0]?.value ? true : null),
        'subscribed',
      );
      await publishEvent(publisher, env.topology, 'run', { accountId: a.accounts[0]!, orgId: a.orgId });
      await publishEvent(publisher, env.topology, 'run', {
        accountId: a.accounts[1]!,
        orgId: a.orgId,
        outcome: 'failed',
        errorCode: 'timeout',
      });
      await waitFor(async () => (got.length >= 1 ? true : null), 'the filtered change');
      expect(got).toHaveLength(1);
      expect(got[0]!.change).toMatchObject({ accountId: a.accounts[1], errorCode: 'timeout' });
      s.cancel();
    });
  });

  describe('transport lifecycle', () => {
    it('health follows readiness; stop ends open calls by force after the deadline', async () => {
      let ready = false;
      const t = new GrpcTransport({
        api: env.parts.api,
        ops: env.parts.ops,
        verifier: new JwtVerifier({ issuer: ISSUER, audience: AUDIENCE, secret: JWT_SECRET, clockToleranceS: 5 }),
        feed: env.parts.feed,
        logger: logger(),
        readiness: async () => ready,
        healthPollMs: 50,
      });
      const address = `127.0.0.1:${await t.listen('127.0.0.1', 0)}`;
      expect((await healthCheck(address)).status).toBe('NOT_SERVING');
      ready = true;
      await waitFor(async () => ((await healthCheck(address)).status === 'SERVING' ? true : null), 'SERVING once ready');
      expect((await healthCheck(address, 'intellifin.sync.v1.SyncService')).status).toBe('SERVING');
      ready = false;
      await waitFor(async () => ((await healthCheck(address)).status === 'NOT_SERVING' ? true : null), 'NOT_SERVING when unready');

      // An open watch keeps tryShutdown waiting: stop forces it after the deadline.
      const client = new SyncServiceClient(address, credentials.createInsecure());
      const watch = client.watchSyncStatus({ accountIds: [], providers: [], sendInitial: true }, auth(userA));
      const ended = new Promise<number>((resolve) => watch.on('error', (e: { code: number }) => resolve(e.code)));
      const first = new Promise<void>((resolve) => watch.once('data', () => resolve()));
      await first;
      await t.stop(300);
      expect([status.CANCELLED, status.UNAVAILABLE]).toContain(await ended);
      client.close();
    });

    it('finds the .proto sources from the module, or at PROTO_DIR', () => {
      expect(findProtoRoot()).toMatch(/proto$/);
      expect(() => findProtoRoot(tmpdir(), {})).toThrow(/cannot find proto/);
      expect(() => findProtoRoot(__dirname, { PROTO_DIR: tmpdir() })).toThrow(/PROTO_DIR/);
      expect(findProtoRoot(tmpdir(), { PROTO_DIR: findProtoRoot() })).toBe(findProtoRoot());
    });
  });

  describe('health and reflection', () => {
    it('grpc.health.v1 answers SERVING for the server and the service; unknown services are NOT_FOUND', async () => {
      expect(await healthCheck(g.address)).toEqual({ err: null, status: 'SERVING' });
      expect(await healthCheck(g.address, 'intellifin.sync.v1.SyncService')).toEqual({ err: null, status: 'SERVING' });
      expect((await healthCheck(g.address, 'no.such.Service')).err?.code).toBe(status.NOT_FOUND);
    });

    it('server reflection lists the services and serves the descriptors (grpcurl needs no .proto files)', async () => {
      const list = await reflect(g.address, { list_services: '' });
      const names = list.list_services_response.service.map((s: { name: string }) => s.name);
      expect(names).toEqual(expect.arrayContaining(['intellifin.sync.v1.SyncService', 'grpc.health.v1.Health']));
      const file = await reflect(g.address, { file_containing_symbol: 'intellifin.sync.v1.SyncService' });
      const descriptors: Buffer[] = file.file_descriptor_response.file_descriptor_proto;
      expect(descriptors.length).toBeGreaterThan(0);
      expect(Buffer.concat(descriptors).toString('latin1')).toContain('WatchSyncStatus');
    });
  });
});
