import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats, createTopology, deleteTopology, ensureTopology } from '@intellifin/messaging';
import { insertAccount, insertOrganization, insertUser } from '@intellifin/persistence';
import { startMono, type RunningSimulator } from '@intellifin/sandbox';
import { infrastructureUrls, uniqueSuffix, waitFor } from '@intellifin/testing';
import type { MonoWorker } from '@intellifin/mono-worker/src/app';
import { bearer, startApi, token, type ApiEnv } from './helpers';
import { startMonoWorker } from './mono-worker.helpers';

/**
 * Mono re-auth end to end: the Mono simulator, sync-api (webhook ingress and processor, internal
 * routes, outbox relay) and an in-process mono-worker over real NATS, Redis and Postgres.
 * active → (consent revoked at Mono, a worker run) auth_required → (the user completes the re-link
 * URL the worker stored; Mono fires account_reauthorized and account_updated to our webhook URL)
 * active, with a `repaired` auth event and a sync (trigger repair) that succeeds after the repair.
 */
const SECRET = 'e2e-mono-webhook-secret';
const SERVICE_TOKEN = 'service-token-for-tests-at-least-32-chars';

describe('Mono re-auth end to end (Mono sandbox → webhook → sync-api → NATS → mono-worker)', () => {
  let mono: RunningSimulator<unknown>;
  let env: ApiEnv;
  let worker: MonoWorker | undefined;
  let accountId: string;
  let orgId: string;
  let providerId: string;
  const topology = createTopology({ namespace: `t${uniqueSuffix()}` });

  beforeAll(async () => {
    const nc = await connectNats({ servers: infrastructureUrls().natsUrl, name: 'sync-api-reauth-e2e' });
    await ensureTopology(await jetstreamManager(nc), topology);
    env = await startApi({ topology, nc, config: { MONO_WEBHOOK_SECRET: SECRET, WEBHOOK_POLL_MS: '200' } });
    mono = await startMono({
      port: 0,
      seed: 17,
      epoch: '2026-03-02T00:00:00.000Z',
      clock: 'manual',
      accounts: 2,
      transactionsPerAccount: 8,
      webhookUrl: `${env.baseUrl}/webhooks/mono`,
      webhookSecret: SECRET,
    });
    orgId = await insertOrganization(env.db.pool, 'Re-auth org');
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
    worker = await startMonoWorker({ nc: env.nc, topology: topology, db: env.db, redis: env.redis, mono, workerId: 'reauth-e2e-worker' });
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

  const account = async () =>
    (
      await env.db.pool.query<{ status: string; reauth_url: string | null }>('SELECT status, reauth_url FROM accounts WHERE id = $1', [
        accountId,
      ])
    ).rows[0]!;
  const runs = async () =>
    (
      await env.db.pool.query<{ trigger: string; outcome: string; error_code: string | null }>(
        'SELECT trigger, outcome, error_code FROM sync_runs WHERE account_id = $1 ORDER BY started_at',
        [accountId],
      )
    ).rows;
  const background = () =>
    env.http({
      method: 'POST',
      url: '/internal/v1/sync/background',
      headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
      payload: { orgId, accountIds: [accountId], requestedBy: 'e2e' },
    });

  it('active → auth_required after a worker run → account_reauthorized webhook → active, repaired event, and a sync after the repair', async () => {
    // A first background sync: the account works.
    expect((await background()).json()).toMatchObject({ queued: 1 });
    await waitFor(async () => (await runs()).some((r) => r.outcome === 'succeeded'), 'the first sync');
    expect((await account()).status).toBe('active');

    // The user's consent lapses at Mono (no webhook: the worker finds out on its next run; Mono keeps
    // serving its frozen copy, so the run that finds out is a real-time one: "Sync now" with realtime).
    const revoke = await fetch(`${mono.url}/__sandbox/accounts/${providerId}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'reauth', notify: false }),
    });
    expect(revoke.status).toBeLessThan(300);
    const user = await token({ orgId, sub: 'user-1' });
    const now = await env.http({
      method: 'POST',
      url: `/v1/accounts/${accountId}/sync`,
      headers: bearer(user),
      payload: { realtime: true },
    });
    expect(now.statusCode).toBe(202);
    const broken = await waitFor(async () => {
      const a = await account();
      return a.status === 'auth_required' ? a : null;
    }, 'auth_required after a run');
    expect((await runs()).at(-1)).toMatchObject({ trigger: 'manual', outcome: 'failed', error_code: 'REAUTHORISATION_REQUIRED' });
    expect(broken.reauth_url).toMatch(/\/__sandbox\/link\//);
    const runsBeforeRepair = (await runs()).length;

    // Watch the auth events sync-api publishes (the notifier's input).
    const authEvents: { kind: string; runId: string }[] = [];
    const sub = env.nc.subscribe(topology.eventSubject('auth', 'mono', accountId));
    void (async () => {
      for await (const m of sub) authEvents.push(m.json());
    })();

    // The user completes the re-link URL: Mono fires account_reauthorized, then account_updated.
    const done = await fetch(`${broken.reauth_url}/complete`, { method: 'POST' });
    expect(done.status).toBe(200);
    await mono.core.outbox.idle();
    const sent = mono.core.outbox.list().filter((d) => d.account === providerId && d.kind.includes('reauthorized'));
    expect(sent.map((d) => d.attempts.map((a) => a.status))).toEqual([[200]]);

    const repaired = await waitFor(async () => {
      const r = await runs();
      return r.length > runsBeforeRepair && r.at(-1)!.outcome === 'succeeded' ? r : null;
    }, 'a sync after the repair');
    // The repair's sync first; a webhook sync may follow (see account_updated below).
    const after = repaired.slice(runsBeforeRepair).map((r) => [r.trigger, r.outcome]);
    expect(after[0]).toEqual(['repair', 'succeeded']);
    expect(after.slice(1).every(([trigger]) => trigger === 'webhook')).toBe(true);
    expect((await account()).status).toBe('active');
    await waitFor(() => authEvents.some((e) => e.kind === 'repaired'), 'the repaired auth event');
    sub.unsubscribe();
    // One repaired event, from the webhook's repair (the engine's repair rule does not fire again:
    // the repair sync found the account active). The worker's reauth_required may arrive late too.
    expect(authEvents.filter((e) => e.kind === 'repaired').map((e) => e.runId)).toEqual([expect.stringMatching(/^webhook:/)]);

    const evts = await env.db.pool.query<{ event_type: string; state: string; outcome: string }>(
      "SELECT event_type, state, outcome FROM webhook_events WHERE provider = 'mono' AND account_ref = $1 ORDER BY id",
      [providerId],
    );
    // Before: the failed real-time job's webhooks (jobs.update, account_updated REAUTHORISATION_REQUIRED,
    // reauthorisation_required), which found the account auth_required already (or made it so first).
    const from = evts.rows.findIndex((e) => e.event_type === 'mono.events.account_reauthorized');
    expect(evts.rows.slice(0, from).every((e) => e.state === 'done')).toBe(true);
    expect(evts.rows.slice(from)).toEqual([
      { event_type: 'mono.events.account_reauthorized', state: 'done', outcome: 'repaired' },
      // account_updated (AVAILABLE) right after: the repair's sync covers it while still queued
      // (coalesced); once that run has started, the data may be newer than it, so a sync is queued.
      { event_type: 'mono.events.account_updated', state: 'done', outcome: expect.stringMatching(/^(coalesced|queued_sync)$/) },
    ]);
  });
});
